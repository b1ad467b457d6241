"""Diagrams of the flow (``mediation_flow.diagram``): Mermaid, Graphviz DOT and BPMN 2.0.

- BPMN: the export of the national flow and of every regional flow validates against the OMG
  BPMN 2.0 schema (``tests/bpmn_schema/``, see its README), every node is in exactly one lane,
  and every flow node and sequence flow has its diagram shape or edge.
- Mermaid: a strict grammar check of the subset the module writes (``parse_mermaid``), on every
  flow in both languages.
- DOT: Graphviz's ``dot`` renders every export (skipped where Graphviz is not installed) and the
  labels come out as written; a structural check runs everywhere.
- The path of a case is highlighted in all three formats; labels are Chinese by default and
  English with ``lang="en"``.

Where JavaScript readers are at hand (``MEDIATION_FLOW_JS_DIR``, a folder where
``npm install mermaid@11 jsdom bpmn-moddle@9`` ran; see ``run_node``), Mermaid's own parser reads
every Mermaid export back to the same states, labels, transitions and classes, and bpmn-moddle
(bpmn.io's reader) imports every BPMN export without a warning. Elsewhere those two tests skip.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree import ElementTree
from zoneinfo import ZoneInfo

import pytest

from mediation_flow import diagram
from mediation_flow.diagram import (
    BPMN_NS,
    BPMNDI_NS,
    EXTENSION_NS,
    case_path,
    channel_label,
    diagram_edges,
    render,
    to_bpmn,
    to_dot,
    to_mermaid,
    to_svg,
)
from mediation_flow.flow.definition import FlowDefinition, StateDef, TransitionDef
from mediation_flow.flow.national import national_flow
from mediation_flow.models import Channel, Event
from mediation_flow.testing import make_engine, sample_intake

try:
    from lxml import etree
except ImportError:  # pragma: no cover - lxml comes with the test extras
    etree = None

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

SCHEMA = Path(__file__).resolve().parent / "bpmn_schema" / "BPMN20.xsd"
SHANGHAI = ZoneInfo("Asia/Shanghai")
NS = {"bpmn": BPMN_NS, "bpmndi": BPMNDI_NS, "mf": EXTENSION_NS}
MF = f"{{{EXTENSION_NS}}}"

#: The regional plugins of the repository: module, class, a region code they serve.
REGIONAL = [
    ("mediation_flow_hunan", "HunanPlugin", "430102"),
    ("mediation_flow_zigong_daan", "DaanPlugin", "510304"),
    ("mediation_flow_shiyan", "ShiyanPlugin", "420302"),
    ("mediation_flow_liuzhou_liudong", "LiudongPlugin", "450203"),
    ("mediation_flow_guizhou", "GuizhouPlugin", "520102"),
    ("mediation_flow_template", "TemplatePlugin", "119901"),
]
FLOW_NAMES = ["national", *(module for module, _, _ in REGIONAL)]

#: The case of the path tests: union mediation (accepted: an internal step), fails, arbitration.
PATH_STEPS = [
    ("refer_to_union_mediation", {"org_id": "U", "org_type": "union_org"}),
    ("accept_mediation", {"accepted_on": "2025-03-03"}),
    ("fail_mediation", {"reason": "no_agreement"}),
    ("apply_arbitration", {"by": "worker"}),
]
TAKEN = {
    ("refer_to_union_mediation", "received", "union_mediation"),
    ("accept_mediation", "union_mediation", "union_mediation"),
    ("fail_mediation", "union_mediation", "mediation_failed"),
    ("apply_arbitration", "mediation_failed", "arbitration_received"),
}
VISITED = {"received", "union_mediation", "mediation_failed", "arbitration_received"}


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def flows() -> dict[str, FlowDefinition]:
    """The national flow and each region's flow with its plugin, keyed by plugin module."""
    out = {"national": national_flow()}
    for module, cls, region in REGIONAL:
        plugin = getattr(importlib.import_module(module), cls)()
        engine = make_engine(plugin)
        try:
            out[module] = engine.flow_for(region)
        finally:
            engine.close()
        assert out[module].plugins, f"{module}: region {region} got no plugin additions"
    return out


@pytest.fixture(scope="module")
def history() -> list[Event]:
    """The events of a case that went received → union mediation (accepted) → failed →
    arbitration."""
    engine = make_engine()
    try:
        case = engine.open_case(sample_intake())
        for trigger, data in PATH_STEPS:
            case = engine.fire(case.id, trigger, data=data)
        assert case.state == "arbitration_received"
        return engine.history(case.id)
    finally:
        engine.close()


@pytest.fixture(scope="module")
def schema() -> Any:
    """The OMG BPMN 2.0 schema, read with lxml (the standard library cannot validate XSD). The
    acceptance test of the BPMN export needs it: in CI a missing lxml fails instead of skipping."""
    if etree is None:
        message = "validating BPMN against its XML schema needs lxml (the test extras install it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return etree.XMLSchema(etree.parse(str(SCHEMA)))


def nasty_flow() -> FlowDefinition:
    """A flow whose ids are Mermaid keywords or not identifiers and whose labels hold every
    character that breaks a diagram language."""
    nasty = 'He said "hi" \\ back; a:b #1 50%% <b>x</b> {y} `z` &amp; 中文'
    states = (
        StateDef("received", nasty, "received " + nasty),
        StateDef("end", "结束中", "ending", Channel.union),
        StateDef("state", "状态", "state", Channel.union),
        StateDef("x-y", "连字符", "hyphen", Channel.judicial),
        StateDef("s_end", "已有 s_end", "s_end exists"),
        StateDef("closed", "已结案", "closed", terminal=True),
    )
    transitions = (
        TransitionDef("go", ("received",), "end", nasty, "go " + nasty),
        TransitionDef("go", ("end",), "state", "走", "go"),
        TransitionDef("hop", ("state", "end"), "x-y", "跳", "hop"),
        TransitionDef("note", ("x-y",), None, "备注", "note"),
        TransitionDef("finish", ("x-y", "s_end", "received"), "closed", "完\n成", "finish"),
    )
    return FlowDefinition("nasty", states, transitions, ())


def event(seq: int, trigger: str, source: str, dest: str) -> Event:
    return Event(
        1,
        seq,
        trigger,
        source,
        dest,
        "system",
        "system",
        datetime(2025, 3, 3, 9, tzinfo=SHANGHAI),
        {},
    )


# --- BPMN -----------------------------------------------------------------------------------------


def bpmn_tree(text: str, schema: Any) -> Any:
    """Parse and validate a BPMN export; return its root element."""
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = etree.fromstring(text.encode("utf-8"))
    if not schema.validate(root):
        errors = "\n".join(f"line {e.line}: {e.message}" for e in schema.error_log)
        pytest.fail(f"the BPMN export does not validate against BPMN20.xsd:\n{errors}")
    return root


def check_bpmn_structure(root: Any, flow: FlowDefinition, lang: str = "zh") -> None:
    """Lanes, nodes, flows and diagram elements are consistent."""
    process = root.find("bpmn:process", NS)
    participant = root.find("bpmn:collaboration/bpmn:participant", NS)
    assert participant.get("processRef") == process.get("id")
    assert process.get("isExecutable") == "false"
    node_tags = ("startEvent", "task", "endEvent")
    nodes = {el.get("id"): el for tag in node_tags for el in process.findall(f"bpmn:{tag}", NS)}
    # One task per state, one start event, one end event per terminal state.
    tasks = process.findall("bpmn:task", NS)
    assert sorted(t.get(MF + "state") for t in tasks) == sorted(s.id for s in flow.states)
    assert len(process.findall("bpmn:startEvent", NS)) == 1
    terminals = [s for s in flow.states if s.terminal]
    assert len(process.findall("bpmn:endEvent", NS)) == len(terminals)
    # Every node is in exactly one lane; one lane per channel with states (plus "none").
    lanes = process.findall("bpmn:laneSet/bpmn:lane", NS)
    refs = Counter(ref.text for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS))
    assert set(refs) == set(nodes)
    assert all(count == 1 for count in refs.values()), refs
    channels = {s.channel.value if s.channel else "none" for s in flow.states}
    assert {lane.get(MF + "channel") for lane in lanes} == channels
    for lane in lanes:
        key = lane.get(MF + "channel")
        assert lane.get("name") == channel_label(None if key == "none" else Channel(key), lang)
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            task_state = nodes[ref.text].get(MF + "state")
            if task_state is not None:
                state = flow.state(task_state)
                assert (state.channel.value if state.channel else "none") == key
    # Sequence flows join existing nodes and agree with incoming/outgoing.
    flows = process.findall("bpmn:sequenceFlow", NS)
    for f in flows:
        source, target = nodes[f.get("sourceRef")], nodes[f.get("targetRef")]
        outgoing = [el.text for el in source.findall("bpmn:outgoing", NS)]
        incoming = [el.text for el in target.findall("bpmn:incoming", NS)]
        assert f.get("id") in outgoing and f.get("id") in incoming
    triggers = [f for f in flows if f.get(MF + "trigger") is not None]
    assert len(triggers) == len(diagram_edges(flow))
    for f in triggers:
        assert re.fullmatch(rf"Flow_{re.escape(f.get(MF + 'trigger'))}_[\w.-]+_\d+", f.get("id"))
    # Every element has its diagram element, inside the pool.
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    shapes = {s.get("bpmnElement") for s in plane.findall("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement") for e in plane.findall("bpmndi:BPMNEdge", NS)}
    assert shapes == {participant.get("id")} | {lane.get("id") for lane in lanes} | set(nodes)
    assert edges == {f.get("id") for f in flows}
    pool = plane.find(
        f"bpmndi:BPMNShape[@bpmnElement='{participant.get('id')}']/dc:Bounds",
        {**NS, "dc": diagram.DC_NS},
    )
    px, py = float(pool.get("x")), float(pool.get("y"))
    pw, ph = float(pool.get("width")), float(pool.get("height"))
    for shape in plane.findall("bpmndi:BPMNShape", NS):
        b = shape.find(f"{{{diagram.DC_NS}}}Bounds")
        x, y, w, h = (float(b.get(k)) for k in ("x", "y", "width", "height"))
        assert px <= x and x + w <= px + pw and py <= y and y + h <= py + ph, shape.get("id")


@pytest.mark.parametrize("name", FLOW_NAMES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_bpmn_export_validates_against_the_bpmn_schema(
    flows: dict[str, FlowDefinition], schema: Any, name: str, lang: str
) -> None:
    flow = flows[name]
    root = bpmn_tree(to_bpmn(flow, lang=lang), schema)
    check_bpmn_structure(root, flow, lang)


def test_bpmn_with_internal_transitions_and_a_path_validates(
    flows: dict[str, FlowDefinition], schema: Any, history: list[Event]
) -> None:
    for flow in flows.values():
        root = bpmn_tree(to_bpmn(flow, path=history, internal=True), schema)
        loops = [
            f
            for f in root.iterfind("bpmn:process/bpmn:sequenceFlow", NS)
            if f.get("sourceRef") == f.get("targetRef")
        ]
        assert loops and all(f.get(MF + "internal") == "true" for f in loops)


def test_bpmn_of_awkward_ids_and_labels_validates(schema: Any) -> None:
    flow = nasty_flow()
    root = bpmn_tree(to_bpmn(flow), schema)
    check_bpmn_structure(root, flow)
    names = {t.get(MF + "state"): t.get("name") for t in root.iterfind(".//bpmn:task", NS)}
    assert names["received"] == flow.state("received").label_zh  # quotes, < > & round-trip
    flow_names = [f.get("name") for f in root.iterfind(".//bpmn:sequenceFlow", NS)]
    assert flow.transitions[0].label_zh in flow_names
    assert "完 成" in flow_names  # a line break in a label becomes a space


#: Read each BPMN text with bpmn-moddle, the model layer of bpmn.io and Camunda Modeler, and
#: return its warnings (unknown elements, unresolved references) and what it read.
BPMN_MODDLE_SCRIPT = """
import BpmnModdle from 'bpmn-moddle';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const moddle = new BpmnModdle();
const out = [];
for (const text of JSON.parse(input)) {
  const { rootElement, warnings } = await moddle.fromXML(text, 'bpmn:Definitions');
  const process = rootElement.rootElements.find((e) => e.$type === 'bpmn:Process');
  const [diagram] = rootElement.diagrams;
  out.push({
    warnings: warnings.map((w) => w.message),
    lanes: process.laneSets[0].lanes.map((l) => [l.name, l.flowNodeRef.map((n) => n.id)]),
    nodes: process.flowElements.filter((e) => e.$type !== 'bpmn:SequenceFlow').map((e) => e.id),
    flows: process.flowElements
      .filter((e) => e.$type === 'bpmn:SequenceFlow')
      .map((e) => [e.id, e.name || '', e.sourceRef?.id, e.targetRef?.id]),
    drawn: diagram.plane.planeElement.map((e) => e.bpmnElement?.id),
  });
}
process.stdout.write(JSON.stringify(out));
"""


def test_bpmn_moddle_reads_every_export(
    flows: dict[str, FlowDefinition], history: list[Event]
) -> None:
    """bpmn.io's reader imports every export without a warning (where installed, see
    ``run_node``)."""
    cases = [(flow, "zh", None, False) for flow in flows.values()]
    cases.append((flows["national"], "en", history, True))
    cases.append((nasty_flow(), "zh", None, False))
    texts = [to_bpmn(f, lang=lang, path=p, internal=i) for f, lang, p, i in cases]
    broken = texts[0].replace('targetRef="Task_negotiation"', 'targetRef="Task_nowhere"', 1)
    *results, broken_result = run_node(BPMN_MODDLE_SCRIPT, [*texts, broken], ["bpmn-moddle"])
    assert "unresolved reference <Task_nowhere>" in broken_result["warnings"]
    for (flow, *_), result in zip(cases, results, strict=True):
        assert result["warnings"] == [], f"{flow.name}: {result['warnings']}"
        refs = [ref for _, members in result["lanes"] for ref in members]
        assert sorted(refs) == sorted(result["nodes"])
        assert len(result["flows"]) == len({f[0] for f in result["flows"]})
        assert set(result["drawn"]) >= set(result["nodes"]) | {f[0] for f in result["flows"]}


# --- Mermaid --------------------------------------------------------------------------------------

#: Ids Mermaid's state-diagram lexer reads as keywords (case-insensitively), found by running
#: Mermaid 11's parser, and a margin of its other words.
MERMAID_KEYWORDS = frozenset(
    "state note class classdef style default scale click href statediagram end direction as "
    "hide fork join choice acctitle accdescr left right of root_start root_end linkstyle".split()
)
MERMAID_ID = r"[A-Za-z][A-Za-z0-9_]*"
#: Characters a label must not hold: ``;`` ends a statement, ``"`` a quoted label, ``#`` starts
#: an entity, ``%`` a comment, ``<>`` are HTML, the backtick Markdown. (A colon is fine: the
#: label is the rest of the line after the first `` : ``.)
MERMAID_BAD = re.compile(r'[;"#%<>`\x00-\x1f]')
CSS = r"[a-z-]+:[#\w.-]+"


@dataclass
class MermaidDiagram:
    states: dict[str, str] = field(default_factory=dict)
    edges: list[tuple[str, str, str]] = field(default_factory=list)
    class_defs: dict[str, str] = field(default_factory=dict)
    classes: dict[str, list[str]] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)


def parse_mermaid(text: str) -> MermaidDiagram:
    """Parse the subset of Mermaid ``stateDiagram-v2`` the module writes, strictly: any other
    line fails, every id is declared and is no keyword, labels hold no breaking character."""
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2", lines[0]
    out = MermaidDiagram()

    def label_ok(label: str, where: str) -> str:
        assert label == label.strip() and label, f"{where}: empty or padded label {label!r}"
        assert not MERMAID_BAD.search(label), f"{where}: label {label!r} breaks Mermaid"
        return label

    def known(ident: str, where: str) -> str:
        if ident == "[*]":
            return ident
        assert ident in out.states, f"{where}: {ident!r} is not declared"
        return ident

    for n, line in enumerate(lines[1:], start=2):
        where = f"line {n}"
        s = line.strip()
        assert line == "    " + s, f"{where}: indentation {line!r}"
        if s.startswith("%%"):
            assert not s.startswith("%%{"), f"{where}: a directive, not a comment"
            out.comments.append(s[2:].strip())
        elif m := re.fullmatch(r"acc(?:Title|Descr): (.+)", s):
            label_ok(m[1], where)
        elif m := re.fullmatch(rf'state "([^"]*)" as ({MERMAID_ID})', s):
            ident = m[2]
            assert ident.lower() not in MERMAID_KEYWORDS, f"{where}: keyword id {ident!r}"
            assert ident not in out.states, f"{where}: {ident!r} declared twice"
            out.states[ident] = label_ok(m[1], where)
        elif m := re.fullmatch(rf"(\[\*\]|{MERMAID_ID}) --> (\[\*\]|{MERMAID_ID})(?: : (.+))?", s):
            source, dest = known(m[1], where), known(m[2], where)
            assert not (source == dest == "[*]"), where
            out.edges.append((source, dest, label_ok(m[3], where) if m[3] else ""))
        elif m := re.fullmatch(rf"classDef ({MERMAID_ID}) ({CSS}(?:,{CSS})*)", s):
            out.class_defs[m[1]] = m[2]
        elif m := re.fullmatch(rf"class ({MERMAID_ID}(?:,{MERMAID_ID})*) ({MERMAID_ID})", s):
            assert m[2] in out.class_defs, f"{where}: class {m[2]!r} has no classDef"
            for ident in m[1].split(","):
                out.classes.setdefault(known(ident, where), []).append(m[2])
        else:
            pytest.fail(f"{where}: not in the Mermaid subset: {line!r}")
    starts = [e for e in out.edges if e[0] == "[*]"]
    assert len(starts) == 1, "one [*] --> initial"
    return out


@pytest.mark.parametrize("name", FLOW_NAMES)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_mermaid_export_follows_the_grammar(
    flows: dict[str, FlowDefinition], name: str, lang: str
) -> None:
    flow = flows[name]
    parsed = parse_mermaid(to_mermaid(flow, lang=lang))
    assert set(parsed.states) == {s.id for s in flow.states}  # no flow state id is a keyword
    for s in flow.states:
        assert parsed.states[s.id] == (s.label_zh if lang == "zh" else s.label_en)
        channel = s.channel.value if s.channel else "none"
        assert parsed.classes[s.id] == [f"ch_{channel}"]
    assert ("[*]", flow.initial, "") in parsed.edges
    for s in flow.states:
        assert ((s.id, "[*]", "") in parsed.edges) is s.terminal
    expected = [(e.source, e.dest, e.label) for e in diagram_edges(flow, lang=lang)]
    assert [e for e in parsed.edges if "[*]" not in e[:2]] == expected


def test_mermaid_renames_keyword_ids_and_cleans_labels() -> None:
    flow = nasty_flow()
    parsed = parse_mermaid(to_mermaid(flow))
    assert set(parsed.states) == {"received", "s_end_2", "s_state", "s_x_y", "s_end", "closed"}
    assert parsed.states["received"] == (
        "He said 'hi' \\ back； a:b ＃1 50％％ ‹b›x‹/b› {y} 'z' &amp； 中文"
    )
    assert ("s_x_y", "closed", "完 成") in parsed.edges


def test_mermaid_exports_fit_mermaids_default_limits(
    flows: dict[str, FlowDefinition], history: list[Event]
) -> None:
    """Mermaid refuses a diagram over ``maxTextSize`` (50,000 characters) or ``maxEdges`` (500
    transitions) unless the page raises the limits: every export, at its largest, fits."""
    for flow in flows.values():
        text = to_mermaid(flow, lang="en", path=history, internal=True)
        assert len(text) < 50_000, flow.plugins
        assert text.count(" --> ") < 500, flow.plugins


def run_node(
    script: str, texts: list[str], packages: list[str], processes: int = 1
) -> list[dict[str, Any]]:
    """Run a Node ES module ``script`` on ``texts`` (JSON on its stdin, a JSON list back), in
    ``processes`` processes, with the npm ``packages`` of ``MEDIATION_FLOW_JS_DIR``: a folder
    where ``npm install mermaid@11 jsdom bpmn-moddle@9`` ran. Skip where there is none."""
    folder = os.environ.get("MEDIATION_FLOW_JS_DIR")
    node = shutil.which("node")
    if not folder or node is None:
        pytest.skip(
            "the JavaScript readers (Mermaid, bpmn-moddle) need node and MEDIATION_FLOW_JS_DIR, a "
            "folder where 'npm install mermaid@11 jsdom bpmn-moddle@9' ran; the Python checks "
            "above run everywhere"
        )
    missing = [p for p in packages if not (Path(folder) / "node_modules" / p).is_dir()]
    if missing:
        pytest.skip(f"MEDIATION_FLOW_JS_DIR={folder} lacks the npm packages {missing}")
    parts = [texts[i::processes] for i in range(processes)]
    procs = [
        subprocess.Popen(
            [node, "--input-type=module", "-e", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=folder,
        )
        for _ in parts
    ]
    results: list[dict[str, Any]] = [{} for _ in texts]
    for i, (proc, part) in enumerate(zip(procs, parts, strict=True)):
        stdout, stderr = proc.communicate(json.dumps(part), timeout=120)
        assert proc.returncode == 0, stderr
        results[i::processes] = json.loads(stdout)
    return results


#: Parse each diagram with Mermaid (its sanitizer, DOMPurify, needs a window: jsdom's) and return
#: the states, transitions and classes Mermaid's state-diagram database holds. A syntax error
#: comes back as {error}.
MERMAID_SCRIPT = """
import { JSDOM } from 'jsdom';
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
let input = '';
for await (const chunk of process.stdin) input += chunk;
const out = [];
await mermaid.parse('stateDiagram-v2\\n  a --> b\\n');  // registers the diagram types
for (const text of JSON.parse(input)) {
  try {
    const diagram = await mermaid.mermaidAPI.getDiagramFromText(text);
    const data = diagram.db.getData();
    out.push({
      type: diagram.type,
      nodes: data.nodes.map((n) => [n.id, n.label, n.cssClasses, n.shape]),
      edges: data.edges.map((e) => [e.start, e.end, e.label]),
    });
  } catch (error) {
    out.push({ error: String((error && error.message) || error) });
  }
}
process.stdout.write(JSON.stringify(out));
"""


def test_mermaid_parser_reads_every_export(
    flows: dict[str, FlowDefinition], history: list[Event]
) -> None:
    # Every flow in Chinese; English, a path and awkward labels on one flow each (English labels
    # hold no other characters: the grammar check above covers both languages of every flow).
    cases = [(flow, "zh", None) for flow in flows.values()]
    cases.append((flows["national"], "en", None))
    cases.append((flows["national"], "zh", history))
    cases.append((nasty_flow(), "zh", None))
    texts = [to_mermaid(flow, lang=lang, path=path) for flow, lang, path in cases]
    broken = texts[-1].replace('    state "', '    state ""', 1)  # a negative control
    # Two processes: Mermaid takes about 0.3 s for a diagram of the national flow.
    *results, broken_result = run_node(MERMAID_SCRIPT, [*texts, broken], ["mermaid", "jsdom"], 2)
    assert "error" in broken_result, "Mermaid took a broken diagram"
    for (flow, _, path), text, result in zip(cases, texts, results, strict=True):
        assert "error" not in result, f"{flow.name}: {result.get('error')}"
        assert result["type"] == "stateDiagram"
        ours = parse_mermaid(text)
        nodes = {n[0]: n for n in result["nodes"] if n[3] not in ("stateStart", "stateEnd")}
        assert set(nodes) == set(ours.states)
        for ident, label in ours.states.items():
            assert nodes[ident][1] == label
            assert nodes[ident][2].split() == [*ours.classes[ident], "statediagram-state"]
        theirs = [
            (
                "[*]" if start.startswith("root_start") else start,
                "[*]" if end.startswith("root_end") else end,
                label,
            )
            for start, end, label in result["edges"]
        ]
        assert Counter(theirs) == Counter(ours.edges)
        if path is not None:
            assert nodes["arbitration_received"][2].split()[-2:] == [
                "current",
                "statediagram-state",
            ]


# --- DOT ------------------------------------------------------------------------------------------

DOT_STRING = r'"(?:[^"\\]|\\.)*"'


def check_dot_structure(text: str) -> tuple[dict[str, str], list[tuple[str, str, dict[str, str]]]]:
    """Balanced braces outside strings, every statement in the written subset, every edge
    endpoint declared. Returns the nodes (name: label) and edges (tail, head, attributes)."""

    def unquote(token: str) -> str:
        return re.sub(r"\\(.)", r"\1", token[1:-1])

    def attributes(body: str | None) -> dict[str, str]:
        if not body:
            return {}
        pairs = re.findall(rf"(\w+)=({DOT_STRING}|[\d.]+)", body)
        # Graphviz decodes HTML entities in attribute values; the module writes only &amp;.
        return {k: unquote(v).replace("&amp;", "&") if v.startswith('"') else v for k, v in pairs}

    lines = text.splitlines()
    assert re.fullmatch(rf"digraph {DOT_STRING} \{{", lines[0])
    assert lines[-1] == "}"
    depth, nodes, edges = 0, {}, []
    attrs = rf"\[(?:\w+=(?:{DOT_STRING}|[\d.]+)(?:, )?)*\]"
    for line in lines:
        stripped = re.sub(DOT_STRING, '""', line)
        depth += stripped.count("{") - stripped.count("}")
        assert depth >= 0
        s = line.strip()
        if m := re.fullmatch(rf"({DOT_STRING}) ({attrs});", s):
            nodes[unquote(m[1])] = attributes(m[2]).get("label", "")
        elif m := re.fullmatch(rf"({DOT_STRING}) -> ({DOT_STRING})(?: ({attrs}))?;", s):
            edges.append((unquote(m[1]), unquote(m[2]), attributes(m[3])))
        else:
            assert re.fullmatch(
                rf"\}}|(graph|node|edge) {attrs};|subgraph {DOT_STRING} \{{"
                rf"|digraph {DOT_STRING} \{{|\w+={DOT_STRING};",
                s,
            ), f"not in the DOT subset: {line!r}"
    assert depth == 0
    for tail, head, _ in edges:
        assert tail in nodes and head in nodes, (tail, head)
    return nodes, edges


@pytest.mark.parametrize("name", FLOW_NAMES)
def test_dot_export_is_well_formed(flows: dict[str, FlowDefinition], name: str) -> None:
    flow = flows[name]
    text = to_dot(flow)
    nodes, edges = check_dot_structure(text)
    assert {s.id: s.label_zh for s in flow.states}.items() <= nodes.items()
    for s in flow.states:
        channel = s.channel.value if s.channel else "none"
        cluster = text.index(f'subgraph "cluster_{channel}" {{')
        assert text.index(f'"{s.id}" [label=', cluster) < text.index("  }", cluster)
    ours = [(e.source, e.dest, e.label) for e in diagram_edges(flow)]
    assert [(t, h, a["label"]) for t, h, a in edges if "label" in a] == ours
    assert text.count('subgraph "cluster_') == len({s.channel for s in flow.states})
    assert f'label="{channel_label(Channel.union)}";' in text


needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None,
    reason="Graphviz's 'dot' is not installed (apt-get install graphviz)",
)


def svg_texts(svg: bytes) -> list[str]:
    root = ElementTree.fromstring(svg)
    return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text]


@needs_dot
def test_dot_renders_every_flow_to_svg(flows: dict[str, FlowDefinition]) -> None:
    for flow in flows.values():
        svg = to_svg(to_dot(flow))
        texts = svg_texts(svg)
        for s in flow.states:
            assert s.label_zh in texts
        assert channel_label(Channel.judicial) in texts  # the cluster's label


@needs_dot
def test_dot_escapes_quotes_and_backslashes() -> None:
    flow = nasty_flow()
    nodes, _ = check_dot_structure(to_dot(flow, lang="en"))
    assert nodes["received"] == flow.state("received").label_en
    texts = svg_texts(to_svg(to_dot(flow, lang="en")))
    assert flow.state("received").label_en in texts  # exactly, after Graphviz's escapes
    assert flow.transitions[0].label_en in texts


def test_to_svg_without_graphviz_says_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="install Graphviz"):
        to_svg("digraph { a -> b }")


@needs_dot
def test_to_svg_reports_dot_errors() -> None:
    with pytest.raises(RuntimeError, match="Graphviz 'dot' failed"):
        to_svg("digraph { a -> }")


# --- the path of a case ---------------------------------------------------------------------------


def is_numbered(label: str) -> bool:
    """The label starts with a step number (①...)."""
    return bool(re.match("[\u2460-\u2473]", label))


def test_case_path_lists_the_steps(history: list[Event]) -> None:
    flow = national_flow()
    assert case_path(history, flow) == [
        ("refer_to_union_mediation", "received", "union_mediation"),
        ("accept_mediation", "union_mediation", "union_mediation"),
        ("fail_mediation", "union_mediation", "mediation_failed"),
        ("apply_arbitration", "mediation_failed", "arbitration_received"),
    ]
    reminder = event(9, "deadline_expired", "arbitration_received", "arbitration_received")
    assert case_path([*history, reminder], flow) == case_path(history, flow)
    assert case_path([*history, reminder])[-1][0] == "deadline_expired"  # without a flow


def test_the_path_is_highlighted_in_mermaid(history: list[Event]) -> None:
    flow = national_flow()
    parsed = parse_mermaid(to_mermaid(flow, path=history))
    numbered = {(s, d, label) for s, d, label in parsed.edges if is_numbered(label)}
    assert numbered == {
        ("received", "union_mediation", "① 转入工会调解"),
        ("union_mediation", "union_mediation", "② 受理调解"),
        ("union_mediation", "mediation_failed", "③ 调解不成"),
        ("mediation_failed", "arbitration_received", "④ 申请仲裁"),
    }
    # Untaken transitions keep their plain label; untaken internal ones are not drawn.
    assert ("received", "peoples_mediation", "转入人民调解") in parsed.edges
    assert not any(label.endswith("延长调解期限") for _, _, label in parsed.edges)
    assert {i for i, names in parsed.classes.items() if "visited" in names} == VISITED
    assert [i for i, names in parsed.classes.items() if "current" in names] == [
        "arbitration_received"
    ]
    assert any("cannot style a single transition" in c for c in parsed.comments)
    # Without a path nothing is marked.
    plain = parse_mermaid(to_mermaid(flow))
    assert "visited" not in plain.class_defs
    assert not any(is_numbered(label) for _, _, label in plain.edges)


def test_the_path_is_highlighted_in_dot(history: list[Event]) -> None:
    flow = national_flow()
    text = to_dot(flow, path=history)
    _, edges = check_dot_structure(text)
    taken = {
        (t, h, a.get("label", "")) for t, h, a in edges if a.get("color") == diagram._PATH_COLOUR
    }
    start = next(t for t, h, _ in edges if h == "received" and t.startswith("__start"))
    assert taken == {
        (start, "received", ""),
        ("received", "union_mediation", "① 转入工会调解"),
        ("union_mediation", "union_mediation", "② 受理调解"),
        ("union_mediation", "mediation_failed", "③ 调解不成"),
        ("mediation_failed", "arbitration_received", "④ 申请仲裁"),
    }
    for t, h, a in edges:
        if "label" in a and (t, h, a["label"]) in taken:
            assert a["style"] == "bold" and a["penwidth"] == "2.5"
        elif "label" in a:
            assert "color" not in a and not is_numbered(a["label"]), (t, h, a)
    for state in VISITED:
        line = next(x for x in text.splitlines() if x.strip().startswith(f'"{state}" [label='))
        assert f'color="{diagram._PATH_COLOUR}"' in line
    line = next(x for x in text.splitlines() if x.strip().startswith('"arbitration" [label='))
    assert "color=" not in line.replace("fillcolor", "")
    assert f'fillcolor="{diagram._CURRENT_FILL}"' in next(
        x for x in text.splitlines() if x.strip().startswith('"arbitration_received" [label=')
    )


def test_the_path_is_highlighted_in_bpmn(history: list[Event], schema: Any) -> None:
    flow = national_flow()
    root = bpmn_tree(to_bpmn(flow, path=history), schema)
    flows = root.findall("bpmn:process/bpmn:sequenceFlow", NS)
    tasks = {t.get("id"): t.get(MF + "state") for t in root.iterfind(".//bpmn:task", NS)}
    taken = {
        (f.get(MF + "trigger"), tasks[f.get("sourceRef")], tasks[f.get("targetRef")]): f
        for f in flows
        if f.get(MF + "steps")
    }
    assert set(taken) == TAKEN
    assert taken[("fail_mediation", "union_mediation", "mediation_failed")].get(MF + "steps") == "3"
    assert (
        taken[("fail_mediation", "union_mediation", "mediation_failed")].get("name") == "③ 调解不成"
    )
    doc = taken[("apply_arbitration", "mediation_failed", "arbitration_received")].find(
        "bpmn:documentation", NS
    )
    assert doc.text == "办理路径: 第 4 步"
    for f in flows:
        if not f.get(MF + "steps") and f.get(MF + "trigger"):
            assert f.get(MF + "visited") is None and f.find("bpmn:documentation", NS) is None
            assert not is_numbered(f.get("name"))
    visited = {
        t.get(MF + "state") for t in root.iterfind(".//bpmn:task", NS) if t.get(MF + "visited")
    }
    assert visited == VISITED
    current = [
        t.get(MF + "state") for t in root.iterfind(".//bpmn:task", NS) if t.get(MF + "current")
    ]
    assert current == ["arbitration_received"]
    # Colours for bpmn.io and Camunda Modeler, on the visited elements only.
    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    red = {
        el.get("bpmnElement")
        for el in plane
        if el.get("{http://bpmn.io/schema/bpmn/biocolor/1.0}stroke") == diagram._PATH_COLOUR
    }
    ids = {t.get(MF + "state"): t.get("id") for t in root.iterfind(".//bpmn:task", NS)}
    assert {ids[s] for s in VISITED} | {f.get("id") for f in taken.values()} <= red
    assert ids["arbitration"] not in red and ids["peoples_mediation"] not in red


def test_a_history_from_another_flow_draws_only_what_matches() -> None:
    flow = nasty_flow()
    events = [
        event(1, "open_case", "", "received"),
        event(2, "go", "received", "end"),
        event(3, "vanished_trigger", "end", "state"),
        event(4, "deadline_expired", "state", "state"),
    ]
    edges = diagram_edges(flow, path=events)
    assert [(e.trigger, e.steps) for e in edges if e.steps] == [("go", (1,))]
    parsed = parse_mermaid(to_mermaid(flow, path=events))
    assert parsed.classes["s_state"][-1] == "current"


# --- labels and options ---------------------------------------------------------------------------


def test_labels_are_chinese_by_default_and_english_on_request(schema: Any) -> None:
    flow = national_flow()
    assert 'state "工会调解中" as union_mediation' in to_mermaid(flow)
    assert 'state "in union mediation" as union_mediation' in to_mermaid(flow, lang="en")
    assert '"union_mediation" [label="工会调解中"' in to_dot(flow)
    assert '"union_mediation" [label="in union mediation"' in to_dot(flow, lang="en")
    zh = bpmn_tree(to_bpmn(flow), schema)
    en = bpmn_tree(to_bpmn(flow, lang="en"), schema)
    task = ".//bpmn:task[@mf:state='union_mediation']"
    assert zh.find(task, NS).get("name") == "工会调解中"
    assert en.find(task, NS).get("name") == "in union mediation"
    lane = "bpmn:process/bpmn:laneSet/bpmn:lane[@mf:channel='union']"
    assert zh.find(lane, NS).get("name") == "工会调解"
    assert en.find(lane, NS).get("name") == "union mediation"
    assert 'label="仲裁（含仲裁调解）";' in to_dot(flow)
    assert 'label="arbitration (incl. arbitration mediation)";' in to_dot(flow, lang="en")
    assert to_mermaid(flow, lang="zh-CN") == to_mermaid(flow)


def test_render_dispatches_and_refuses_unknowns() -> None:
    flow = national_flow()
    assert render(flow, "mermaid") == to_mermaid(flow)
    assert render(flow, "dot", lang="en") == to_dot(flow, lang="en")
    assert render(flow, "bpmn") == to_bpmn(flow)
    with pytest.raises(ValueError, match="unknown diagram format"):
        render(flow, "png")
    with pytest.raises(ValueError, match="unknown diagram language"):
        to_mermaid(flow, lang="fr")


def test_a_title_replaces_the_default_one(schema: Any) -> None:
    flow = national_flow()
    assert "accTitle: 五调联动流程：全国\n" in to_mermaid(flow)
    assert "accTitle: 长沙市芙蓉区 430102\n" in to_mermaid(flow, title="长沙市芙蓉区 430102")
    assert 'label="Furong \\"430102\\"", labelloc' in to_dot(flow, title='Furong "430102"')
    root = bpmn_tree(to_bpmn(flow, title="芙蓉区"), schema)
    assert root.find("bpmn:collaboration/bpmn:participant", NS).get("name") == "芙蓉区"


def test_internal_transitions_are_drawn_on_request() -> None:
    flow = national_flow()
    hidden = diagram_edges(flow)
    shown = diagram_edges(flow, internal=True)
    assert not any(e.internal for e in hidden)
    loops = {(e.trigger, e.source) for e in shown if e.internal}
    assert ("accept_mediation", "union_mediation") in loops
    assert all(e.source == e.dest for e in shown if e.internal)
    assert len(shown) - len(hidden) == len(loops)
    # One edge per source of a multi-source transition, none twice.
    keys = [(e.trigger, e.source, e.dest) for e in shown]
    assert len(keys) == len(set(keys))
    withdraw = next(t for t in flow.transitions if t.trigger == "withdraw")
    assert sum(e.trigger == "withdraw" for e in hidden) == len(withdraw.sources)


def test_diagrams_are_deterministic(flows: dict[str, FlowDefinition]) -> None:
    for flow in flows.values():
        for fmt in ("mermaid", "dot", "bpmn"):
            assert render(flow, fmt) == render(flow, fmt)
