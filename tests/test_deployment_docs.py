"""docs/deployment.md says what the code does: its ``mediation-flow`` commands run as written,
in the order of the page, against a fresh PostgreSQL schema; its settings table names Engine's
arguments with their real defaults; its Python examples compile.

The page names the database ``$DB``; the test sets ``DB`` to the fresh schema's URL and lets
bash expand each command line (``printf '%s\\0' <line>``), so the arguments are exactly those a
shell would pass. The commands then run in-process through click's ``CliRunner`` (one Python start
per command would cost a second each), except the ``tick --every`` worker, which runs as a real
process under bash and is stopped once it has reported its first pass.
"""

from __future__ import annotations

import ast
import inspect
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from mediation_flow import Engine
from mediation_flow.cli import main

PAGE = Path(__file__).resolve().parent.parent / "docs" / "deployment.md"

#: Commands run differently from the page, and why.
ADAPTED = {
    # The page's measurement opens 1,000 cases (30-50 s here); the test checks that the command
    # works as written with fewer cases. The page's figures come from the full run.
    "demo --cases 1000": "demo --cases 30",
}
#: What each command must print (the first pattern that occurs in the command applies).
EXPECTED = [
    (r"db upgrade$", r"schema at (\S+) \(head \1\)"),
    (r"db downgrade (\S+)$", r"schema at \S+"),
    (r"db current$", r"database: \S+; this release needs: \S+"),
    (r"db stamp head$", r"schema stamped at \S+"),
    (r"\btick\b", r"\d+ expiries applied"),
    (r"\bdemo\b", r"\d+ cases, \d+ transitions fired by officers"),
    (r"verify --all$", r"every case verified"),
    (r"case show (\d+)$", r"case \d+ region \d{6}"),
    (r"plugins$", r"plugin"),
]
SHELL_SYNTAX = re.compile(r"[|;&<>`]|\$\(")


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page(), flags=re.S)


def section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", page(), flags=re.S | re.M)
    assert match, f"no section {title!r} in {PAGE.name}"
    return match.group(1)


def expand(words: str, env: dict[str, str]) -> list[str]:
    """The arguments bash passes for ``words``, with ``env`` as its environment."""
    out = subprocess.run(
        ["bash", "-c", f"printf '%s\\0' {words}"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split("\0")[:-1]


def runnable_commands() -> list[tuple[str, dict[str, str]]]:
    """Each ``mediation-flow`` line of the page's ``sh`` blocks, in order, with the variables
    its block exported before it (``export DB=...`` lines are the reader's; the test's DB
    replaces them)."""
    commands = []
    for block in blocks("sh"):
        exported: dict[str, str] = {}
        for line in block.splitlines():
            line = line.strip()
            if line.startswith("export ") and not line.startswith("export DB="):
                name, _, value = line.removeprefix("export ").partition("=")
                exported[name] = value
            elif line.startswith("mediation-flow"):
                commands.append((line, dict(exported)))
    return commands


def test_the_page_has_the_commands_the_test_relies_on() -> None:
    lines = [line for line, _ in runnable_commands()]
    for needed in ("db upgrade", "db current", "db downgrade", "tick --every", "demo --cases"):
        assert any(needed in line for line in lines), needed
    for line, exported in runnable_commands():
        assert not SHELL_SYNTAX.search(line), f"keep commands to plain words: {line}"
        # Without --db a command must get its database from the environment, never from
        # the working directory's default SQLite file.
        assert "--db" in line or "MEDIATION_FLOW_DB" in exported, line


def test_the_settings_table_names_engines_arguments_with_their_defaults() -> None:
    rows = re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", section("3. Settings"), flags=re.M)
    parameters = inspect.signature(Engine.__init__).parameters
    for name, default in rows:
        assert name in parameters, f"{name} is not an argument of Engine"
        assert ast.literal_eval(default) == parameters[name].default, name
    named = {name for name, _ in rows}
    assert {"url", "pool_size", "statement_timeout_ms", "busy_timeout", "create_schema"} <= named
    assert {"plugins", "entry_points", "clock", "calendar"} <= named


def test_the_python_examples_compile() -> None:
    examples = blocks("python")
    assert examples
    for i, code in enumerate(examples):
        compile(code, f"{PAGE.name}, python block {i + 1}", "exec")


def refusal_pattern() -> re.Pattern[str]:
    """The page quotes the engine's refusal of an older schema; the revisions may differ."""
    quoted = next(b for b in blocks("text") if b.startswith("database schema revision"))
    return re.compile(re.sub(r"\d{4}", r"\\S+?", re.escape(quoted.strip())))


def run_worker(line: str, env: dict[str, str], cwd: Path) -> str:
    """Start the ``--every`` worker under bash, wait for its first pass, stop it (SIGTERM, as
    systemd does) and return what it printed."""
    out = cwd / "worker.out"
    with out.open("w") as sink:
        proc = subprocess.Popen(
            ["bash", "-c", line],
            env=env,
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "expiries applied" not in out.read_text() and proc.poll() is None:
            assert time.monotonic() < deadline, "the worker reported no pass in 60 s"
            time.sleep(0.1)
        assert proc.poll() is None, f"the worker stopped by itself:\n{out.read_text()}"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    return out.read_text()


@pytest.mark.postgres
def test_the_commands_run_as_written(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # a stray default SQLite file would land here, not in the repo
    runner = CliRunner()
    ran = []
    for line, exported in runnable_commands():
        for written, adapted in ADAPTED.items():
            line = line.replace(written, adapted)
        env = {name: expand(value, {"DB": pg_url})[0] for name, value in exported.items()}
        if re.search(r"\btick\b.* --every \d", line):
            worker_env = {k: v for k, v in os.environ.items() if k != "MEDIATION_FLOW_DB"}
            worker_env.update(env, DB=pg_url, PYTHONUNBUFFERED="1")
            worker_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{worker_env['PATH']}"
            output = run_worker(line, worker_env, tmp_path)
        else:
            argv = expand(line.removeprefix("mediation-flow"), {"DB": pg_url, **env})
            result = runner.invoke(
                main, argv, env={"MEDIATION_FLOW_DB": env.get("MEDIATION_FLOW_DB")}
            )
            output = result.output
            assert result.exit_code == 0, f"{line}\n{output}\n{result.exception!r}"
        pattern = next((p for c, p in EXPECTED if re.search(c, line)), None)
        if pattern is not None:
            assert re.search(pattern, output), f"{line}: expected /{pattern}/ in\n{output}"
        if re.search(r"db downgrade \S+$", line):
            # The release refuses the older schema, in the words the page quotes.
            refused = runner.invoke(main, ["--db", pg_url, "tick"])
            assert refused.exit_code == 1
            assert refusal_pattern().search(" ".join(refused.output.split())), refused.output
        ran.append(shlex.split(line)[1:3])
    assert len(ran) >= 12, ran
