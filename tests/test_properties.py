"""Property-based tests (hypothesis) of the engine against flow.md.

1. ``test_engine_agrees_with_a_model_of_flow_md``: a stateful test drives random sequences of
   triggers (legal or not), data and ``tick`` times on a few cases of one in-memory engine, next
   to a small reference model written from flow.md (through ``tests/flowspec.py``), and checks
   after every step that the stored state, the replay of the history and the open deadlines
   agree with the model and with flow.md.
2. ``test_open_case_*``: arbitrary intake dictionaries (and non-dictionaries) give a case or
   ``InvalidIntake``, never another exception.
3. ``test_fire_*``: arbitrary ``data`` for random triggers on a case in any state of flow.md §2
   gives a case or ``IllegalTransition`` / ``GuardFailed`` / ``InvalidData``; a refused command
   writes nothing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import hypothesis
import pytest
from hypothesis import (
    HealthCheck,
    assume,
    currently_in_test_context,
    example,
    given,
    note,
    settings,
)
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from mediation_flow import Engine
from mediation_flow.audit import replay
from mediation_flow.errors import (
    CalendarNotAvailable,
    CaseNotFound,
    GuardFailed,
    IllegalTransition,
    InvalidData,
    InvalidIntake,
)
from mediation_flow.flow.national import DEADLINE_KINDS, national_flow
from mediation_flow.models import Case, ClaimKind, DeadlineStatus, json_limit_problem
from tests.conftest import SHANGHAI, at, make_intake
from tests.flowspec import (
    ALL_TRIGGERS,
    AUTOMATIC_EDGES,
    EDGES,
    GUARDED_EDGES,
    PATHS,
    legal_pairs,
)

# --- flow.md, as the model needs it ---------------------------------------------------------------

LEGAL = legal_pairs()
#: The engine's flow, only to know which data fields a trigger declares (fuzz input shapes).
FLOW = national_flow()
#: Trigger names hypothesis picks from: every trigger of flow.md and one the flow does not have.
TRIGGER_NAMES = [*ALL_TRIGGERS, "no_such_trigger"]
STATES = sorted(PATHS)
TERMINAL = ("closed", "archived")
ALIVE_IN = {k.id: k.alive_in for k in DEADLINE_KINDS}
CLAIM_KINDS = [k.value for k in ClaimKind]
REGIONS = ("430102", "450203", "510304", "420303", "520102", "110105")

#: (trigger, source) -> the flowspec data templates of that edge, each with its destination.
TEMPLATES: dict[tuple[str, str], list[tuple[dict[str, Any], str]]] = {}
for _trigger, _source, _data, _dest in EDGES:
    TEMPLATES.setdefault((_trigger, _source), []).append((_data, _dest))

#: Edges whose destination depends on the case, not on the edge (flow.md §3): issue_award by the
#: award's finality (§5; the model takes it from the template the data came from), uphold_objection
#: by what the payment order rested on (LDI-1 13), withdraw_lawsuit by whether an award preceded
#: the suit (I-2000).
BRANCHES: dict[tuple[str, str], set[str]] = {
    ("issue_award", "arbitration"): {"award_final", "award_nonfinal"},
    ("uphold_objection", "payment_order"): {"litigation", "arbitration_received"},
    ("withdraw_lawsuit", "litigation"): {"award_final", "enforceable", "closed"},
    # LDI-1 25: a petition that suspended enforcement, dismissed, resumes it.
    ("dismiss_revocation", "revocation_review"): {"enforceable", "enforcement"},
    # CPL 228; LDI-1 13: after the payment-order procedure, court or arbitration.
    ("proceed_after_payment_order", "payment_order_terminated"): {
        "litigation",
        "arbitration_received",
    },
}
#: (trigger, source) -> every destination flow.md allows.
DESTS: dict[tuple[str, str], set[str]] = {}
for (_trigger, _source), _templates in TEMPLATES.items():
    DESTS[(_trigger, _source)] = {d for _, d in _templates}
for (_trigger, _source), _dest in (*AUTOMATIC_EDGES.items(), *GUARDED_EDGES.items()):
    DESTS.setdefault((_trigger, _source), set()).add(_dest)
for _key, _dests in BRANCHES.items():
    DESTS[_key] = set(_dests)
assert set(DESTS) == {(t, s) for s, t in LEGAL}
assert all(len(d) == 1 for k, d in DESTS.items() if k not in BRANCHES), "ambiguous edge"

#: Triggers that flow.md §3 lets refuse a command whose data is right: a guard in brackets
#: (apply_arbitration_review, apply_judicial_confirmation, apply_payment_order, file_lawsuit,
#: apply_revocation, file_appeal, apply_enforcement), a condition in the guard/data column
#: (extend_mediation: "both parties consent; once; at most 15 cd"; extend_award_limit: "once"),
#: and the edges the engine fires when windows expire, which by hand need those windows to have
#: expired (§3 last paragraph; flowspec.AUTOMATIC_EDGES: award_takes_effect,
#: judgment_takes_effect, payment_order_takes_effect, abandon, and file_lawsuit from arbitration
#: "[award_limit has expired]"). Every other legal trigger given its flowspec template must fire.
GUARDED = frozenset(
    {
        "apply_arbitration_review",
        "apply_judicial_confirmation",
        "apply_payment_order",
        "file_lawsuit",
        "apply_revocation",
        "file_appeal",
        "apply_enforcement",
        "extend_mediation",
        "extend_award_limit",
        # LDMAL 44: advance execution needs a money claim; the model's cases claim any kind.
        "order_advance_execution",
        # AR 38: a postponement up to 3 working days before a scheduled hearing; AR 64-65: a
        # collective case's tribunal has three members.
        "request_postponement",
        "form_tribunal",
        # LDMAL 27 ¶3: a suspended period is not suspended twice.
        "suspend_limitation",
        # AR 46: one publication period at a time.
        "serve_by_publication",
        # CPL 228: litigation is refused within 7 days of the ruling.
        "refuse_litigation",
        *(t for t, _ in AUTOMATIC_EDGES),
        *(t for t, _ in GUARDED_EDGES),
    }
)
#: Triggers whose data flow.md §3 requires (a served_on date to start a window from, the awarded
#: items): without their data they may refuse with InvalidData. The model always gives them their
#: template, so this only matters for data that is not a template.
REQUIRED_DATA = frozenset(
    {
        "serve_payment_order",
        "issue_award",
        "serve_award",
        # The party added, the changed claims, the new commission, the awarded items.
        "add_party",
        "change_claims",
        "transfer_jurisdiction",
        "issue_partial_award",
        "order_advance_execution",
        "form_tribunal",
        "schedule_hearing",
        "serve_by_posting",
    }
)

#: How a case closes (flow.md §2 `closed` carries a resolution; §3 names it per trigger).
RESOLUTIONS = {
    "confirm_performance": "performed",
    "withdraw": "withdrawn",
    "withdraw_lawsuit": "withdrawn",
    "deem_withdrawn": "withdrawn",  # AR 39
    "refuse_litigation": "withdrawn",  # CPL 228
    "reject_out_of_scope": "out_of_scope",
    "complete_enforcement": "enforced",
    "abandon": "abandoned",
}

#: flow.md §1: the channel of each state (the others have none).
CHANNELS = {
    "union_mediation": "union",
    "peoples_mediation": "peoples",
    "administrative_mediation": "administrative",
    **dict.fromkeys(
        (
            "arbitration_received",
            "arbitration_not_accepted",
            "arbitration",
            "arbitration_mediation",
            "arbitration_suspended",
            "award_final",
            "award_nonfinal",
            "arbitration_review",
        ),
        "arbitration",
    ),
    **dict.fromkeys(
        (
            "prefiling_mediation",
            "litigation",
            "judicial_mediation",
            "judgment",
            "appeal",
            "revocation_review",
            "award_revoked",
            "judicial_confirmation",
            "payment_order",
            "enforcement_refused",
            "payment_order_terminated",
        ),
        "judicial",
    ),
}

#: flow.md §4 "on expiry" (and §3 last paragraph): the triggers a deadline's expiry may fire. A kind
#: not listed only records an event (a reminder, an overdue notice, or a window closing a guard).
EXPIRY_TRIGGERS = {
    "negotiation_answer": {"fail_negotiation"},
    "negotiation_period": {"fail_negotiation"},
    "mediation_limit": {"fail_mediation"},
    "payment_order_objection": {"payment_order_takes_effect"},
    "arbitration_acceptance": {"reject_arbitration"},
    "arbitration_mediation_limit": {"fail_arbitration_mediation"},
    "suit_window": {"award_takes_effect", "abandon"},
    "revocation_window": {"award_takes_effect"},
    "prefiling_mediation_limit": {"fail_mediation"},
    "judicial_mediation_limit": {"fail_judicial_mediation"},
    "appeal_window": {"judgment_takes_effect"},
    "nonenforcement_suit_window": {"abandon"},
    "litigation_refusal_window": {"proceed_after_payment_order"},
}
#: Kinds whose expiry trigger has no guard and is legal in every state the kind is alive in: their
#: expiry must move the case.
UNCONDITIONAL_EXPIRY = frozenset(EXPIRY_TRIGGERS) - {
    "suit_window",
    "revocation_window",
    "appeal_window",
    "nonenforcement_suit_window",
}
#: flow.md §4: award_limit's expiry is the `award_overdue` event.
EXPIRY_EVENT = {"award_limit": "award_overdue"}

START = date(2025, 1, 1)
#: The calendar covers 2004-2026 and the longest day-counted deadline is 60 cd: the clock stops
#: here.
CAP = at(2026, 6, 30, 23, 59)
MAX_CASES = 4
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def with_day(value: Any, day: date) -> Any:
    """The template ``value`` with every ISO date replaced by ``day``."""
    if isinstance(value, str) and _ISO_DAY.match(value):
        return day.isoformat()
    if isinstance(value, dict):
        return {k: with_day(v, day) for k, v in value.items()}
    if isinstance(value, list):
        return [with_day(v, day) for v in value]
    return value


# --- the reference model ------------------------------------------------------------------------


@dataclass
class ModelCase:
    """What flow.md says about one case: its state, its version, how it closed, and the two facts
    of its path that decide branch triggers."""

    region: str
    state: str = "received"
    version: int = 1
    resolution: str | None = None
    #: LDI-1 13: what the payment order rested on ("mediation_agreement" or "wages").
    payment_order_basis: str | None = None
    #: I-2000: the suit that brought the case to court followed an award.
    suit_after_award: bool = False
    #: LDI-1 21 ¶2: that suit is the worker's against a final award.
    suit_on_final_award: bool = False
    #: LDI-1 25: the employer's petition suspended the enforcement of the final award.
    enforcement_suspended: bool = False

    def predict(self, trigger: str, template_dest: str | None) -> str:
        """The destination of a legal ``trigger`` from the current state, if it fires."""
        key = (trigger, self.state)
        if key == ("issue_award", "arbitration"):
            assert template_dest is not None
            return template_dest
        if key == ("uphold_objection", "payment_order"):
            on_agreement = self.payment_order_basis == "mediation_agreement"
            return "litigation" if on_agreement else "arbitration_received"
        if key == ("dismiss_revocation", "revocation_review"):
            return "enforcement" if self.enforcement_suspended else "enforceable"
        if key == ("proceed_after_payment_order", "payment_order_terminated"):
            on_agreement = self.payment_order_basis == "mediation_agreement"
            return "litigation" if on_agreement else "arbitration_received"
        if key == ("withdraw_lawsuit", "litigation"):
            if self.suit_on_final_award:
                return "award_final"
            return "enforceable" if self.suit_after_award else "closed"
        (dest,) = DESTS[key]
        return dest

    def apply(self, trigger: str, dest: str) -> None:
        source = self.state
        if trigger == "apply_payment_order":
            agreement = source == "agreement_breached"
            self.payment_order_basis = "mediation_agreement" if agreement else "wages"
        if trigger == "file_lawsuit":
            self.suit_after_award = source in ("award_final", "award_nonfinal")
            self.suit_on_final_award = source == "award_final"
        if trigger in ("withdraw_lawsuit", "dismiss_lawsuit") and dest == "award_final":
            self.suit_on_final_award = False
            self.suit_after_award = False
        if trigger == "apply_revocation":
            self.enforcement_suspended = source == "enforcement"
        if trigger in ("dismiss_revocation", "revoke_award"):
            self.enforcement_suspended = False
        if trigger in ("uphold_objection", "proceed_after_payment_order") and dest == "litigation":
            self.suit_after_award = False
            self.suit_on_final_award = False
        if dest == "closed":
            self.resolution = RESOLUTIONS[trigger]
        elif dest != "archived":
            self.resolution = None
        self.state = dest
        self.version += 1


def say(text: str) -> None:
    """``hypothesis.note`` when hypothesis runs the machine; nothing when a test drives it."""
    if currently_in_test_context():
        note(text)


def legal_in(state: str) -> list[str]:
    return sorted(t for s, t in LEGAL if s == state)


# --- strategies -----------------------------------------------------------------------------------

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12))
JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)
#: Random data for the stateful test where flowspec has no template: keys the engine knows and
#: keys it does not, values that are never a valid date (no digits in the text), so that any
#: deadline a command starts counts from the day of the command.
SMALL_DICTS = st.dictionaries(
    st.sampled_from(["by", "note", "reason", "party", "days", "wage_iou", "xyz"]),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 40),
        st.sampled_from(["worker", "employer", "both", "expired", ""]),
        st.text(alphabet="abc 工会", max_size=5),
    ),
    min_size=1,
    max_size=3,
)


# --- the stateful test ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    case: Case
    history: list[Any]
    deadlines: list[Any]


class EngineAgainstModel(RuleBasedStateMachine):
    """One in-memory engine, a few cases, a clock that only moves forward."""

    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.now: datetime = at(2025, 1, 2)
        self.engine = Engine(
            "sqlite://", early_warning=(), clock=lambda: self.now, entry_points=False
        )
        self.model: dict[int, ModelCase] = {}
        self.last_tick_day: date | None = None

    def teardown(self) -> None:
        self.engine.close()

    @property
    def today(self) -> date:
        return self.now.astimezone(SHANGHAI).date()

    # -- rules ------------------------------------------------------------------------------------

    @initialize(
        target=cases,
        day=st.integers(0, 364),
        minute=st.integers(0, 24 * 60 - 1),
        region=st.sampled_from(REGIONS),
        claims=st.lists(st.sampled_from(CLAIM_KINDS), min_size=1, max_size=3, unique=True),
    )
    def start(self, day: int, minute: int, region: str, claims: list[str]) -> int:
        start = START + timedelta(days=day)
        self.now = at(start.year, start.month, start.day, 0, 0) + timedelta(minutes=minute)
        return self._open(region, claims)

    @precondition(lambda self: len(self.model) < MAX_CASES)
    @rule(
        target=cases,
        region=st.sampled_from(REGIONS),
        claims=st.lists(st.sampled_from(CLAIM_KINDS), min_size=1, max_size=3, unique=True),
    )
    def open_case(self, region: str, claims: list[str]) -> int:
        return self._open(region, claims)

    @precondition(lambda self: len(self.model) < MAX_CASES)
    @rule(
        target=cases,
        region=st.sampled_from(REGIONS),
        state=st.sampled_from(STATES),
    )
    def open_case_along_a_path(self, region: str, state: str) -> int:
        """A wage case taken along flowspec's path to ``state`` (dates: today), each step checked
        like any other command, so that random walks start deep in the flow too."""
        case_id = self._open(region, ["wages"])
        for trigger, step in PATHS[state]:
            source = self.model[case_id].state
            dest = next((d for t, d in TEMPLATES[(trigger, source)] if t == step), None)
            self._check_fire(case_id, trigger, with_day(step, self.today), "template", dest)
        assert self.model[case_id].state == state, "a flowspec path was refused"
        return case_id

    def _open(self, region: str, claims: list[str]) -> int:
        intake = make_intake(
            region=region, claims=[{"kind": k, "amount": "18000.00"} for k in claims]
        )
        case = self.engine.open_case(intake, at=self.now)
        assert (case.state, case.version, case.region) == ("received", 1, region)
        assert case.id not in self.model
        self.model[case.id] = ModelCase(region)
        return case.id

    @rule(days=st.integers(0, 20), minutes=st.integers(0, 24 * 60 - 1))
    def advance(self, days: int, minutes: int) -> None:
        self.now = min(self.now + timedelta(days=days, minutes=minutes), CAP)

    @rule(case_id=cases, trigger=st.sampled_from(TRIGGER_NAMES), data=st.data())
    def fire_any(self, case_id: int, trigger: str, data: st.DataObject) -> None:
        self._fire(case_id, trigger, data)

    @rule(case_id=cases, data=st.data())
    def fire_legal(self, case_id: int, data: st.DataObject) -> None:
        """A trigger flow.md allows in the case's state (so that cases get deep into the flow)."""
        legal = legal_in(self.model[case_id].state) or TRIGGER_NAMES
        # `withdraw` is legal almost everywhere and ends the case: pick it less often.
        staying = [t for t in legal if t not in ("withdraw", "reject_out_of_scope")]
        if staying and data.draw(st.integers(0, 9), label="dice") > 0:
            legal = staying
        self._fire(case_id, data.draw(st.sampled_from(legal), label="trigger"), data)

    def _fire(self, case_id: int, trigger: str, data: st.DataObject) -> None:
        source = self.model[case_id].state
        templates = TEMPLATES.get((trigger, source))
        if templates:
            payload, template_dest = data.draw(st.sampled_from(templates), label="template")
            self._check_fire(
                case_id, trigger, with_day(payload, self.today), "template", template_dest
            )
        else:
            payload = data.draw(st.one_of(st.just({}), SMALL_DICTS), label="data")
            self._check_fire(case_id, trigger, payload, "random" if payload else "empty", None)

    def _check_fire(
        self,
        case_id: int,
        trigger: str,
        payload: dict[str, Any],
        kind: str,
        template_dest: str | None,
    ) -> None:
        """Fire and compare with the model. ``kind`` says where ``payload`` came from: a flowspec
        ``template`` (dates: today), ``empty`` or ``random``."""
        mc = self.model[case_id]
        source = mc.state
        legal = (source, trigger) in LEGAL
        say(f"fire {trigger} on case {case_id} in {source} at {self.now} with {payload}")
        before = self._snapshot(case_id)
        refusal: IllegalTransition | GuardFailed | InvalidData | None = None
        try:
            case = self.engine.fire(case_id, trigger, data=payload, at=self.now)
        except (IllegalTransition, GuardFailed, InvalidData) as exc:
            refusal = exc
        # A command that would apply on a case whose deadlines ran out with no tick since
        # applies their expiries first, as a tick would have: the model follows them.
        caught_up = [
            e
            for e in self.engine.history(case_id)[len(before.history) :]
            if "expired_deadline" in e.data
        ]
        if caught_up:
            say(f"expiries applied first: {[(e.trigger, e.source, e.dest) for e in caught_up]}")
            self._follow_expiries(caught_up)
            source = mc.state
            legal = (source, trigger) in LEGAL
            before = Snapshot(before.case, [*before.history, *caught_up], before.deadlines)
        if refusal is not None:
            say(f"refused: {refusal!r}")
            if isinstance(refusal, IllegalTransition):
                assert not legal, f"{trigger} is legal in {source} (flow.md §3): {refusal}"
                assert (refusal.state, refusal.trigger) == (source, trigger)
                assert set(refusal.legal) == set(legal_in(source)), refusal.legal
            elif isinstance(refusal, GuardFailed):
                assert legal, f"{trigger} is not legal in {source}: expected IllegalTransition"
                assert trigger in GUARDED, f"{trigger} has no guard in flow.md §3: {refusal}"
            else:
                assert legal, f"{trigger} is not legal in {source}: expected IllegalTransition"
                assert kind == "random" or (kind == "empty" and trigger in REQUIRED_DATA), (
                    f"{trigger} refused its flowspec data {payload}: {refusal}"
                )
            if caught_up:
                after = self._snapshot(case_id)
                assert after.history == before.history, "a refused command wrote an event"
                assert (after.case.state, after.case.version) == (mc.state, mc.version)
            else:
                self._nothing_written(case_id, before)
            return
        assert legal, f"{trigger} fired from {source}, where flow.md does not allow it"
        dest = mc.predict(trigger, template_dest)
        assert case.state == dest, f"{trigger} from {source}: {case.state}, flow.md says {dest}"
        assert case.version == before.case.version + len(caught_up) + 1
        last = self.engine.history(case_id)[-1]
        assert (last.seq, last.trigger, last.source, last.dest) == (
            case.version,
            trigger,
            source,
            dest,
        )
        assert last.at == self.now
        mc.apply(trigger, dest)

    @rule()
    def tick(self) -> None:
        events = self.engine.tick(self.now)
        say(f"tick at {self.now}: {[(e.case_id, e.trigger, e.source, e.dest) for e in events]}")
        self._follow_expiries(events)
        self.last_tick_day = self.today

    def _follow_expiries(self, events: list[Any]) -> None:
        """Check expiry events (of a tick, or applied before a command) and apply them to the
        model."""
        for event in events:
            mc = self.model[event.case_id]
            assert (event.actor_id, event.actor_role) == ("system", "system"), event
            expired = event.data["expired_deadline"]
            kind = expired["kind"]
            assert date.fromisoformat(expired["due"]) < self.today, event
            assert event.source == mc.state, (event, mc.state)
            assert event.seq == mc.version + 1, event
            assert mc.state in ALIVE_IN[kind], f"{kind} was open in {mc.state}"
            if event.trigger in EXPIRY_TRIGGERS.get(kind, ()):
                assert (event.source, event.trigger) in LEGAL, event
                assert event.dest in DESTS[(event.trigger, event.source)], event
                if event.trigger == "fail_mediation":
                    assert event.data.get("reason") == "expired", event
                mc.apply(event.trigger, event.dest)
            else:
                # An expiry that moves nothing: a reminder, or a window that closes a guard.
                assert kind not in UNCONDITIONAL_EXPIRY, f"{kind} expired without its trigger"
                assert event.source == event.dest, event
                assert event.trigger not in ALL_TRIGGERS, event
                if kind in EXPIRY_EVENT:
                    assert event.trigger == EXPIRY_EVENT[kind], event
                mc.version += 1
            statuses = {d.id: d.status for d in self.engine.deadlines(event.case_id)}
            assert statuses[expired["id"]] == DeadlineStatus.expired, event

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def engine_agrees_with_the_model(self) -> None:
        for case_id, mc in self.model.items():
            case = self.engine.get(case_id)
            assert case.state == mc.state, (case_id, case.state, mc.state)
            assert case.version == mc.version, (case_id, case.version, mc.version)
            assert (case.resolution.value if case.resolution else None) == mc.resolution
            channel = CHANNELS.get(case.state)
            assert (case.channel.value if case.channel else None) == channel, case.channel

            history = self.engine.history(case_id)
            assert len(history) == case.version
            replayed = replay(self.engine.flow_for(case.region), history)
            assert replayed.problems == [], replayed.problems
            assert replayed.state == case.state

            for d in self.engine.deadlines(case_id):
                if d.status in (DeadlineStatus.pending, DeadlineStatus.paused):
                    assert case.state in ALIVE_IN[d.kind], (
                        f"case {case_id} in {case.state} has {d.status.value} {d.kind}"
                    )
                    assert case.state not in TERMINAL, d
                if d.status == DeadlineStatus.pending and self.last_tick_day is not None:
                    assert d.due >= self.last_tick_day, (
                        f"case {case_id}: {d.kind} due {d.due} is pending after the tick of "
                        f"{self.last_tick_day}"
                    )

    # -- helpers ----------------------------------------------------------------------------------

    def _snapshot(self, case_id: int) -> Snapshot:
        return Snapshot(
            self.engine.get(case_id),
            self.engine.history(case_id),
            self.engine.deadlines(case_id),
        )

    def _nothing_written(self, case_id: int, before: Snapshot) -> None:
        after = self._snapshot(case_id)
        assert after.case == before.case, "a refused command changed the case"
        assert after.history == before.history, "a refused command wrote an event"
        assert after.deadlines == before.deadlines, "a refused command changed a deadline"


def test_engine_agrees_with_a_model_of_flow_md() -> None:
    run_state_machine_as_test(
        EngineAgainstModel,
        settings=settings(
            max_examples=60,
            stateful_step_count=40,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )


def test_model_run_suspending_an_award_limit_that_already_ran_out() -> None:
    """A run of the state machine above, written out: the award limit (45 cd from acceptance on
    2025-03-03: due 2025-04-17) has run out when the arbitration is suspended on 2025-04-25, with
    no tick in between. flow.md §4: a deadline expires at the end of its due day, so there is no
    running clock left to pause; a tick on 2025-05-05 and resumption on 2025-05-06 must not leave
    a pending award limit due before that tick."""
    machine = EngineAgainstModel()
    try:
        machine.now = at(2025, 3, 3)
        case_id = machine.open_case_along_a_path(region="430102", state="arbitration")
        machine.engine_agrees_with_the_model()
        for days in (20, 20, 13):  # 2025-04-25, no tick
            machine.advance(days=days, minutes=0)
            machine.engine_agrees_with_the_model()
        machine._check_fire(case_id, "suspend_arbitration", {}, "template", None)
        machine.engine_agrees_with_the_model()
        machine.advance(days=10, minutes=0)  # 2025-05-05
        machine.tick()
        machine.engine_agrees_with_the_model()
        machine.advance(days=1, minutes=0)  # 2025-05-06
        machine._check_fire(case_id, "resume_arbitration", {}, "template", None)
        machine.engine_agrees_with_the_model()
    finally:
        machine.teardown()


# --- intake fuzzing ------------------------------------------------------------------------------

MOMENT = at(2025, 6, 3, 10)
#: Any date, with the edges of the calendar data (2004-2026) and of ``datetime.date`` more likely.
ANY_DATES = st.one_of(
    st.dates(),
    st.sampled_from(
        [date.min, date(2003, 12, 31), date(2004, 1, 1), date(2026, 12, 31), date(2027, 1, 1)]
    ),
    st.just(date.max),
)
INTAKE_KEYS = [
    "region",
    "parties",
    "claims",
    "worker_count",
    "is_migrant_worker",
    "employment_ended_on",
    "knew_of_infringement_on",
    "received_on",
    "attributes",
]
NESTED_KEYS = ["kind", "role", "name", "id_number", "phone", "amount"]
DOMAIN_WORDS = [
    "worker",
    "employer",
    "applicant",
    "respondent",
    *CLAIM_KINDS,
    " ",
    "",
    "430102",
    "000000",
    "4301020",
]
VALUES = st.one_of(
    JSON,
    st.sampled_from(DOMAIN_WORDS),
    ANY_DATES.map(date.isoformat),
    ANY_DATES,
    st.from_regex(r"\d{6}", fullmatch=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=2).map(str),
    st.fixed_dictionaries({"kind": st.sampled_from(["worker", "employer"])}),
    st.builds(lambda k: {"kind": k, "amount": "1"}, st.sampled_from(CLAIM_KINDS)),
)


DATE_KEYS = frozenset(
    {
        "employment_ended_on",
        "knew_of_infringement_on",
        "received_on",
        "agreed_until",
        "perform_by",
        "accepted_on",
        "effective_on",
        "respondent_served_on",
    }
)


def value_for(
    key: Any, dates: st.SearchStrategy[date], other: st.SearchStrategy[Any]
) -> st.SearchStrategy[Any]:
    """Values for ``key``: for a date field, dates (ISO strings or ``date``) as often as not."""
    if key in DATE_KEYS:
        return st.one_of(dates.map(date.isoformat), dates, other)
    if key == "served_on":
        party_days = st.dictionaries(
            st.sampled_from(["worker", "employer", "both"]), dates.map(date.isoformat), max_size=2
        )
        return st.one_of(party_days, dates.map(date.isoformat), other)
    return other


#: Intakes with every field of the right shape and random contents: they get past validation
#: into the date arithmetic more often than mutations do.
TYPED_INTAKES = st.fixed_dictionaries(
    {
        "region": st.one_of(st.sampled_from(REGIONS), st.from_regex(r"\d{6}", fullmatch=True)),
        "parties": st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["worker", "employer"]),
                    "role": st.sampled_from(["applicant", "respondent"]),
                    "name": st.text(max_size=12),
                },
                optional={"id_number": st.text(max_size=40), "phone": st.text(max_size=40)},
            ),
            min_size=1,
            max_size=4,
        ),
        "claims": st.lists(
            st.fixed_dictionaries(
                {"kind": st.sampled_from(CLAIM_KINDS)},
                optional={
                    "amount": st.one_of(
                        st.decimals(allow_nan=True, allow_infinity=True),
                        st.decimals(places=2).map(str),
                        st.integers(),
                        st.floats(),
                    )
                },
            ),
            min_size=1,
            max_size=3,
        ),
    },
    optional={
        "worker_count": st.integers(-2, 2_000_000),
        "is_migrant_worker": st.booleans(),
        "employment_ended_on": value_for("employment_ended_on", ANY_DATES, JSON),
        "knew_of_infringement_on": value_for("knew_of_infringement_on", ANY_DATES, JSON),
        "received_on": value_for("received_on", ANY_DATES, JSON),
        "attributes": st.dictionaries(st.text(max_size=8), JSON, max_size=3),
    },
)


@st.composite
def dated_intakes(draw: st.DrawFn) -> dict[str, Any]:
    """The valid intake with random claim kinds and each date field random or absent."""
    kinds = draw(st.lists(st.sampled_from(CLAIM_KINDS), min_size=1, max_size=3, unique=True))
    intake = make_intake(claims=[{"kind": k, "amount": "100"} for k in kinds])
    for key in ("employment_ended_on", "knew_of_infringement_on", "received_on"):
        intake.pop(key, None)
        if draw(st.booleans()):
            intake[key] = draw(value_for(key, ANY_DATES, JSON))
    return intake


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _at_path(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def mutated_intakes(draw: st.DrawFn) -> dict[str, Any]:
    """The valid intake with a few fields, at any depth, removed, replaced or added."""
    intake: dict[str, Any] = copy.deepcopy(make_intake())
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(intake))))
        node = _at_path(intake, path)
        op = draw(st.sampled_from(["remove", "replace", "add"]))
        if op in ("remove", "replace") and path:
            parent = _at_path(intake, path[:-1])
            if op == "remove":
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(value_for(path[-1], ANY_DATES, VALUES))
        elif isinstance(node, dict):
            key = draw(st.sampled_from(INTAKE_KEYS + NESTED_KEYS) | st.text(max_size=8))
            node[key] = draw(value_for(key, ANY_DATES, VALUES))
        elif isinstance(node, list):
            extra = copy.deepcopy(node[0]) if node and draw(st.booleans()) else draw(VALUES)
            node.append(extra)
    return intake


ARBITRARY_INTAKES = st.dictionaries(
    st.sampled_from(INTAKE_KEYS) | st.text(max_size=10), VALUES, max_size=8
)


@pytest.fixture(scope="module")
def fuzz_engine() -> Iterator[Engine]:
    eng = Engine("sqlite://", early_warning=(), clock=lambda: MOMENT, entry_points=False)
    yield eng
    eng.close()


@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(intake=st.one_of(mutated_intakes(), dated_intakes(), TYPED_INTAKES, ARBITRARY_INTAKES))
# Found by this test: a wage claim whose employment ended on the last day datetime can hold.
@example(intake=make_intake(employment_ended_on="9999-12-31"))
def test_open_case_gives_a_case_or_invalid_intake(fuzz_engine: Engine, intake: Any) -> None:
    refusal: InvalidIntake | None = None
    try:
        case = fuzz_engine.open_case(intake, at=MOMENT)
    except InvalidIntake as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.field, refusal
        return
    assert isinstance(case, Case)
    kinds = {p.kind.value for p in case.parties}
    assert {"worker", "employer"} <= kinds, case.parties
    assert re.fullmatch(r"\d{6}", case.region), case.region
    assert (case.state, case.version) == ("received", 1)
    assert case.received_on <= MOMENT.date()
    assert [e.trigger for e in fuzz_engine.history(case.id)] == ["open_case"]


@settings(max_examples=50, deadline=None, database=None)
@given(
    intake=st.one_of(
        st.lists(JSON, max_size=3),
        st.text(),
        st.none(),
        st.integers(),
        st.floats(),
        st.tuples(JSON),
        st.builds(lambda d: list(d.items()), ARBITRARY_INTAKES),
    )
)
def test_open_case_refuses_what_is_not_a_dict(fuzz_engine: Engine, intake: Any) -> None:
    with pytest.raises(InvalidIntake):
        fuzz_engine.open_case(intake, at=MOMENT)


def test_a_refused_intake_stores_nothing(fuzz_engine: Engine) -> None:
    last = fuzz_engine.open_case(make_intake(), at=MOMENT).id
    with pytest.raises(InvalidIntake):
        fuzz_engine.open_case(make_intake(parties=[]), at=MOMENT)
    with pytest.raises(CaseNotFound):
        fuzz_engine.get(last + 1)


# --- fire data fuzzing ----------------------------------------------------------------------------

FIELD_NAMES = sorted(
    {
        "by",
        "note",
        "agreed_until",
        "perform_by",
        "org_id",
        "org_type",
        "received_on",
        "accepted_on",
        "days",
        "effective_on",
        "confirms_labour_relationship",
        "reason",
        "served_on",
        "items",
        "monthly_minimum_wage",
        "party",
        "entrusted",
        "respondent_served_on",
        "procedure",
        "wage_iou",
    }
)


def fire_values(dates: st.SearchStrategy[date]) -> st.SearchStrategy[Any]:
    party = st.sampled_from(["worker", "employer", "both", "judge", ""])
    return st.one_of(
        JSON,
        party,
        st.sampled_from(
            [
                "enterprise_committee",
                "union_org",
                "refused",
                "expired",
                "simple",
                "ordinary",
                "组织",
                *CLAIM_KINDS,
            ]
        ),
        dates,
        dates.map(date.isoformat),
        st.dictionaries(party, dates.map(date.isoformat) | JSON, max_size=3),
        st.lists(
            st.fixed_dictionaries(
                {"kind": st.sampled_from([*CLAIM_KINDS, "x"])},
                optional={"amount": st.decimals(allow_nan=True) | JSON},
            ),
            max_size=3,
        ),
        st.decimals(allow_nan=True, allow_infinity=True),
        st.integers(-5, 40),
    )


def well_typed(type_name: str, dates: st.SearchStrategy[date]) -> st.SearchStrategy[Any]:
    """Values a data field of ``type_name`` (mediation_flow.flow.data) accepts."""
    iso = dates.map(date.isoformat)
    return {
        "date": st.one_of(iso, dates),
        "party_dates": st.dictionaries(
            st.sampled_from(["worker", "employer"]), iso, min_size=1, max_size=2
        ),
        "party": st.sampled_from(["worker", "employer"]),
        "by": st.sampled_from(["worker", "employer", "both"]),
        "bool": st.booleans(),
        "text": st.text(min_size=1, max_size=8),
        "money": st.one_of(st.integers(0, 10**6), st.integers(0, 10**8).map(str)),
        "days": st.integers(1, 20),
        "award_items": st.lists(
            st.fixed_dictionaries(
                {"kind": st.sampled_from(CLAIM_KINDS), "amount": st.integers(0, 10**5).map(str)}
            ),
            min_size=1,
            max_size=3,
        ),
        "union_org_type": st.sampled_from(["enterprise_committee", "union_org"]),
        "procedure": st.sampled_from(["ordinary", "simple"]),
        "failure_reason": st.sampled_from(["refused", "no_agreement", "expired"]),
    }.get(type_name, JSON)


@st.composite
def fire_inputs(draw: st.DrawFn, dates: st.SearchStrategy[date]) -> tuple[str, str, Any]:
    """A state of flow.md §2, a trigger (legal there two times in three) and data for it: mostly a
    dict of the trigger's own fields (as the flow declares them) with values of their type or
    not, sometimes other keys, sometimes not a dict at all."""
    state = draw(st.sampled_from(STATES))
    legal = legal_in(state)
    names = st.sampled_from(TRIGGER_NAMES)
    legal_names = st.sampled_from(legal)
    trigger = draw(st.one_of(legal_names, legal_names, names) if legal else names)
    if draw(st.integers(0, 9)) == 0:
        return state, trigger, draw(JSON)
    types = {"by": "by", "note": "text"}
    for t in FLOW.transitions_from(state):
        if t.trigger == trigger:
            types.update({f.name: f.type for f in t.data})
    own = st.sampled_from(sorted(types))
    # Per example: only the trigger's fields with values of their type, or a mix with other keys
    # and values of any shape.
    well_formed = draw(st.booleans())
    others = st.one_of(st.sampled_from(FIELD_NAMES), st.text(max_size=6))
    keys = draw(
        st.lists(own if well_formed else st.one_of(own, own, others), max_size=4, unique=True)
    )
    data = {}
    for key in keys:
        garbage = value_for(key, dates, fire_values(dates))
        typed = well_typed(types[key], dates) if key in types else garbage
        data[key] = draw(typed if well_formed else st.one_of(typed, garbage))
    return state, trigger, data


#: The calendar covers 2004-2026; dates from 2024 to mid-2026 keep every day-counted due date
#: inside it.
COVERED_DATES = st.dates(min_value=date(2024, 1, 1), max_value=date(2026, 6, 30))
PATH_MOMENT = at(2025, 3, 3, 10)


def _case_in(engine: Engine, state: str) -> int:
    case_id = engine.open_case(make_intake(), at=PATH_MOMENT).id
    for trigger, data in PATHS[state]:
        engine.fire(case_id, trigger, data=data, at=PATH_MOMENT)
    assert engine.get(case_id).state == state
    return case_id


def _fire_fuzzed(
    engine: Engine, state: str, trigger: str, data: Any, allowed: tuple[type[Exception], ...]
) -> None:
    case_id = _case_in(engine, state)
    before = (engine.get(case_id), engine.history(case_id), engine.deadlines(case_id))
    legal = (state, trigger) in LEGAL
    refusal: Exception | None = None
    try:
        case = engine.fire(case_id, trigger, data=data, at=PATH_MOMENT)
    except (IllegalTransition, *allowed) as exc:
        refusal = exc
    hypothesis.event(f"legal={legal}: {type(refusal).__name__ if refusal else 'fired'}")
    if refusal is None:
        assert legal, f"{trigger} fired from {state}"
        assert case.state in DESTS[(trigger, state)], case.state
        assert case.version == before[0].version + 1
        assert engine.history(case_id)[-1].trigger == trigger
        return
    if isinstance(refusal, IllegalTransition):
        assert not legal, f"{trigger} is legal in {state}"
    elif data is not None and (not isinstance(data, Mapping) or json_limit_problem(data)):
        # Data that is not a mapping, or over the size and depth limits, is refused before
        # the trigger's legality is looked at: nothing walks it first.
        assert isinstance(refusal, InvalidData) and refusal.field == "data", refusal
    else:
        assert legal, f"{trigger} is not legal in {state}: expected IllegalTransition: {refusal!r}"
    after = (engine.get(case_id), engine.history(case_id), engine.deadlines(case_id))
    assert after == before, "a refused command wrote something"


@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(inputs=fire_inputs(COVERED_DATES))
def test_fire_with_arbitrary_data_gives_a_case_or_a_documented_refusal(
    fuzz_engine: Engine, inputs: tuple[str, str, Any]
) -> None:
    state, trigger, data = inputs
    _fire_fuzzed(fuzz_engine, state, trigger, data, (GuardFailed, InvalidData))


@settings(
    max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(inputs=fire_inputs(ANY_DATES))
# Found by this test: dates near the end of what datetime.date can hold.
@example(inputs=("judicial_confirmation", "confirm_agreement", {"perform_by": "9999-12-31"}))
@example(inputs=("union_mediation", "sign_agreement", {"effective_on": "9999-12-31"}))
def test_fire_with_dates_of_any_year_gives_a_case_or_a_documented_refusal(
    fuzz_engine: Engine, inputs: tuple[str, str, Any]
) -> None:
    """Dates anywhere in 0001-9999: a due date in a year the calendar does not cover may raise
    the documented ``CalendarNotAvailable`` (errors.py: nothing is written), nothing else."""
    state, trigger, data = inputs
    assume(isinstance(data, dict))
    _fire_fuzzed(
        fuzz_engine, state, trigger, data, (GuardFailed, InvalidData, CalendarNotAvailable)
    )


# --- several workers, each with their own windows (LDI-1 17) --------------------------------------


@st.composite
def several_workers(draw: st.DrawFn) -> tuple[list[int], int, dict[int, int]]:
    """Service offsets (days after the award) of 2-4 workers and of the employer, and the
    workers who sue with the day of their suit. At least one worker does not sue, and every suit
    comes while that worker's window is still open, so the case waits for every window."""
    offsets = draw(st.lists(st.integers(0, 12), min_size=2, max_size=4), label="workers")
    employer = draw(st.integers(0, 12), label="employer")
    stays = draw(st.integers(0, len(offsets) - 1), label="who does not sue")
    suers = draw(
        st.lists(st.sampled_from([i for i in range(len(offsets)) if i != stays]), unique=True),
        label="who sues",
    )
    # Day 15 after the earliest of the non-suer's service is inside every window it can close
    # (a window is at least 15 cd), so a suit by then keeps the case waiting.
    limit = offsets[stays] + 15
    suits = {
        i: draw(st.integers(offsets[i], min(offsets[i] + 15, limit)), label=f"worker {i} sues")
        for i in suers
    }
    return offsets, employer, suits


@settings(max_examples=25, deadline=None, database=None)
@given(case=several_workers())
def test_each_of_several_workers_has_the_award_take_effect_on_their_own_date(
    case: tuple[list[int], int, dict[int, int]],
) -> None:
    """LDI-1 17; LDMAL 50: with several workers served on different days, the award takes
    effect for each worker who did not sue on the day after the later of their own and the
    employer's 15-cd windows; not for those who sued; the case goes to court iff someone sued."""
    offsets, employer_offset, suits = case
    award_day = date(2025, 6, 2)
    names = ["张三", "李四", "王五", "赵六"][: len(offsets)]
    parties = [{"kind": "worker", "role": "applicant", "name": n} for n in names] + [
        {"kind": "employer", "role": "respondent", "name": "长沙某建筑工程有限公司"}
    ]
    served = {
        f"worker-{i + 1}": (award_day + timedelta(days=o)).isoformat()
        for i, o in enumerate(offsets)
    }
    served["employer"] = (award_day + timedelta(days=employer_offset)).isoformat()
    with Engine("sqlite://", early_warning=(), entry_points=False) as engine:
        opened = engine.open_case(make_intake(parties=parties), at=at(2025, 5, 5))
        engine.fire(opened.id, "apply_arbitration", data={"by": "worker-1"}, at=at(2025, 5, 5))
        engine.fire(opened.id, "accept_arbitration", at=at(2025, 5, 6))
        engine.fire(
            opened.id,
            "issue_award",
            data={
                "items": [{"kind": "wages", "amount": "90000"}],
                "monthly_minimum_wage": "2000",
                "served_on": served,
            },
            at=at(2025, 6, 2),
        )
        dues = {d.party: d.due for d in engine.deadlines(opened.id) if d.kind == "suit_window"}
        for pid, day in served.items():
            key = "employer-1" if pid == "employer" else pid
            assert dues[key] == engine.calendar.add_calendar_days(date.fromisoformat(day), 15)
        for i, offset in sorted(suits.items(), key=lambda kv: kv[1]):
            day = award_day + timedelta(days=offset)
            sued = engine.fire(
                opened.id,
                "file_lawsuit",
                data={"by": f"worker-{i + 1}"},
                at=at(day.year, day.month, day.day, 10),
            )
            assert sued.state == "award_nonfinal"
        last = max(dues.values())
        engine.tick(at(last.year, last.month, last.day, 23, 59) + timedelta(minutes=2))
        result = engine.get(opened.id)
        assert result.state == ("litigation" if suits else "enforceable")
        expected = {}
        for i in range(len(offsets)):
            pid = f"worker-{i + 1}"
            later = max(dues[pid], dues["employer-1"])
            expected[pid] = None if i in suits else (later + timedelta(days=1)).isoformat()
        assert result.attributes["award_effective_on"] == expected
