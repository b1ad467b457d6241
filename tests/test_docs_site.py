"""The documentation site: it builds with ``mkdocs build --strict``, its generated reference
matches the engine, and the tutorial and the deadlines how-to run as written.

The site is built once per session into a temporary directory (a few seconds). The tests that read
it parse the built HTML, so they check what a reader sees, not the hook's own output. The page
code runs in a child Python process: the pages configure logging, and that must not leak into the
other tests.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from mediation_flow import Channel, hookspecs
from mediation_flow import __all__ as PUBLIC_NAMES
from mediation_flow.flow.national import national_flow

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"

#: Pages in the nav that others write: the site must keep them.
EXISTING_PAGES = [
    "deadlines.md",
    "plugins.md",
    "security.md",
    "deployment.md",
    "regions/hunan.md",
    "regions/zigong_daan.md",
    "regions/shiyan.md",
    "regions/liuzhou_liudong.md",
    "regions/guizhou.md",
]


# -- building the site ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip(
        "mkdocs", reason="mkdocs is not installed; pip install -e '.[test]' installs it"
    )
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(MKDOCS_YML),
            "--site-dir",
            str(out),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}{result.stderr}"
    return out


def page_html(site: Path, page: str) -> str:
    """The built HTML of a source page (``reference/flow.md`` -> ``reference/flow/index.html``)."""
    path = site / page.removesuffix(".md") / "index.html"
    if page == "index.md":
        path = site / "index.html"
    return path.read_text(encoding="utf-8")


class _Tables(HTMLParser):
    """Every ``<table>`` of a page, as rows of cell texts (the header row first)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._row is not None and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[-1].append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def table(html: str, first_header: str) -> list[list[str]]:
    """The body rows of the table whose first column is headed ``first_header``."""
    parser = _Tables()
    parser.feed(html)
    found = [t for t in parser.tables if t and t[0] and t[0][0] == first_header]
    assert len(found) == 1, f"expected one table headed {first_header!r}, found {len(found)}"
    return found[0][1:]


def test_the_site_builds_strictly_with_every_page_in_it(site: Path) -> None:
    for page in [
        *EXISTING_PAGES,
        "index.md",
        "tutorial.md",
        "howto/deadlines.md",
        "reference/api.md",
        "reference/hooks.md",
        "reference/flow.md",
        "explanation/linkage.md",
    ]:
        html = page_html(site, page)
        assert "<h1" in html, page
    # UTF-8 throughout: the Chinese labels arrive as written.
    assert "五调联动" in page_html(site, "index.md")


def test_the_states_table_matches_the_engine(site: Path) -> None:
    rows = table(page_html(site, "reference/flow.md"), "state")
    expected = [
        [
            s.id,
            s.label_zh,
            s.label_en,
            s.channel.value if s.channel else "—",
            "yes" if s.terminal else "",
        ]
        for s in national_flow().states
    ]
    assert [row[:5] for row in rows] == expected
    for row, state in zip(rows, national_flow().states, strict=True):
        for op in state.on_enter:
            if op.op == "start":
                assert op.kind in row[5], (state.id, op.kind)


def test_the_triggers_table_matches_the_engine(site: Path) -> None:
    flow = national_flow()
    rows = table(page_html(site, "reference/flow.md"), "trigger")
    assert [(r[0], r[1], r[3]) for r in rows] == [
        (t.trigger, t.label_zh, t.dest or "(stays)") for t in flow.transitions
    ]
    for row, t in zip(rows, flow.transitions, strict=True):
        for guard in t.guards:
            assert guard in row[5], (t.trigger, guard)
        for field in t.data:
            assert field.name in row[4], (t.trigger, field.name)
        assert row[6] == (t.source or "—"), t.trigger
    assert {r[0] for r in rows} == set(flow.trigger_names)


def test_the_deadline_kinds_table_matches_the_engine(site: Path) -> None:
    rows = table(page_html(site, "reference/flow.md"), "kind")
    kinds = national_flow().deadline_kinds
    assert [(r[0], r[1]) for r in rows] == [(d.id, d.label_zh) for d in kinds]
    for row, d in zip(rows, kinds, strict=True):
        length = "agreed date" if d.length is None else f"{d.length} "
        assert row[3].startswith(length), (d.id, row[3])
        assert row[6] == d.source, d.id
        assert all(state in row[4] for state in d.alive_in), d.id


def test_every_public_name_and_hook_is_documented(site: Path) -> None:
    api = page_html(site, "reference/api.md")
    for name in PUBLIC_NAMES:
        assert f'id="mediation_flow.{name}"' in api, name
    hooks = page_html(site, "reference/hooks.md")
    names = [n for n in dir(hookspecs) if hasattr(getattr(hookspecs, n), "mediation_flow_spec")]
    assert len(names) == 13  # the introspection found every hook
    for name in names:
        assert f'<h2 id="{name}"' in hooks, name


def test_the_linkage_page_has_its_diagram(site: Path) -> None:
    html = page_html(site, "explanation/linkage.md")
    assert html.count('class="mermaid"') >= 1
    if importlib.util.find_spec("mediation_flow.diagram") is not None:
        # The generated diagram of every state, from mediation_flow.diagram.to_mermaid.
        assert html.count('class="mermaid"') >= 2
        assert "Every state and transition" in html


# -- the hand-drawn overview diagram and the legal sources ----------------------------------------


def linkage_markdown() -> str:
    return (DOCS / "explanation" / "linkage.md").read_text(encoding="utf-8")


def test_the_overview_diagram_is_drawn_from_real_states_and_transitions() -> None:
    (diagram,) = re.findall(r"```mermaid\n(.*?)```", linkage_markdown(), flags=re.S)
    flow = national_flow()
    nodes = re.findall(r'^\s*(\w+)\["([^"<]+)<br/>(\w+)"\]', diagram, flags=re.M)
    assert len(nodes) >= 20
    for node, label, state_id in nodes:
        assert node == state_id, node
        assert flow.state(state_id).label_zh == label, state_id
    groups: dict[str, list[str]] = {}
    for name, body in re.findall(r"subgraph (\w+)\[.*?\n(.*?)\n\s*end\b", diagram, flags=re.S):
        groups[name] = re.findall(r'^\s*(\w+)\["', body, flags=re.M)
    assert {flow.state(s).channel for s in groups["mediation"]} == {
        Channel.union,
        Channel.peoples,
        Channel.administrative,
    }
    for states, name in re.findall(r"^\s*class ([\w,]+) ch_(\w+)\s*$", diagram, flags=re.M):
        for state in states.split(","):
            assert flow.state(state).channel == Channel(name), state
    edges = re.findall(r"^\s*(\w+) -->\|([^|]+)\| (\w+)\s*$", diagram, flags=re.M)
    assert len(edges) >= 30
    for source, label, dest in edges:
        for state in groups.get(source, [source]):
            assert any(
                state in t.sources and t.dest == dest and t.label_zh == label
                for t in flow.transitions
            ), f"{state} --{label}--> {dest} is not a transition of the national flow"


def test_every_citation_of_the_flow_is_in_the_legal_sources_table() -> None:
    sources = linkage_markdown().split("## Legal sources", 1)[1]
    listed = set(re.findall(r"^\| ([A-Za-z][\w-]*) \|", sources, flags=re.M))
    flow = national_flow()
    cited = set()
    for text in [t.source for t in flow.transitions] + [d.source for d in flow.deadline_kinds]:
        for part in re.split(r"[;,]", text):
            match = re.match(r"\s*([A-Z][A-Za-z]*(?:-[A-Za-z0-9]+)*)", part)
            if match:
                cited.add(match.group(1))
    assert cited
    assert cited <= listed, sorted(cited - listed)


# -- the pages' code runs as written --------------------------------------------------------------

RUNNER = r"""
import contextlib, io, json, sys, traceback

blocks = json.load(sys.stdin)
namespace = {"__name__": "__docs__"}
outputs = []
for name, code in blocks:
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            exec(compile(code, name, "exec"), namespace)
    except BaseException:
        error = traceback.format_exc()
        outputs.append({"block": name, "error": error, "stdout": buffer.getvalue()})
        break
    outputs.append({"block": name, "stdout": buffer.getvalue()})
print(json.dumps(outputs))
"""

FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def code_blocks(page: str) -> list[tuple[str, str, str | None]]:
    """``(language, code, expected output)`` of each fenced block; a ``text`` block right after
    a ``python`` block (nothing but blank lines between) is that block's printed output."""
    text = (DOCS / page).read_text(encoding="utf-8")
    fences = list(FENCE.finditer(text))
    out: list[tuple[str, str, str | None]] = []
    for i, m in enumerate(fences):
        previous = fences[i - 1] if i else None
        if (
            m.group(1) == "text"
            and previous is not None
            and previous.group(1) == "python"
            and not text[previous.end() : m.start()].strip()
        ):
            continue
        expected = None
        if m.group(1) == "python" and i + 1 < len(fences):
            following = fences[i + 1]
            if following.group(1) == "text" and not text[m.end() : following.start()].strip():
                expected = following.group(2)
        out.append((m.group(1), m.group(2), expected))
    return out


def check_in_memory_and_fixed_times(page: str, code: str) -> None:
    """The pages' engines are in memory, and every command is given its time."""
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        keywords = {k.arg for k in node.keywords}
        if isinstance(node.func, ast.Name) and node.func.id == "Engine":
            first = node.args[0] if node.args else None
            assert isinstance(first, ast.Constant) and first.value == "sqlite://", (
                f"{page}: Engine(...) must use the in-memory 'sqlite://'"
            )
        elif isinstance(node.func, ast.Attribute):
            if node.func.attr in ("open_case", "fire", "triggers"):
                where = f"{page}: {node.func.attr}() on line {node.lineno}"
                assert "at" in keywords, f"{where} has no at="
            elif node.func.attr == "tick":
                assert node.args or "at" in keywords, f"{page}: tick() without at"


def run_python_blocks(page: str, tmp_path: Path) -> None:
    blocks = [(code, expected) for lang, code, expected in code_blocks(page) if lang == "python"]
    assert blocks, page
    for code, _ in blocks:
        check_in_memory_and_fixed_times(page, code)
    named = [[f"<{page} python block {i + 1}>", code] for i, (code, _) in enumerate(blocks)]
    result = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps(named),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    for (name, code), (_, expected), output in zip(named, blocks, outputs, strict=False):
        assert "error" not in output, f"{name} failed:\n{code}\n{output['error']}"
        if expected is not None:
            got = [line.rstrip() for line in output["stdout"].rstrip("\n").splitlines()]
            want = [line.rstrip() for line in expected.rstrip("\n").splitlines()]
            assert got == want, f"{name} printed something else than the page shows"
    assert len(outputs) == len(named)
    # Nothing but the in-memory database: the pages leave no file behind.
    assert list(tmp_path.iterdir()) == []


def test_the_tutorial_runs_as_written(tmp_path: Path) -> None:
    run_python_blocks("tutorial.md", tmp_path)


def test_the_deadlines_how_to_runs_as_written(tmp_path: Path) -> None:
    run_python_blocks("howto/deadlines.md", tmp_path)


COMMANDS = r"""
import contextlib, io, json, sys, traceback

from mediation_flow.cli import main

results = []
for args in json.load(sys.stdin):
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            main.main(args, prog_name="mediation-flow", standalone_mode=False)
        results.append({"stdout": buffer.getvalue()})
    except BaseException:
        results.append({"stdout": buffer.getvalue(), "error": traceback.format_exc()})
print(json.dumps(results))
"""


def test_the_tutorial_commands_run(tmp_path: Path) -> None:
    expected = {
        "demo": r"20 cases, \d+ transitions fired by officers",
        "case": r"case 1 region \d{6}",
        "states": r"states of the national flow",
    }
    commands = [
        line.strip()
        for lang, code, _ in code_blocks("tutorial.md")
        if lang == "sh"
        for line in code.splitlines()
        if line.strip().startswith("mediation-flow ")
    ]
    assert len(commands) == 3
    # One child process runs them in turn, as the shell would (a Python start costs a second).
    arguments = [shlex.split(command)[1:] for command in commands]
    result = subprocess.run(
        [sys.executable, "-c", COMMANDS],
        input=json.dumps(arguments),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert result.returncode == 0, result.stderr
    for command, args, output in zip(commands, arguments, json.loads(result.stdout), strict=True):
        assert "error" not in output, f"{command}:\n{output['stdout']}{output['error']}"
        subcommand = next(a for a in args if a in expected)
        assert re.search(expected[subcommand], output["stdout"]), (command, output["stdout"])


def test_the_landing_page_example_runs(tmp_path: Path) -> None:
    (code,) = [code for lang, code, _ in code_blocks("index.md") if lang == "python"]
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "工会调解中" in result.stdout
