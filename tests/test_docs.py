"""The docs say what the code does: the plugin tutorial runs as written, and every hook is in
the reference."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mediation_flow import hookspecs
from mediation_flow.testing import make_engine, sample_intake

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


def test_the_plugin_tutorial_runs_as_written() -> None:
    plugin_code, test_code = python_blocks("plugins.md")[:2]
    namespace: dict[str, Any] = {}
    exec(plugin_code, namespace)
    # The test imports the plugin from its package; here it comes from the page.
    test_code = test_code.replace("from mediation_flow_park import ParkPlugin\n", "")
    test_namespace: dict[str, Any] = {"ParkPlugin": namespace["ParkPlugin"]}
    exec(test_code, test_namespace)
    made = []

    def mf_engine(*plugins: object, **kwargs: Any) -> Any:
        made.append(make_engine(*plugins, **kwargs))
        return made[-1]

    test_namespace["test_the_park_station_has_15_days"](mf_engine)
    engine = made[0]
    case = engine.open_case(sample_intake(region="510302"))
    engine.fire(case.id, "refer_to_park_station")
    assert engine.fire(case.id, "withdraw", data={"by": "worker"}).resolution == "withdrawn"


def test_every_hook_is_in_the_reference() -> None:
    page = (DOCS / "plugins.md").read_text()
    hooks = [
        name
        for name in dir(hookspecs)
        if getattr(getattr(hookspecs, name), "mediation_flow_spec", None) is not None
    ]
    assert len(hooks) == 13
    for name in hooks:
        assert f"### `{name}(" in page, name


def test_the_committed_hooks_reference_is_current() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "mediation_docs", DOCS / "_hooks" / "mediation_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    page = (DOCS / "reference" / "hooks.md").read_text("utf-8")
    assert module.HOOKS_GENERATED in page
    assert page == module.hooks_reference(page), (
        "docs/reference/hooks.md is out of date: run python docs/_hooks/mediation_docs.py hooks"
    )
    for name in dir(hookspecs):
        if getattr(getattr(hookspecs, name), "mediation_flow_spec", None) is not None:
            assert f"## `{name}`" in page, name
