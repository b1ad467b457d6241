"""Plugins installed as packages are found through their entry point, without code changes; a
broken one stops the engine at start-up with its name."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediation_flow import Engine, PluginError

ROOT = Path(__file__).resolve().parent.parent


def _fake_distribution(where: Path, name: str, entry_point: str) -> None:
    info = where / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[mediation_flow.plugins]\n{entry_point}\n")


def test_a_broken_entry_point_is_refused_with_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(tmp_path, "broken_region", "broken-region = no_such_module:Plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    with Engine("sqlite://") as engine:
        (info,) = engine.plugins
        assert info.name == "broken-region"
        assert "failed to load entry point" in (info.refused or "")
        # Its regions are unknown: no region starts until it is fixed or removed.
        with pytest.raises(PluginError, match="failed to load entry point") as error:
            engine.flow_for("430102")
        assert error.value.plugin == "broken-region"
    # An engine told not to look at entry points starts.
    Engine("sqlite://", entry_points=False).close()


def test_an_explicit_plugin_replaces_the_installed_one_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(tmp_path, "installed_region", "template = no_such_module:Plugin")
    monkeypatch.syspath_prepend(str(tmp_path))
    from mediation_flow_template import TemplatePlugin

    mine = TemplatePlugin()
    with Engine("sqlite://", plugins=[mine]) as engine:
        (info,) = engine.plugins
        assert (info.name, info.source) == ("template", "Engine(plugins=...)")


def test_a_pip_installed_plugin_is_discovered_through_its_entry_point(tmp_path: Path) -> None:
    target = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(ROOT / "plugins" / "template"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = {**os.environ, "PYTHONPATH": str(target), "MEDIATION_FLOW_DB": "sqlite://"}
    listing = subprocess.run(
        [sys.executable, "-m", "mediation_flow", "plugins"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert listing.returncode == 0, listing.stdout + listing.stderr
    assert "template" in listing.stdout
    assert "119901" in listing.stdout
    assert "entry point" in listing.stdout
    script = (
        "from mediation_flow import Engine\n"
        "from mediation_flow.testing import sample_intake, moment\n"
        "e = Engine('sqlite://')\n"
        "c = e.open_case(sample_intake(region='119901'), at=moment('2025-03-03'))\n"
        "print(e.fire(c.id, 'refer_to_community_point', at=moment('2025-03-03')).state)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().endswith("community_mediation")
