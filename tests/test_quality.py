"""The code stays lint- and type-clean: ruff on the tree, mypy (strict) on the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is installed with '.[test]'")
def test_ruff_is_clean() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean() -> None:
    result = run(sys.executable, "-m", "mypy")
    assert result.returncode == 0, result.stdout + result.stderr


#: The engine is a facade over one module per part (mediation_flow/engine/__init__.py): each
#: stays a module a newcomer reads in one sitting.
ENGINE_MODULE_LINES = 700


def test_each_part_of_the_engine_stays_readable_in_one_sitting() -> None:
    parts = sorted((ROOT / "mediation_flow" / "engine").glob("*.py"))
    assert len(parts) >= 8, "the engine's parts are modules of mediation_flow/engine/"
    long = {
        p.name: n
        for p in parts
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > ENGINE_MODULE_LINES
    }
    assert not long, (
        f"engine modules over {ENGINE_MODULE_LINES} lines: {long}; split the part along its "
        "seams (mediation_flow/engine/__init__.py lists them) instead of growing it"
    )


def test_every_engine_part_is_part_of_the_facade() -> None:
    """A part (an EngineCore class of mediation_flow.engine.*) that Engine does not inherit is
    dead code."""
    import importlib
    import inspect

    from mediation_flow import Engine
    from mediation_flow.engine.core import EngineCore

    found = []
    for path in (ROOT / "mediation_flow" / "engine").glob("*.py"):
        dotted = (
            "mediation_flow.engine"
            if path.stem == "__init__"
            else f"mediation_flow.engine.{path.stem}"
        )
        module = importlib.import_module(dotted)
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and issubclass(cls, EngineCore):
                found.append(name)
                assert issubclass(Engine, cls), f"{path.stem}.{name} is not a part of Engine"
    assert len(found) >= 10, found  # EngineCore, the facade and its parts
