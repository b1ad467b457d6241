"""MkDocs hooks: the reference pages that are generated from the code, so they cannot drift.

A page asks for generated content with a marker on a line of its own; ``on_page_markdown``
replaces it before the Markdown is rendered:

``<!-- generated:flow-summary -->``   the national flow's size and fingerprint
``<!-- generated:channels -->``       the five channels and their states
``<!-- generated:states -->``         every state (id, labels, channel, terminal, deadlines)
``<!-- generated:triggers -->``       every transition (trigger, label, from, to, guards, source)
``<!-- generated:deadline-kinds -->`` every deadline kind (length, alive in, expiry, source)
``<!-- generated:guards -->``         the guards, conditions and warnings the flow names
``<!-- generated:hooks -->``          every plugin hook, from ``mediation_flow/hookspecs.py``
                                      (``docs/reference/hooks.md`` commits it instead: see
                                      :func:`write_hooks_reference`)
``<!-- generated:diagram -->``        the whole flow as Mermaid, from ``mediation_flow.diagram``
                                      (nothing while that module does not exist)

Everything is read from ``national_flow()`` and the modules themselves: no second copy. An
unknown ``generated:`` marker, or a public name (``mediation_flow.__all__``) missing from the
API reference, is a warning, so ``mkdocs build --strict`` fails on it.

One compatibility shim: the pages tag claims with the verification legend of the domain notes
(``[V]``, ``[S]``, ``[U]``, ``[P]``). Two tags in a row, ``[S][P]``, are Markdown's syntax for a
reference link; plain Markdown leaves it as text, but mkdocstrings' cross-reference plugin
(autorefs) reports "Could not find cross-reference target 'P'", which fails a strict build. The
hook escapes such pairs outside code, so they render as the same text without the warning.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from mkdocs.plugins import get_plugin_logger

log = get_plugin_logger("mediation_docs")

# The package is normally installed (pip install -e .); a checkout works too.
_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

MARKER = re.compile(r"^<!-- generated:([a-z-]+) -->[ \t]*$", re.M)
API_PAGE = "reference/api.md"


# -- Markdown helpers -----------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(name: str) -> str:
    return f"`{name}`"


def _codes(names: Iterable[str], empty: str = "—") -> str:
    names = list(names)
    return ", ".join(_code(n) for n in names) if names else empty


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


_ROLE = re.compile(r":(?:mod|class|func|meth|attr|exc|data|obj):`~?([^`]+)`")


def rest_to_markdown(text: str) -> str:
    """The docstrings are written for Sphinx: ``code``, :role:`target` and ``::`` blocks.

    Inline markup becomes Markdown code; a paragraph ending in ``::`` becomes a paragraph ending
    in ``:`` followed by a fenced Python block made of the indented lines after it.
    """
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    text = re.sub(r"``([^`]+)``", r"`\1`", text)
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.rstrip().endswith("::"):
            out.append(line.rstrip()[:-1])
            i += 1
            block: list[str] = []
            while i < len(lines) and (not lines[i].strip() or lines[i].startswith(" ")):
                block.append(lines[i])
                i += 1
            code = textwrap.dedent("\n".join(block)).strip("\n")
            out += ["", "```python", code, "```", ""]
            continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _docstring(obj: Any) -> str:
    return rest_to_markdown(inspect.getdoc(obj) or "")


# -- the flow -------------------------------------------------------------------------------------


def _flow() -> Any:
    from mediation_flow.flow.national import national_flow

    return national_flow()


def _unit(kind: Any) -> str:
    unit = kind.unit.value
    if unit == "agreed":
        return "agreed date"
    if unit == "years":
        text = f"{kind.length} year" + ("s" if kind.length != 1 else "")
    else:
        text = f"{kind.length} {unit}"
    if kind.max_extension:
        text += f" (+ at most {kind.max_extension} {unit})"
    return text


def _op_text(op: Any) -> str:
    text = _code(op.kind)
    details = []
    if op.start != "event":
        details.append(f"from `{op.start}`")
    if op.length is not None:
        details.append(f"{op.length} days")
    if op.when:
        details.append(f"when `{op.when}`")
    if op.op == "start" and op.parties != ("worker", "employer"):
        details.append(", ".join(op.parties) + " only")
    return text + (f" ({'; '.join(details)})" if details else "")


def flow_summary() -> str:
    flow = _flow()
    return (
        f"The national flow (`national_flow()`, named `{flow.name}`) has **{len(flow.states)} "
        f"states**, **{len(flow.transitions)} transitions** on **{len(flow.trigger_names)} "
        f"triggers** and **{len(flow.deadline_kinds)} deadline kinds**; a new case starts in "
        f"`{flow.initial}`. Its fingerprint is `{flow.fingerprint[:16]}…` "
        "(`FlowDefinition.fingerprint`, SHA-256 of the definition): a case records the "
        "fingerprint of the flow it was opened under."
    )


def channels() -> str:
    from mediation_flow.models import Channel

    flow = _flow()
    rows = []
    for channel in Channel:
        states = [s.id for s in flow.states if s.channel is channel]
        rows.append([_code(channel.value), channel.label_zh, _codes(states)])
    rows.append(["none", "—", _codes(s.id for s in flow.states if s.channel is None)])
    return _table(["channel", "通道", "states"], rows)


def states() -> str:
    flow = _flow()
    rows = []
    for s in flow.states:
        started = [_op_text(op) for op in s.on_enter if op.op == "start"]
        rows.append(
            [
                _code(s.id),
                s.label_zh,
                s.label_en,
                _code(s.channel.value) if s.channel else "—",
                "yes" if s.terminal else "",
                "; ".join(started) or "—",
            ]
        )
    return _table(
        ["state", "zh-CN", "English", "channel", "terminal", "deadlines started on entry"], rows
    )


def _sources(flow: Any, sources: tuple[str, ...]) -> str:
    """A long source list reads better as its complement among the non-terminal states."""
    open_states = [s.id for s in flow.states if not s.terminal]
    if len(sources) > 12 and set(sources) <= set(open_states):
        missing = [s for s in open_states if s not in sources]
        if len(missing) < len(sources) // 2:
            return "every non-terminal state" + (f" except {_codes(missing)}" if missing else "")
    return _codes(sources)


def _data_fields(fields: Iterable[Any]) -> str:
    """``name: type``, required fields marked with ``*``."""
    return ", ".join(f"`{f.name}`{'*' if f.required else ''}: {f.type}" for f in fields) or "—"


def triggers() -> str:
    flow = _flow()
    rows = []
    for t in flow.transitions:
        guards = [_code(g) for g in t.guards]
        if t.when:
            guards.insert(0, f"if `{t.when}`")
        notes = []
        if t.automatic:
            notes.append("fired on expiry")
        if t.party_act:
            notes.append("party act (`by`)")
        if t.interrupts_limitation:
            notes.append("interrupts limitation")
        if t.resolution:
            notes.append(f"resolution `{t.resolution.value}`")
        if t.warnings:
            notes.append("warns " + _codes(t.warnings))
        rows.append(
            [
                _code(t.trigger),
                t.label_zh,
                _sources(flow, t.sources),
                _code(t.dest) if t.dest else "(stays)",
                _data_fields(t.data),
                "; ".join(guards) or "—",
                t.source or "—",
                "; ".join(notes),
            ]
        )
    return _table(
        ["trigger", "zh-CN", "from", "to", "data", "guards", "legal source", "notes"], rows
    )


def deadline_kinds() -> str:
    flow = _flow()
    rows = []
    for d in flow.deadline_kinds:
        if d.expiry:
            expiry = "fires " + " or ".join(_code(t) for t in d.expiry)
            if d.expiry_data:
                expiry += " (" + ", ".join(f'{k}="{v}"' for k, v in d.expiry_data) + ")"
            expiry += f"; else event `{d.expiry_event}`"
        else:
            expiry = f"event `{d.expiry_event}`"
        rows.append(
            [
                _code(d.id),
                d.label_zh,
                d.label_en,
                _unit(d) + (", per party" if d.per_party else ""),
                _codes(d.alive_in),
                expiry,
                d.source,
                "yes" if d.statutory else "no",
            ]
        )
    return _table(
        ["kind", "zh-CN", "English", "length", "alive in", "on expiry", "source", "statutory"],
        rows,
    )


def guards() -> str:
    from mediation_flow.flow import guards as registry

    flow = _flow()
    used: dict[str, list[str]] = {}

    def use(kind: str, spec: str | None) -> None:
        if spec:
            name = spec.removeprefix("not ").split(":", 1)[0]
            used.setdefault(f"{kind}:{name}", [])

    for t in flow.transitions:
        for g in t.guards:
            use("guard", g)
        use("condition", t.when)
        for w in t.warnings:
            use("warning", w)
        for op in t.deadlines:
            use("condition", op.when)
    for s in flow.states:
        for op in s.on_enter:
            use("condition", op.when)
    tables = {
        "guard": registry.GUARDS,
        "condition": registry.CONDITIONS,
        "warning": registry.WARNINGS,
    }
    rows = []
    for key in sorted(used, key=lambda k: (list(tables).index(k.split(":")[0]), k)):
        kind, name = key.split(":", 1)
        fn = tables[kind].get(name)
        if fn is None:
            log.warning("the flow names the %s %r, which is not registered", kind, name)
            continue
        doc = " ".join(rest_to_markdown(inspect.getdoc(fn) or "").split())
        rows.append([_code(name), kind, doc])
    return _table(["name", "kind", "what it checks (from its docstring)"], rows)


# -- hooks ----------------------------------------------------------------------------------------


def hookspecs() -> str:
    from mediation_flow import hookspecs as module

    parts = []
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if getattr(fn, "mediation_flow_spec", None) is None:
            continue
        parts.append((inspect.getsourcelines(fn)[1], name, fn))
    out = []
    for _, name, fn in sorted(parts):
        signature = str(inspect.signature(fn)).replace("'", "")
        out.append(f"## `{name}`\n\n```python\n{name}{signature}\n```\n\n{_docstring(fn)}\n")
    return "\n".join(out)


def diagram() -> str:
    if importlib.util.find_spec("mediation_flow.diagram") is None:
        log.info("mediation_flow.diagram does not exist yet: no generated diagram")
        return ""
    module = importlib.import_module("mediation_flow.diagram")
    text = module.to_mermaid(_flow()).strip()
    if not text.startswith("```"):
        text = f"```mermaid\n{text}\n```"
    return (
        "### Every state and transition\n\n"
        "Generated from the flow definition by `mediation_flow.diagram.to_mermaid` when these "
        "pages are built.\n\n" + text + "\n"
    )


GENERATORS: dict[str, Callable[[], str]] = {
    "flow-summary": flow_summary,
    "channels": channels,
    "states": states,
    "triggers": triggers,
    "deadline-kinds": deadline_kinds,
    "guards": guards,
    "hooks": hookspecs,
    "diagram": diagram,
}


def _check_api_page(markdown: str) -> None:
    import mediation_flow

    documented = set(re.findall(r"^::: mediation_flow\.(\w+)", markdown, flags=re.M))
    missing = [n for n in mediation_flow.__all__ if n not in documented]
    if missing:
        log.warning("%s does not document %s (in mediation_flow.__all__)", API_PAGE, missing)


_LEGEND_PAIR = re.compile(r"\[([VSUP])\](?=\s?\[[VSUP]\])")
_CODE = re.compile(r"(^```.*?^```[ \t]*$|`[^`\n]+`)", re.M | re.S)


def escape_legend_pairs(markdown: str) -> str:
    """``[S][P]`` -> ``\\[S\\][P]`` outside code: text, not a reference link."""
    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):
        parts[i] = _LEGEND_PAIR.sub(r"\\[\1\\]", parts[i])
    return "".join(parts)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri == API_PAGE:
        _check_api_page(markdown)
    markdown = escape_legend_pairs(markdown)

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        generator = GENERATORS.get(name)
        if generator is None:
            log.warning("%s: unknown marker 'generated:%s'", page.file.src_uri, name)
            return match.group(0)
        return generator()

    return MARKER.sub(replace, markdown)


_HTML_ROLE = re.compile(r":(?:mod|class|func|meth|attr|exc|data|obj):(?=<code>)")


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """mkdocstrings renders the docstrings' Sphinx roles as text: drop them, keep the code."""
    if page.file.src_uri != API_PAGE:
        return html
    html = _HTML_ROLE.sub("", html)
    return re.sub(r"<code>~(?:\w+\.)*(\w+)</code>", r"<code>\1</code>", html)


# -- the committed hooks reference ----------------------------------------------------------------

HOOKS_PAGE = _ROOT / "docs" / "reference" / "hooks.md"
#: Everything after this line of ``docs/reference/hooks.md`` is :func:`hookspecs`' output.
HOOKS_GENERATED = (
    "<!-- Generated from mediation_flow/hookspecs.py by `python docs/_hooks/mediation_docs.py "
    "hooks`; do not edit below this line (tests/test_docs.py checks it is current). -->"
)


def hooks_reference(page: str) -> str:
    """``page`` with its generated part made current."""
    head = page.split(HOOKS_GENERATED)[0].rstrip("\n")
    return f"{head}\n\n{HOOKS_GENERATED}\n\n{hookspecs()}"


def write_hooks_reference() -> bool:
    """Regenerate the hooks reference in the repository; whether it changed."""
    old = HOOKS_PAGE.read_text("utf-8")
    new = hooks_reference(old)
    if new != old:
        HOOKS_PAGE.write_text(new, "utf-8")
    return new != old


if __name__ == "__main__":
    if sys.argv[1:] != ["hooks"]:
        raise SystemExit("usage: python docs/_hooks/mediation_docs.py hooks")
    print("updated" if write_hooks_reference() else "already current", HOOKS_PAGE)
