"""CI installs from ``requirements-ci.lock``, and the lock keeps up with ``pyproject.toml``.

Every requirement of the project (the runtime, every extra, the build backend and what an
editable build asks for) must have a pinned, hashed entry in the lock that satisfies it, so a
dependency added or raised in ``pyproject.toml`` without regenerating the lock fails here with
the command that regenerates it. ``.ci/run`` runs exactly the README's test command, and that
command installs from the lock.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-ci.lock"
PROJECT = canonicalize_name("mediation-flow")

# The one command that writes requirements-ci.lock: uv's header in the lock repeats it, and
# CONTRIBUTING.md gives it.
REGENERATE = (
    "uv pip compile pyproject.toml --extra test --group pyproject.toml:build --generate-hashes "
    "--python-version 3.11 --python-platform x86_64-unknown-linux-gnu "
    "--no-emit-package mediation-flow -o requirements-ci.lock"
)
STALE = f"requirements-ci.lock is stale; regenerate it with:\n    {REGENERATE}"

# The platform the lock is resolved for (the flags above): markers are evaluated there.
TARGET = {
    "python_version": "3.11",
    "python_full_version": "3.11.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def locked() -> dict[NormalizedName, tuple[Version, int]]:
    """Each pinned package of the lock: its version and how many hashes it carries."""
    pins: dict[NormalizedName, tuple[Version, int]] = {}
    name: NormalizedName | None = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if pin:
            name = canonicalize_name(pin[1])
            assert name not in pins, f"{pin[1]} is pinned twice in requirements-ci.lock"
            pins[name] = (Version(pin[2]), 0)
        elif name is not None and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
        elif line.strip() and not line.lstrip().startswith("#"):
            pytest.fail(f"requirements-ci.lock: not a pin, a hash or a comment: {line!r}")
    return pins


def applies(requirement: Requirement, extra: str = "") -> bool:
    if requirement.marker is None:
        return True
    return requirement.marker.evaluate({**TARGET, "extra": extra})


def project_requirements() -> list[tuple[str, Requirement]]:
    """(where it is declared, requirement) for everything the lock must cover."""
    data = pyproject()
    found = [("dependencies", Requirement(r)) for r in data["project"]["dependencies"]]
    for extra, requirements in data["project"]["optional-dependencies"].items():
        found += [(f"extra {extra!r}", Requirement(r)) for r in requirements]
    found += [("build-system", Requirement(r)) for r in data["build-system"]["requires"]]
    found += [("group 'build'", Requirement(r)) for r in data["dependency-groups"]["build"]]
    return found


def unsatisfied(requirement: Requirement, pins: dict[NormalizedName, tuple[Version, int]]) -> str:
    """Why the lock does not satisfy the requirement, or '' when it does."""
    name = canonicalize_name(requirement.name)
    wanted = f"{requirement.name}{requirement.specifier}"
    if name not in pins:
        return f"{wanted} is not in the lock"
    version = pins[name][0]
    if not requirement.specifier.contains(version, prereleases=True):
        return f"{wanted} is not satisfied by the locked {name}=={version}"
    return ""


def test_every_project_requirement_is_pinned_in_the_lock_at_a_version_it_allows() -> None:
    pins = locked()
    problems = []
    for where, requirement in project_requirements():
        if canonicalize_name(requirement.name) == PROJECT or not applies(requirement):
            continue  # the project's own extras are checked as extras; other platforms' needs
        if problem := unsatisfied(requirement, pins):
            problems.append(f"{where}: {problem}")
    assert not problems, "\n".join([STALE, *problems])


def test_the_extras_the_project_asks_of_its_dependencies_are_in_the_lock() -> None:
    """``psycopg[binary]`` needs ``psycopg-binary`` in the lock, and so on for every extra asked
    of a dependency (read from the installed dependency's metadata)."""
    pins = locked()
    problems = []
    for where, requirement in project_requirements():
        name = canonicalize_name(requirement.name)
        if name == PROJECT or not requirement.extras or not applies(requirement):
            continue
        needs = [Requirement(r) for r in metadata.requires(requirement.name) or []]
        for extra in sorted(requirement.extras):
            wanted = [r for r in needs if r.marker is not None and applies(r, extra)]
            wanted = [r for r in wanted if not applies(r)]  # only what the extra adds
            assert wanted, f"{requirement.name} declares no extra {extra!r}"
            for need in wanted:
                if problem := unsatisfied(need, pins):
                    problems.append(f"{where}: {requirement.name}[{extra}] needs {problem}")
    assert not problems, "\n".join([STALE, *problems])


def test_the_projects_own_extras_named_in_others_exist() -> None:
    extras = set(pyproject()["project"]["optional-dependencies"])
    for where, requirement in project_requirements():
        if canonicalize_name(requirement.name) == PROJECT:
            assert requirement.extras <= extras, f"{where}: {requirement} names a missing extra"


def test_every_pin_carries_a_hash_and_the_lock_leaves_out_the_project() -> None:
    pins = locked()
    assert pins, "requirements-ci.lock pins nothing"
    assert PROJECT not in pins, "the project is installed with -e, not from the lock"
    unhashed = sorted(name for name, (_, hashes) in pins.items() if hashes == 0)
    assert not unhashed, f"pins without a hash (pip --require-hashes refuses them): {unhashed}"


def test_the_lock_and_the_contributing_guide_give_the_same_regeneration_command() -> None:
    header = LOCK.read_text(encoding="utf-8").splitlines()[:2]
    assert header == [
        "# This file was autogenerated by uv via the following command:",
        f"#    {REGENERATE}",
    ]
    contributing = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert REGENERATE in " ".join(contributing.replace("\\\n", " ").split())


def readme_test_command() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"Run the tests\b.*?```sh\n(.*?)\n```", readme, flags=re.S)
    assert block, "README.md: no 'Run the tests' command block"
    return block[1]


def test_ci_runs_exactly_the_readme_test_command_and_it_installs_from_the_lock() -> None:
    command = readme_test_command()
    assert "\n" not in command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert command in ci, f".ci/run does not run the README's test command:\n{command}"
    assert "pip install --require-hashes -r requirements-ci.lock &&" in command
    # The project itself with no dependency beyond the lock, built by the locked backend.
    assert "pip install --no-build-isolation --no-deps -e . &&" in command
    assert "[test]" not in command
