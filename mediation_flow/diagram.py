"""Diagrams of a flow: Mermaid (for documentation), Graphviz DOT (and SVG through the ``dot``
program) and BPMN 2.0 XML (for BPMN modellers such as bpmn.io or Camunda Modeler).

Every function here is pure: it takes a :class:`~mediation_flow.flow.definition.FlowDefinition`
(the national flow, or a region's with its plugins' additions, ``engine.flow_for(region)``) and
returns text; only :func:`to_svg` runs a program. Labels are in Chinese (``lang="zh"``, the
default) or English (``lang="en"``).

What is drawn, in all three formats:

- one node per state, grouped by channel (:class:`~mediation_flow.models.Channel`): Mermaid
  colours each channel's states with a ``classDef``, DOT draws a ``cluster`` per channel, BPMN a
  ``lane`` per channel. States without a channel (intake, negotiation, performance,
  enforcement, closing) share one group, :data:`NO_CHANNEL_LABEL`;
- one edge per ``(trigger, source, destination)`` of the flow, labelled with the trigger's
  label; a transition with several sources gives one edge per source. Internal transitions (the
  case stays in its state: ``accept_mediation``, ``extend_mediation``...) are left out unless
  ``internal=True``, or the case took them (then they are drawn as self-loops);
- the initial state after a start point and every terminal state before an end point.

The three exporters (and :func:`render`) take the same options: ``lang`` (``"zh"``, the default,
or ``"en"``), ``path``,
``internal`` (draw every internal transition as a self-loop) and ``title`` (instead of the
default "五调联动流程：全国（插件：hunan）", e.g. to name the region).

With ``path`` (the case's events, ``engine.history(case_id)``), the states the case visited and
the transitions it took are highlighted, and each taken transition carries the number(s) of the
step(s) that took it (①, ②...). The case's flow is the flow to draw (``engine.flow_for(
case.region)``); events that match no transition of it (deadline reminders such as
``deadline_expired``, the opening event) are not steps.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from mediation_flow.flow.definition import FlowDefinition, StateDef
from mediation_flow.models import Channel, Event

__all__ = [
    "BPMNDI_NS",
    "BPMN_NS",
    "DC_NS",
    "DI_NS",
    "EXTENSION_NS",
    "FORMATS",
    "NO_CHANNEL_LABEL",
    "DiagramEdge",
    "case_path",
    "channel_label",
    "diagram_edges",
    "render",
    "to_bpmn",
    "to_dot",
    "to_mermaid",
    "to_svg",
]

#: The formats :func:`render` knows.
FORMATS = ("mermaid", "dot", "bpmn")

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
#: The namespace of this module's own attributes in the BPMN export (``mf:state``,
#: ``mf:trigger``, ``mf:visited``, ``mf:steps``, ``mf:current``). BPMN allows attributes of other
#: namespaces on every element (``anyAttribute namespace="##other"``), so the file stays valid.
EXTENSION_NS = "urn:mediation-flow:diagram:1"
#: bpmn.io's colour attributes (``bioc:stroke``, ``bioc:fill``) and the non-normative BPMN colour
#: attributes Camunda Modeler reads (``color:border-color``, ``color:background-color``).
_BIOC_NS = "http://bpmn.io/schema/bpmn/biocolor/1.0"
_COLOR_NS = "http://www.omg.org/spec/BPMN/non-normative/color/1.0"

Lang = Literal["zh", "en"]

#: The label of the group of states that belong to no channel.
NO_CHANNEL_LABEL: dict[str, str] = {
    "zh": "受理、协商、履行与结案",
    "en": "intake, negotiation, performance and closing",
}

_CHANNEL_EN = {
    Channel.union: "union mediation",
    Channel.peoples: "people's mediation",
    Channel.administrative: "administrative mediation",
    Channel.arbitration: "arbitration (incl. arbitration mediation)",
    Channel.judicial: "courts (incl. pre-filing mediation, court mediation, judicial confirmation)",
}

#: Fill and border colours of each group (key ``None``: no channel); shared by the formats.
_PALETTE: dict[Channel | None, tuple[str, str]] = {
    None: ("#f5f5f5", "#9e9e9e"),
    Channel.union: ("#ffe0b2", "#ef6c00"),
    Channel.peoples: ("#dcedc8", "#558b2f"),
    Channel.administrative: ("#bbdefb", "#1565c0"),
    Channel.arbitration: ("#e1bee7", "#6a1b9a"),
    Channel.judicial: ("#d7ccc8", "#4e342e"),
}
_PATH_COLOUR = "#d62728"
_CURRENT_FILL = "#fff59d"

_TEXT = {
    "zh": {
        "flow": "五调联动流程",
        "national": "全国",
        "plugins": "插件",
        "start": "受理",
        "end": "结束",
        "path": "办理路径",
        "step": "第 {n} 步",
        "steps": "第 {steps} 步",
        "current": "当前状态",
        "legend": "状态按渠道着色；带编号（①②…）的转换是案件走过的路径，"
        "加粗描边的状态是案件到过的状态",
    },
    "en": {
        "flow": "five-mediation linkage flow",
        "national": "national",
        "plugins": "plugins",
        "start": "intake",
        "end": "end",
        "path": "case path",
        "step": "step {n}",
        "steps": "steps {steps}",
        "current": "current state",
        "legend": "states are coloured by channel; numbered transitions (①②…) are the case's path, "
        "states with a bold border are the states it visited",
    },
}


# --- the common model ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DiagramEdge:
    """One edge of a diagram: ``source --trigger--> dest`` with its label in one language.

    ``internal`` is true for a transition that leaves the case in its state (drawn as a
    self-loop). ``steps`` are the numbers (1-based) of the case's steps that took this edge;
    empty when no path was given or the case did not take it.
    """

    trigger: str
    source: str
    dest: str
    label: str
    internal: bool = False
    steps: tuple[int, ...] = ()

    @property
    def taken(self) -> bool:
        return bool(self.steps)


@dataclass(frozen=True)
class _Path:
    """What a case's history highlights."""

    steps: tuple[tuple[str, str, str], ...]
    visited: frozenset[str]
    current: str | None
    opened: bool


@dataclass(frozen=True)
class _Group:
    channel: Channel | None
    key: str
    label: str
    states: tuple[StateDef, ...]


def _lang(lang: str) -> Lang:
    value = lang.strip().lower().replace("_", "-")
    if value == "zh" or value.startswith("zh-"):
        return "zh"
    if value == "en" or value.startswith("en-"):
        return "en"
    raise ValueError(f"unknown diagram language {lang!r}: use 'zh' or 'en'")


def channel_label(channel: Channel | None, lang: str = "zh") -> str:
    """The label of a channel (``None``: the states of no channel) in ``lang``."""
    lg = _lang(lang)
    if channel is None:
        return NO_CHANNEL_LABEL[lg]
    return channel.label_zh if lg == "zh" else _CHANNEL_EN.get(channel, channel.value)


def _state_label(state: StateDef, lang: Lang) -> str:
    """The state's label in ``lang`` (its id when the label is blank)."""
    return (state.label_zh if lang == "zh" else state.label_en).strip() or state.id


def _title(flow: FlowDefinition, lang: Lang) -> str:
    text = _TEXT[lang]
    name = text["national"] if flow.name == "national" else flow.name
    title = f"{text['flow']}：{name}" if lang == "zh" else f"{text['flow']}: {name}"
    if flow.plugins:
        joined = "、".join(flow.plugins) if lang == "zh" else ", ".join(flow.plugins)
        title += (
            f"（{text['plugins']}：{joined}）"
            if lang == "zh"
            else f" ({text['plugins']}: {joined})"
        )
    return title


def _groups(flow: FlowDefinition, lang: Lang) -> tuple[_Group, ...]:
    """The channels that have states, in the order of :class:`Channel`, after the states of no
    channel; the states of each in definition order."""
    order: list[Channel | None] = [None, *Channel]
    groups = []
    for channel in order:
        states = tuple(s for s in flow.states if s.channel == channel)
        if states:
            key = "none" if channel is None else channel.value
            groups.append(_Group(channel, key, channel_label(channel, lang), states))
    return tuple(groups)


def case_path(
    events: Sequence[Event], flow: FlowDefinition | None = None
) -> list[tuple[str, str, str]]:
    """The steps of a case's history as ``(trigger, source, dest)``, oldest first.

    The opening event (``open_case``, which has no source) is not a step. With ``flow``, events
    that match no transition of it are left out too: deadline reminders (``deadline_expired``,
    ``award_overdue``...) and events of triggers the flow no longer has. An internal transition
    is a step whose source and destination are the same state.
    """
    steps = []
    for event in events:
        if not event.source:
            continue
        if flow is not None and flow.find(event.trigger, event.source, event.dest) is None:
            continue
        steps.append((event.trigger, event.source, event.dest))
    return steps


def _path(flow: FlowDefinition, events: Sequence[Event] | None) -> _Path | None:
    if events is None:
        return None
    steps = tuple(case_path(events, flow))
    visited: set[str] = set()
    opened = False
    for event in events:
        if not event.source and event.dest in flow.state_map:
            opened = True
            visited.add(event.dest)
    for _, source, dest in steps:
        visited.update((source, dest))
    current = next(
        (e.dest for e in reversed(events) if e.dest in flow.state_map),
        None,
    )
    if current is not None:
        visited.add(current)
    return _Path(steps, frozenset(visited), current, opened)


def diagram_edges(
    flow: FlowDefinition,
    *,
    lang: str = "zh",
    path: Sequence[Event] | None = None,
    internal: bool = False,
) -> list[DiagramEdge]:
    """The edges a diagram of ``flow`` draws, in definition order.

    A transition with several sources gives one edge per source; transitions sharing trigger,
    source and destination give one edge (labelled like the first, the one
    :meth:`FlowDefinition.find` returns). Internal transitions are included when ``internal`` is
    true or the case of ``path`` took them.
    """
    return _edges(flow, _lang(lang), _path(flow, path), internal)


def _edges(
    flow: FlowDefinition, lang: Lang, path: _Path | None, internal: bool
) -> list[DiagramEdge]:
    taken: dict[tuple[str, str, str], list[int]] = {}
    if path is not None:
        for number, step in enumerate(path.steps, start=1):
            taken.setdefault(step, []).append(number)
    edges: list[DiagramEdge] = []
    seen: set[tuple[str, str, str]] = set()
    for t in flow.transitions:
        for source in t.sources:
            dest = t.dest or source
            key = (t.trigger, source, dest)
            if key in seen:
                continue
            seen.add(key)
            is_internal = t.dest is None
            if is_internal and not internal and key not in taken:
                continue
            label = (t.label_zh if lang == "zh" else t.label_en).strip() or t.trigger
            steps = tuple(taken.get(key, ()))
            edges.append(DiagramEdge(t.trigger, source, dest, label, is_internal, steps))
    return edges


_CIRCLED = (
    [chr(0x2460 + i) for i in range(20)]  # ①..⑳
    + [chr(0x3251 + i) for i in range(15)]  # ㉑..㉟
    + [chr(0x32B1 + i) for i in range(15)]  # ㊱..㊿
)


def _number(n: int) -> str:
    """``①`` for 1 ... ``㊿`` for 50, then ``(51)``."""
    return _CIRCLED[n - 1] if 1 <= n <= len(_CIRCLED) else f"({n})"


def _numbered(label: str, steps: Iterable[int]) -> str:
    marks = "".join(_number(n) for n in steps)
    return f"{marks} {label}" if marks else label


def _steps_text(steps: Sequence[int], lang: Lang) -> str:
    joined = ("、" if lang == "zh" else ", ").join(str(n) for n in steps)
    key = "step" if len(steps) == 1 else "steps"
    return _TEXT[lang][key].format(n=joined, steps=joined)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _clean(text: str) -> str:
    """One line of text: control characters and line breaks become spaces."""
    return " ".join(_CONTROL.sub(" ", text).split())


# --- Mermaid -------------------------------------------------------------------------------------

#: Words Mermaid's state-diagram lexer takes as keywords (case-insensitively) wherever a state id
#: is expected, or that it uses itself (``root_start``): such state ids are renamed.
_MERMAID_RESERVED = frozenset(
    """
    state note class classdef style default scale click href statediagram statediagram-v2 end
    direction as hide fork join choice acctitle accdescr left right of root_start root_end
    linkstyle call callback title tb bt lr rl concurrent
    """.split()
)
_MERMAID_ID = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
#: Characters that end or change a Mermaid label, replaced by look-alikes: ``;`` ends a statement,
#: ``"`` a quoted label, ``#`` starts an entity (``#quot;``), ``%%`` a comment, ``<>`` are HTML,
#: backticks Markdown. A colon is safe: a transition's label is the rest of its line after the
#: first `` : `` (Mermaid's own parser keeps ``a: b`` as written).
_MERMAID_TEXT = str.maketrans(
    {
        '"': "'",
        "`": "'",
        ";": "；",
        "#": "＃",
        "%": "％",
        "<": "‹",
        ">": "›",
    }
)


def _mermaid_text(text: str) -> str:
    return _clean(text).translate(_MERMAID_TEXT)


def _mermaid_ids(flow: FlowDefinition) -> dict[str, str]:
    """Mermaid identifiers of the states: the state id itself when Mermaid accepts it, else
    ``s_`` and the id with other characters replaced by ``_`` (made unique)."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    renamed = []
    for s in flow.states:
        if _MERMAID_ID.fullmatch(s.id) and s.id.lower() not in _MERMAID_RESERVED:
            ids[s.id] = s.id
            used.add(s.id.lower())
        else:
            renamed.append(s.id)
    for state_id in renamed:
        base = "s_" + re.sub(r"[^A-Za-z0-9_]", "_", state_id)
        candidate, n = base, 2
        while candidate.lower() in used or candidate.lower() in _MERMAID_RESERVED:
            candidate, n = f"{base}_{n}", n + 1
        ids[state_id] = candidate
        used.add(candidate.lower())
    return ids


def to_mermaid(
    flow: FlowDefinition,
    *,
    lang: str = "zh",
    path: Sequence[Event] | None = None,
    internal: bool = False,
    title: str | None = None,
) -> str:
    """A Mermaid ``stateDiagram-v2`` of ``flow``.

    States are declared as ``state "label" as id`` and coloured by channel with one ``classDef``
    per channel (``ch_union``...; not composite states: Mermaid cannot draw transitions between
    states inside different composite states). The initial state follows ``[*]``, terminal
    states lead to ``[*]``. Labels are made safe for Mermaid: ``;``, ``"``, ``#``, ``%``, ``<``,
    ``>`` and backticks are replaced by look-alikes (``；``, ``'``, ``＃``, ``‹``...), line breaks
    by spaces. Ids that Mermaid reads as keywords (``state``, ``note``, ``class``,
    ``default``...) or that are no Mermaid identifiers are renamed ``s_<id>``.

    With ``path``, the states the case visited get the class ``visited`` and its current state
    ``current``. A Mermaid state diagram cannot style one transition (it has no ``linkStyle``),
    so each transition the case took carries the numbers of its steps in its label (``①
    转入工会调解``); a comment lists the path.
    """
    lg = _lang(lang)
    text = _TEXT[lg]
    case = _path(flow, path)
    ids = _mermaid_ids(flow)
    lines = [
        "stateDiagram-v2",
        f"    accTitle: {_mermaid_text(title or _title(flow, lg))}",
        f"    accDescr: {_mermaid_text(text['legend'])}",
    ]
    groups = _groups(flow, lg)
    for group in groups:
        lines.append(f"    %% {_mermaid_text(group.label)}")
        for s in group.states:
            lines.append(f'    state "{_mermaid_text(_state_label(s, lg))}" as {ids[s.id]}')
    lines.append(f"    [*] --> {ids[flow.initial]}")
    for edge in _edges(flow, lg, case, internal):
        label = _mermaid_text(_numbered(edge.label, edge.steps))
        arrow = f"    {ids[edge.source]} --> {ids[edge.dest]}"
        lines.append(f"{arrow} : {label}" if label else arrow)
    for s in flow.states:
        if s.terminal:
            lines.append(f"    {ids[s.id]} --> [*]")
    for group in groups:
        fill, stroke = _PALETTE[group.channel]
        lines.append(f"    classDef ch_{group.key} fill:{fill},stroke:{stroke},color:#000")
    for group in groups:
        members = ",".join(ids[s.id] for s in group.states)
        lines.append(f"    class {members} ch_{group.key}")
    if case is not None:
        lines.append(
            "    %% Mermaid state diagrams cannot style a single transition (no linkStyle): "
            "the transitions the case took are numbered in their labels."
        )
        for number, (trigger, source, dest) in enumerate(case.steps, start=1):
            lines.append(
                f"    %% {text['path']} {_number(number)} "
                + _mermaid_text(f"{trigger}: {source} → {dest}")
            )
        lines.append(f"    classDef visited stroke:{_PATH_COLOUR},stroke-width:3px")
        lines.append(
            f"    classDef current fill:{_CURRENT_FILL},stroke:{_PATH_COLOUR},stroke-width:4px"
        )
        visited = [ids[s.id] for s in flow.states if s.id in case.visited]
        if visited:
            lines.append(f"    class {','.join(visited)} visited")
        if case.current is not None:
            lines.append(f"    class {ids[case.current]} current")
    return "\n".join(lines) + "\n"


# --- Graphviz DOT --------------------------------------------------------------------------------


def _dot_quote(text: str, *, value: bool = False) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, so Graphviz's own escapes
    (``\\n``, ``\\N``, ``\\G``...) never apply to the text. In an attribute ``value`` (a label,
    a tooltip), ``&`` is written ``&amp;`` too: Graphviz decodes HTML entities there."""
    text = _clean(text).replace("\\", "\\\\").replace('"', '\\"')
    if value:
        text = text.replace("&", "&amp;")
    return f'"{text}"'


def _dot_attrs(attrs: dict[str, str | float]) -> str:
    parts = []
    for key, value in attrs.items():
        rendered = _dot_quote(value, value=True) if isinstance(value, str) else f"{value:g}"
        parts.append(f"{key}={rendered}")
    return "[" + ", ".join(parts) + "]"


def _unused_name(base: str, taken: Iterable[str]) -> str:
    names = set(taken)
    name = base
    while name in names:
        name = f"_{name}_"
    return name


def to_dot(
    flow: FlowDefinition,
    *,
    lang: str = "zh",
    path: Sequence[Event] | None = None,
    internal: bool = False,
    title: str | None = None,
) -> str:
    """A Graphviz ``digraph`` of ``flow``: one ``cluster`` per channel (labelled with the
    channel's label), a node per state (its id is the node name, its label the state's label),
    an edge per transition labelled with the trigger's label, and start and end points.

    With ``path``, the transitions the case took are bold and red with the numbers of their
    steps (``① 转入工会调解``), the states it visited have a red border and its current state is
    filled yellow. Every name and label is a quoted DOT string with ``\\`` and ``"`` escaped.
    """
    lg = _lang(lang)
    case = _path(flow, path)
    start = _unused_name("__start__", flow.state_map)
    end = _unused_name("__end__", flow.state_map)
    font = "sans-serif"
    lines = [
        f"digraph {_dot_quote('mediation_flow')} {{",
        "  graph "
        + _dot_attrs(
            {
                "label": title or _title(flow, lg),
                "labelloc": "t",
                "fontname": font,
                "fontsize": 16,
                "rankdir": "LR",
                "newrank": "true",
                "nodesep": 0.3,
                "ranksep": 0.6,
            }
        )
        + ";",
        "  node "
        + _dot_attrs(
            {
                "shape": "box",
                "style": "rounded,filled",
                "fillcolor": "#ffffff",
                "fontname": font,
                "fontsize": 11,
            }
        )
        + ";",
        "  edge " + _dot_attrs({"fontname": font, "fontsize": 9, "color": "#555555"}) + ";",
        f"  {_dot_quote(start)} "
        + _dot_attrs(
            {
                "shape": "circle",
                "label": "",
                "width": 0.25,
                "fixedsize": "true",
                "style": "filled",
                "fillcolor": "#000000",
                "tooltip": _TEXT[lg]["start"],
            }
        )
        + ";",
        f"  {_dot_quote(end)} "
        + _dot_attrs(
            {
                "shape": "doublecircle",
                "label": "",
                "width": 0.2,
                "fixedsize": "true",
                "style": "filled",
                "fillcolor": "#000000",
                "tooltip": _TEXT[lg]["end"],
            }
        )
        + ";",
    ]
    for group in _groups(flow, lg):
        fill, stroke = _PALETTE[group.channel]
        lines.append(f"  subgraph {_dot_quote('cluster_' + group.key)} {{")
        lines.append(f"    label={_dot_quote(group.label, value=True)};")
        lines.append(f"    style={_dot_quote('rounded,filled')};")
        lines.append(f"    fillcolor={_dot_quote(fill)};")
        lines.append(f"    color={_dot_quote(stroke)};")
        lines.append(f"    fontname={_dot_quote(font)};")
        for s in group.states:
            attrs: dict[str, str | float] = {
                "label": _state_label(s, lg),
                "tooltip": s.id,
            }
            if s.terminal:
                attrs["peripheries"] = 2
            if case is not None and s.id in case.visited:
                attrs["color"] = _PATH_COLOUR
                attrs["penwidth"] = 2.5
            if case is not None and s.id == case.current:
                attrs["fillcolor"] = _CURRENT_FILL
            lines.append(f"    {_dot_quote(s.id)} {_dot_attrs(attrs)};")
        lines.append("  }")
    start_attrs: dict[str, str | float] = {}
    if case is not None and case.opened:
        start_attrs = {"color": _PATH_COLOUR, "penwidth": 2.5}
    edge_line = f"  {_dot_quote(start)} -> {_dot_quote(flow.initial)}"
    lines.append(edge_line + (f" {_dot_attrs(start_attrs)};" if start_attrs else ";"))
    for edge in _edges(flow, lg, case, internal):
        attrs = {"label": _numbered(edge.label, edge.steps), "tooltip": edge.trigger}
        if edge.taken:
            attrs.update(
                {
                    "color": _PATH_COLOUR,
                    "fontcolor": _PATH_COLOUR,
                    "penwidth": 2.5,
                    "style": "bold",
                }
            )
        lines.append(f"  {_dot_quote(edge.source)} -> {_dot_quote(edge.dest)} {_dot_attrs(attrs)};")
    for s in flow.states:
        if s.terminal:
            lines.append(f"  {_dot_quote(s.id)} -> {_dot_quote(end)};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(dot_source: str, *, timeout: float = 60.0) -> bytes:
    """Render DOT source to SVG with Graphviz's ``dot`` program.

    Raises ``RuntimeError`` when ``dot`` is not installed (install Graphviz), when it fails
    (its error message is included) or when it runs longer than ``timeout`` seconds.
    """
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError(
            "rendering SVG needs Graphviz's 'dot' program, which is not on PATH: install "
            "Graphviz (e.g. 'apt-get install graphviz', 'brew install graphviz', or "
            "https://graphviz.org/download/), or export DOT and render it elsewhere"
        )
    try:
        result = subprocess.run(
            [program, "-Tsvg"],
            input=dot_source.encode("utf-8"),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"Graphviz 'dot' did not finish within {timeout:g} s") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"Graphviz 'dot' failed (exit {result.returncode}): {message}")
    return result.stdout


# --- BPMN 2.0 ------------------------------------------------------------------------------------


@dataclass
class _X:
    """A minimal XML element (qualified ``prefix:name`` tag) for the BPMN writer."""

    tag: str
    attrs: dict[str, str]
    children: list[_X]
    text: str | None = None

    def add(self, tag: str, text: str | None = None, **attrs: str) -> _X:
        child = _X(tag, {k.replace("__", ":"): v for k, v in attrs.items()}, [], text)
        self.children.append(child)
        return child


#: Characters XML 1.0 does not allow at all.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(text: str) -> str:
    text = _XML_INVALID.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_attr(text: str) -> str:
    return (
        _xml_text(text)
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


def _serialize(el: _X, out: list[str], depth: int = 0) -> None:
    pad = "  " * depth
    attrs = "".join(f' {k}="{_xml_attr(v)}"' for k, v in el.attrs.items())
    if el.children:
        out.append(f"{pad}<{el.tag}{attrs}>")
        for child in el.children:
            _serialize(child, out, depth + 1)
        out.append(f"{pad}</{el.tag}>")
    elif el.text is not None:
        out.append(f"{pad}<{el.tag}{attrs}>{_xml_text(el.text)}</{el.tag}>")
    else:
        out.append(f"{pad}<{el.tag}{attrs}/>")


_NCNAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]")


class _Ids:
    """Unique XML ids (NCNames) made from arbitrary text."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def make(self, base: str) -> str:
        name = _NCNAME_BAD.sub("_", base)
        if not name or not (name[0].isalpha() or name[0] == "_"):
            name = "_" + name
        candidate, n = name, 2
        while candidate in self._used:
            candidate, n = f"{name}_{n}", n + 1
        self._used.add(candidate)
        return candidate


# Layout (BPMN DI), in pixels: lanes are horizontal bands, nodes sit in columns (_columns), nodes
# sharing a lane and a column are stacked.
_X0, _Y0 = 20, 20
_POOL_HEADER = 30
_LANE_HEADER = 30
_COL_W = 190
_ROW_H = 110
_LANE_PAD = 15
_TASK_W, _TASK_H = 140, 80
_EVENT = 36


@dataclass
class _Node:
    id: str
    kind: Literal["startEvent", "task", "endEvent"]
    name: str
    lane: str
    column: int
    state: str | None = None
    row: int = 0
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


@dataclass
class _Flow:
    id: str
    source: _Node
    target: _Node
    name: str
    trigger: str | None
    internal: bool = False
    steps: tuple[int, ...] = ()
    opened: bool = False


def _columns(flow: FlowDefinition) -> dict[str, int]:
    """The column of each state: its layer in a left-to-right layering of the flow.

    The transitions that close a cycle (found by a depth-first search from the initial state,
    in definition order) are set aside; on the rest, which form a DAG, each state's column is the
    length of the longest path to it from a state without predecessors (the initial state is
    column 0). A breadth-first distance would put most states one step from ``received`` (it
    leads to every channel) and stack them in one column; the longest path spreads the flow out
    the way a case moves through it: negotiation, mediation, arbitration, court, enforcement,
    closing.
    """
    out: dict[str, list[str]] = {s.id: [] for s in flow.states}
    for t in flow.transitions:
        if t.dest is None:
            continue
        for source in t.sources:
            if source != t.dest and t.dest not in out[source]:
                out[source].append(t.dest)
    # Depth-first search (iterative), marking edges back to a state still on the stack.
    back: set[tuple[str, str]] = set()
    state_of: dict[str, int] = {}  # 1: on the stack, 2: done
    roots = [flow.initial, *(s.id for s in flow.states if s.id != flow.initial)]
    for root in roots:
        if root in state_of:
            continue
        state_of[root] = 1
        stack = [(root, iter(out[root]))]
        while stack:
            node, successors = stack[-1]
            for nxt in successors:
                if state_of.get(nxt) == 1:
                    back.add((node, nxt))
                elif nxt not in state_of:
                    state_of[nxt] = 1
                    stack.append((nxt, iter(out[nxt])))
                    break
            else:
                state_of[node] = 2
                stack.pop()
    # Longest path on the remaining DAG, in topological order.
    preds: dict[str, list[str]] = {s.id: [] for s in flow.states}
    for source, dests in out.items():
        for dest in dests:
            if (source, dest) not in back:
                preds[dest].append(source)
    indegree = {state: len(p) for state, p in preds.items()}
    column = dict.fromkeys(out, 0)
    queue = deque(state for state in roots if indegree[state] == 0)
    while queue:
        node = queue.popleft()
        for nxt in out[node]:
            if (node, nxt) in back:
                continue
            column[nxt] = max(column[nxt], column[node] + 1)
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                queue.append(nxt)
    return column


def _waypoints(flow: _Flow, index: int) -> list[tuple[float, float]]:
    """An orthogonal route that keeps out of the nodes: vertical runs stay in the gaps between
    columns, horizontal runs in the gaps between rows (``index`` shifts parallel runs apart)."""
    src, dst = flow.source, flow.target
    shift = 4 * (index % 5) - 8
    if src is dst:  # a self-loop over the top of the task
        left, right = src.x + src.w * 0.3, src.x + src.w * 0.7
        top = src.y - 8 - 3 * (index % 3)
        return [(right, src.y), (right, top), (left, top), (left, src.y)]
    if dst.column > src.column:  # forwards: out of the right side, into the left side
        start, end = (src.x + src.w, src.cy), (dst.x, dst.cy)
        after_src = src.cx + _COL_W / 2 + shift
        if dst.column == src.column + 1:
            if start[1] == end[1]:
                return [start, end]
            return [start, (after_src, start[1]), (after_src, end[1]), end]
        track = src.cy + _ROW_H / 2 + shift / 2  # below the source's row
        before_dst = dst.cx - _COL_W / 2 + shift
        return [
            start,
            (after_src, start[1]),
            (after_src, track),
            (before_dst, track),
            (before_dst, end[1]),
            end,
        ]
    # Backwards or within a column: over the top of both nodes, in the gap above their rows.
    top = min(src.cy, dst.cy) - _ROW_H / 2 + shift / 2
    sx = src.cx - 10 + 5 * (index % 5)
    tx = dst.cx + 10 - 5 * (index % 5)
    return [(sx, src.y), (sx, top), (tx, top), (tx, dst.y)]


def _fmt(value: float) -> str:
    return f"{value:g}"


def to_bpmn(
    flow: FlowDefinition,
    *,
    lang: str = "zh",
    path: Sequence[Event] | None = None,
    internal: bool = False,
    title: str | None = None,
) -> str:
    """BPMN 2.0 XML of ``flow``, valid against the OMG schema (BPMN20.xsd), with a diagram
    (BPMN DI) so that modellers open it laid out.

    A ``collaboration`` holds one ``participant`` whose ``process`` has a ``laneSet`` with one
    ``lane`` per channel (and one for the states of no channel, :data:`NO_CHANNEL_LABEL`); each
    lane's ``flowNodeRef`` list names its nodes, and every node is in exactly one lane. Each
    state is a ``task`` (id ``Task_<state>``); a ``startEvent`` precedes the initial state and
    an ``endEvent`` follows each terminal state. Each edge (:func:`diagram_edges`) is a
    ``sequenceFlow`` named with the trigger's label, id ``Flow_<trigger>_<source>_<n>`` (``n``
    counts the flows of that trigger from that source); internal transitions, when drawn, are
    self-loops. The process is not executable (``isExecutable="false"``): it documents the flow,
    its outgoing flows are the triggers that may be fired, not a parallel split.

    The layout is a grid: lanes are horizontal bands, nodes stand in columns by the longest
    path to them from the start event (cycles set aside), and flows are orthogonal lines.

    With ``path``, visited tasks and taken flows carry ``mf:visited="true"`` and ``mf:steps``
    (namespace :data:`EXTENSION_NS`), a ``documentation`` naming the steps, a red colour for
    bpmn.io and Camunda Modeler (``bioc:stroke``, ``color:border-color``), and taken flows'
    names start with their step numbers (``① 转入工会调解``); the current state has
    ``mf:current="true"`` and a yellow fill.
    """
    lg = _lang(lang)
    text = _TEXT[lg]
    case = _path(flow, path)
    name = _clean(title or _title(flow, lg))
    ids = _Ids()
    groups = _groups(flow, lg)
    column = _columns(flow)

    # -- nodes and flows ---------------------------------------------------------------------------
    lane_of_state = {s.id: g.key for g in groups for s in g.states}
    lane_ids = {g.key: ids.make(f"Lane_{g.key}") for g in groups}
    participant_id = ids.make("Participant_1")
    collaboration_id = ids.make("Collaboration_1")
    process_id = ids.make(f"Process_{flow.name}")
    nodes: list[_Node] = []
    start = _Node(
        ids.make("StartEvent_1"), "startEvent", text["start"], lane_of_state[flow.initial], 0
    )
    nodes.append(start)
    tasks: dict[str, _Node] = {}
    for s in flow.states:
        node = _Node(
            ids.make(f"Task_{s.id}"),
            "task",
            _clean(_state_label(s, lg)),
            lane_of_state[s.id],
            column[s.id] + 1,
            state=s.id,
        )
        tasks[s.id] = node
        nodes.append(node)
    ends: dict[str, _Node] = {}
    for s in flow.states:
        if s.terminal:
            end = _Node(
                ids.make(f"EndEvent_{s.id}"),
                "endEvent",
                text["end"],
                lane_of_state[s.id],
                column[s.id] + 2,
            )
            ends[s.id] = end
            nodes.append(end)

    flows: list[_Flow] = [
        _Flow(
            ids.make("Flow_start"),
            start,
            tasks[flow.initial],
            "",
            None,
            opened=case is not None and case.opened,
        )
    ]
    per_source: dict[tuple[str, str], int] = {}
    for edge in _edges(flow, lg, case, internal):
        n = per_source[(edge.trigger, edge.source)] = (
            per_source.get((edge.trigger, edge.source), 0) + 1
        )
        flows.append(
            _Flow(
                ids.make(f"Flow_{edge.trigger}_{edge.source}_{n}"),
                tasks[edge.source],
                tasks[edge.dest],
                _clean(_numbered(edge.label, edge.steps)),
                edge.trigger,
                edge.internal,
                edge.steps,
            )
        )
    for state_id, end in ends.items():
        flows.append(_Flow(ids.make(f"Flow_end_{state_id}"), tasks[state_id], end, "", None))

    # -- layout -----------------------------------------------------------------------------------
    rows: dict[tuple[str, int], int] = {}
    for node in nodes:
        node.row = rows.get((node.lane, node.column), 0)
        rows[(node.lane, node.column)] = node.row + 1
    lane_rows = {g.key: 1 for g in groups}
    for (lane, _), count in rows.items():
        lane_rows[lane] = max(lane_rows[lane], count)
    columns = max(node.column for node in nodes) + 1
    lane_x = _X0 + _POOL_HEADER
    width = _POOL_HEADER + _LANE_HEADER + columns * _COL_W + 40
    lane_y: dict[str, float] = {}
    lane_h: dict[str, float] = {}
    y = float(_Y0)
    for g in groups:
        lane_y[g.key] = y
        lane_h[g.key] = 2 * _LANE_PAD + lane_rows[g.key] * _ROW_H
        y += lane_h[g.key]
    height = y - _Y0
    for node in nodes:
        w, h = (_TASK_W, _TASK_H) if node.kind == "task" else (_EVENT, _EVENT)
        cx = lane_x + _LANE_HEADER + 30 + node.column * _COL_W + _TASK_W / 2
        cy = lane_y[node.lane] + _LANE_PAD + node.row * _ROW_H + _ROW_H / 2
        node.x, node.y, node.w, node.h = cx - w / 2, cy - h / 2, float(w), float(h)

    # -- semantics --------------------------------------------------------------------------------
    root = _X(
        "bpmn:definitions",
        {
            "xmlns:bpmn": BPMN_NS,
            "xmlns:bpmndi": BPMNDI_NS,
            "xmlns:dc": DC_NS,
            "xmlns:di": DI_NS,
            "xmlns:mf": EXTENSION_NS,
            "xmlns:bioc": _BIOC_NS,
            "xmlns:color": _COLOR_NS,
            "id": ids.make("Definitions_1"),
            "name": name,
            "targetNamespace": f"urn:mediation-flow:flow:{_NCNAME_BAD.sub('_', flow.name)}",
            "exporter": "mediation-flow",
            "exporterVersion": _version(),
        },
        [],
    )
    collaboration = root.add("bpmn:collaboration", id=collaboration_id)
    collaboration.add("bpmn:participant", id=participant_id, name=name, processRef=process_id)
    process = root.add("bpmn:process", id=process_id, name=name, isExecutable="false")
    if case is not None and case.steps:
        summary = "; ".join(
            f"{_number(n)} {trigger}: {source} → {dest}"
            for n, (trigger, source, dest) in enumerate(case.steps, start=1)
        )
        process.add("bpmn:documentation", f"{text['path']}: {summary}")
    lane_set = process.add("bpmn:laneSet", id=ids.make("LaneSet_1"))
    for g in groups:
        lane_el = lane_set.add("bpmn:lane", id=lane_ids[g.key], name=_clean(g.label))
        lane_el.attrs["mf:channel"] = g.key
        for node in nodes:
            if node.lane == g.key:
                lane_el.add("bpmn:flowNodeRef", node.id)
    incoming: dict[str, list[str]] = {}
    outgoing: dict[str, list[str]] = {}
    for f in flows:
        outgoing.setdefault(f.source.id, []).append(f.id)
        incoming.setdefault(f.target.id, []).append(f.id)
    for node in nodes:
        el = process.add(f"bpmn:{node.kind}", id=node.id, name=node.name)
        if node.state is not None:
            el.attrs["mf:state"] = node.state
            if case is not None and node.state in case.visited:
                steps = [
                    n for n, (_, _, dest) in enumerate(case.steps, start=1) if dest == node.state
                ]
                el.attrs["mf:visited"] = "true"
                if steps:
                    el.attrs["mf:steps"] = " ".join(str(n) for n in steps)
                if node.state == case.current:
                    el.attrs["mf:current"] = "true"
                doc = f"{text['path']}: " + (_steps_text(steps, lg) if steps else text["start"])
                if node.state == case.current:
                    doc += f"; {text['current']}"
                el.add("bpmn:documentation", doc)
        elif node is start and case is not None and case.opened:
            el.attrs["mf:visited"] = "true"
        for ref in incoming.get(node.id, ()):
            el.add("bpmn:incoming", ref)
        for ref in outgoing.get(node.id, ()):
            el.add("bpmn:outgoing", ref)
    for f in flows:
        attrs = {"id": f.id}
        if f.name:
            attrs["name"] = f.name
        attrs["sourceRef"] = f.source.id
        attrs["targetRef"] = f.target.id
        el = process.add("bpmn:sequenceFlow", **attrs)
        if f.trigger is not None:
            el.attrs["mf:trigger"] = f.trigger
        if f.internal:
            el.attrs["mf:internal"] = "true"
        if f.steps:
            el.attrs["mf:visited"] = "true"
            el.attrs["mf:steps"] = " ".join(str(n) for n in f.steps)
            el.add("bpmn:documentation", f"{text['path']}: {_steps_text(f.steps, lg)}")
        elif f.opened:
            el.attrs["mf:visited"] = "true"

    # -- diagram ----------------------------------------------------------------------------------
    diagram = root.add("bpmndi:BPMNDiagram", id=ids.make("BPMNDiagram_1"))
    plane = diagram.add(
        "bpmndi:BPMNPlane", id=ids.make("BPMNPlane_1"), bpmnElement=collaboration_id
    )
    pool = plane.add(
        "bpmndi:BPMNShape",
        id=ids.make(f"{participant_id}_di"),
        bpmnElement=participant_id,
        isHorizontal="true",
    )
    pool.add("dc:Bounds", x=_fmt(_X0), y=_fmt(_Y0), width=_fmt(width), height=_fmt(height))
    for g in groups:
        shape = plane.add(
            "bpmndi:BPMNShape",
            id=ids.make(f"{lane_ids[g.key]}_di"),
            bpmnElement=lane_ids[g.key],
            isHorizontal="true",
        )
        fill, _ = _PALETTE[g.channel]
        shape.attrs.update({"bioc:fill": fill, "color:background-color": fill})
        shape.add(
            "dc:Bounds",
            x=_fmt(lane_x),
            y=_fmt(lane_y[g.key]),
            width=_fmt(width - _POOL_HEADER),
            height=_fmt(lane_h[g.key]),
        )
    highlighted = {
        node.id
        for node in nodes
        if case is not None
        and (
            (node.state is not None and node.state in case.visited)
            or (node is start and case.opened)
        )
    }
    current = tasks[case.current].id if case is not None and case.current is not None else None
    for node in nodes:
        shape = plane.add("bpmndi:BPMNShape", id=ids.make(f"{node.id}_di"), bpmnElement=node.id)
        if node.id in highlighted:
            shape.attrs.update({"bioc:stroke": _PATH_COLOUR, "color:border-color": _PATH_COLOUR})
        if node.id == current:
            shape.attrs.update(
                {"bioc:fill": _CURRENT_FILL, "color:background-color": _CURRENT_FILL}
            )
        shape.add(
            "dc:Bounds", x=_fmt(node.x), y=_fmt(node.y), width=_fmt(node.w), height=_fmt(node.h)
        )
        if node.kind != "task":
            label = shape.add("bpmndi:BPMNLabel")
            label.add(
                "dc:Bounds",
                x=_fmt(node.cx - 40),
                y=_fmt(node.y + node.h + 4),
                width="80",
                height="14",
            )
    for index, f in enumerate(flows):
        edge_el = plane.add("bpmndi:BPMNEdge", id=ids.make(f"{f.id}_di"), bpmnElement=f.id)
        if f.steps or f.opened:
            edge_el.attrs.update({"bioc:stroke": _PATH_COLOUR, "color:border-color": _PATH_COLOUR})
        for px, py in _waypoints(f, index):
            edge_el.add("di:waypoint", x=_fmt(px), y=_fmt(py))

    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    _serialize(root, out)
    return "\n".join(out) + "\n"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediation-flow")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"


# --- dispatch ------------------------------------------------------------------------------------


def render(
    flow: FlowDefinition,
    fmt: str,
    *,
    lang: str = "zh",
    path: Sequence[Event] | None = None,
    internal: bool = False,
    title: str | None = None,
) -> str:
    """The diagram of ``flow`` in ``fmt``, one of :data:`FORMATS` (``mermaid``, ``dot``,
    ``bpmn``). For SVG, pass the ``dot`` output to :func:`to_svg`."""
    if fmt == "mermaid":
        return to_mermaid(flow, lang=lang, path=path, internal=internal, title=title)
    if fmt == "dot":
        return to_dot(flow, lang=lang, path=path, internal=internal, title=title)
    if fmt == "bpmn":
        return to_bpmn(flow, lang=lang, path=path, internal=internal, title=title)
    raise ValueError(f"unknown diagram format {fmt!r}: use one of {', '.join(FORMATS)}")
