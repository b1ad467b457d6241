"""Reports: what happened to a cohort of cases, per channel, per stage, per month.

:func:`build_report` reads the database with five aggregate SQL statements (SQLAlchemy Core, the
same SQL on SQLite ≥ 3.25 and PostgreSQL; ``_Queries``) and returns a :class:`Report`, a frozen
value that :func:`to_table`, :func:`to_csv`, :func:`to_json` and :func:`to_html` render. Nothing is
loaded row by row: each statement returns grouped rows whose number does not grow with the number
of cases (the overdue list excepted, capped by ``overdue_limit``). The histories are read in one
pass (``_Queries.history``): a single window over each case's state-changing events gives the
moves between channels, the stage that resolved the case and every spell.

Definitions
-----------

**Cohort.** A report covers the cases *opened* in its window: ``region`` is a prefix of the
6-digit division code (``"43"`` = Hunan, ``"4301"`` = Changsha); ``since`` and ``until`` are
days in China (Asia/Shanghai), both inclusive, compared with ``opened_at``. Every figure counts
these cases only, with all of their history, whenever it happened (a case opened in March and
closed in May counts as closed in a March-to-March report). ``today`` only decides what is
overdue.

**Channels.** The five channels of flow.md §1 plus three pseudo-channels, so that every case has
a place in the flow diagram: ``intake`` (``received``: at one-stop intake, not yet routed),
``negotiation`` (the ``negotiation`` state: not one of the five, but an entry path) and
``closed`` (the terminal states). Other states without a channel (``mediation_failed``,
``agreement_in_performance``, ``enforceable``...) belong to no channel: a case passing through
them stays, for the diagram, in the last channel it was in.

* *opened per channel*: the first channel a case entered after intake; a case that never left
  intake (still there, or closed there) counts under ``intake``. The figures sum to the cases.
* *closed per channel*: for a closed case, the channel of the stage that resolved it (below):
  a mediation agreement counts in the channel of the mediation that reached it, even when a
  court then confirmed it; an award in ``arbitration``; court mediation, judgments and payment
  orders in ``judicial``. A case that ended without a resolution on the merits (withdrawn, out
  of scope, abandoned) counts in the channel it was in when it ended. The figures sum to the
  closed cases.
* *movements*: every move of a case from one channel to another (intake and closed included),
  in the order of its history; staying in a channel (``arbitration`` → ``arbitration_mediation``)
  is no move.

**Closed, resolution, stage.** A case is closed when it is in a terminal state (``closed`` or
``archived``); its ``resolution`` is the one stored on the case. The *stage* that resolved it is
given by the last *outcome event* of its history, the act that produced the binding result
(``_OUTCOME_RULES``; a later outcome overrides an earlier one, e.g. a breached agreement followed
by an award):

=========================  ==========================================================  ==========
stage                      outcome event (trigger, [source/dest condition])             channel
=========================  ==========================================================  ==========
negotiation                ``sign_settlement`` (ENMP 11-12)                             negotiation
union_mediation, ...       ``sign_agreement`` from that state: ``union_mediation``,     the state's
                           ``peoples_mediation``, ``administrative_mediation``,
                           ``prefiling_mediation`` (court-delegated, SMP 27) or a
                           regional plugin's mediation state (LDMAL 14; PML 28-33)
arbitration_mediation      ``issue_mediation_statement`` not from                        arbitration
                           ``arbitration_review`` (LDMAL 42; AR 72-73)
award                      ``award_takes_effect``; ``dismiss_revocation``;               arbitration
                           ``apply_enforcement`` from ``award_final`` (LDMAL 47);
                           ``withdraw_lawsuit`` to ``enforceable`` (I-2000 1)
judicial_mediation         ``issue_court_mediation_statement`` (CPL 100-102)             judicial
judgment                   ``judgment_takes_effect``; ``deliver_final_judgment``         judicial
payment_order              ``payment_order_takes_effect`` (CPL 227);                     judicial
                           ``confirm_performance`` from ``payment_order``
withdrawn                  ``withdraw``; ``withdraw_lawsuit`` to ``closed``              (where it
out_of_scope               ``reject_out_of_scope``                                       ended)
abandoned                  ``abandon`` (no suit after a revoked award, LDMAL 49 ¶3)
other                      a closed case with none of these (a plugin's own path)
=========================  ==========================================================  ==========

Arbitration review (``issue_mediation_statement`` from ``arbitration_review``, AR 74-77) and
judicial confirmation (``confirm_agreement``, CPL 205-206) only make an agreement enforceable:
the agreement's mediation stays the stage, and ``confirmed_agreements`` counts the closed cases
whose agreement went through either.

**Resolved before arbitration** (the aim of the linkage, 前端化解): closed cases whose stage is
``negotiation`` or a mediation agreement reached outside arbitration and litigation (every
``sign_agreement`` stage, court-delegated pre-filing mediation included; a case that applied for
arbitration and was referred back to mediation counts, as it never had a hearing). The share is
taken over the cases *resolved on the merits*: closed cases other than withdrawn, out of scope,
abandoned and other.

**Durations.** A *spell* is the time from the event that moved a case into a state to the next
event that moved it out (events that leave the state unchanged, such as ``accept_mediation`` or a
recorded expiry, do not end it). Per state: every completed spell; per channel: consecutive spells
in states of one channel form one spell (``arbitration_received`` → ``arbitration`` →
``award_final`` is one arbitration spell); ``time_to_close``: from opening to the event that
closed the case. Spells still running are left out (they have no length yet), and so are
terminal states. Spells are measured to the second; the median and the 90th percentile are taken
over their lengths rounded to the minute, interpolating linearly between ranks as PostgreSQL's
``percentile_cont`` and Python's ``statistics.quantiles(method="inclusive")`` do; the mean uses
the exact lengths. SQLite has no ``percentile_cont``, so both backends run the same SQL: the
database counts the spells per key and minute of length (a ``GROUP BY``), running sums over that
histogram locate the ranks the percentiles need, and only the rows holding them leave the
database. (Ranking every spell with ``row_number()`` instead cost three times as much on SQLite in
the benchmark; fetching the lengths would move a list as long as the histories into Python.)

**Deadlines.** Every deadline of the cohort's cases, counted per kind and status (``met``,
``expired``, ``cancelled``, ``pending``, ``paused``).

**Overdue.** A deadline is overdue on ``today`` when its due day has passed and the act it times
is still outstanding: it is ``pending`` (``tick`` has not applied it yet), or it ``expired`` while
the case is still in a state where the deadline is alive (the award limit ran out and no award
has been made, LDMAL 43; the agreed performance date passed and performance is not confirmed).
*Windows* only lapse, nobody is late: per-party windows (suit, revocation, appeal, objection),
kinds named ``*_window`` and ``defence_due`` (AR 80: a late defence does not stop the hearing)
are never overdue. ``days_overdue`` counts from the day after ``due``.
"""

from __future__ import annotations

import csv
import html
import io
import json
import math
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Connection,
    Float,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    extract,
    false,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.flow.national import national_flow
from mediation_flow.models import Channel, DeadlineStatus, Resolution
from mediation_flow.storage.repository import Store, cases, deadlines, events

__all__ = [
    "CHANNELS",
    "STAGES",
    "DeadlineCounts",
    "Duration",
    "MonthCount",
    "Movement",
    "OverdueItem",
    "Report",
    "build_report",
    "report_from_json",
    "to_csv",
    "to_html",
    "to_json",
    "to_table",
]

SHANGHAI = ZoneInfo("Asia/Shanghai")

# -- vocabulary ------------------------------------------------------------------------------------

#: The channels of a report, in display order: intake, negotiation, the five channels of flow.md
#: §1, closed. Labels: (zh-CN, short zh-CN for charts, English).
_NODE_LABELS: dict[str, tuple[str, str, str]] = {
    "intake": ("受理（未分流）", "受理", "intake, not routed"),
    "negotiation": ("协商", "协商", "negotiation"),
    Channel.union.value: (Channel.union.label_zh, "工会调解", "union mediation"),
    Channel.peoples.value: (Channel.peoples.label_zh, "人民调解", "people's mediation"),
    Channel.administrative.value: (
        Channel.administrative.label_zh,
        "行政调解",
        "administrative mediation",
    ),
    Channel.arbitration.value: (Channel.arbitration.label_zh, "仲裁", "arbitration"),
    Channel.judicial.value: (Channel.judicial.label_zh, "司法", "courts"),
    "closed": ("结案", "结案", "closed"),
}
#: Where a case can be: every node but ``closed``.
CHANNELS: tuple[str, ...] = tuple(n for n in _NODE_LABELS if n != "closed")
#: Node numbers in SQL (``_Queries.history``).
_NODES: tuple[str, ...] = tuple(_NODE_LABELS)

#: Stage ids in display order, with (zh-CN, English) labels. A regional mediation state that
#: reaches agreements adds its own state id after ``administrative_mediation``.
_STAGE_LABELS: dict[str, tuple[str, str]] = {
    "negotiation": ("协商和解", "negotiated settlement"),
    "union_mediation": ("工会调解", "union mediation"),
    "peoples_mediation": ("人民调解", "people's mediation"),
    "administrative_mediation": ("行政调解", "administrative mediation"),
    "prefiling_mediation": ("诉前调解（委派调解）", "court-delegated pre-filing mediation"),
    "arbitration_mediation": ("仲裁调解", "arbitration mediation"),
    "award": ("仲裁裁决", "arbitral award"),
    "judicial_mediation": ("司法调解", "court-entrusted mediation"),
    "judgment": ("判决", "judgment"),
    "payment_order": ("支付令", "payment order"),
    "withdrawn": ("撤回", "withdrawn"),
    "out_of_scope": ("不属于劳动争议", "not a labour dispute"),
    "abandoned": ("撤销裁决后未起诉", "no suit after the award was revoked"),
    "other": ("其他", "other"),
}
STAGES: tuple[str, ...] = tuple(_STAGE_LABELS)
_MEDIATION_STAGES = (
    "union_mediation",
    "peoples_mediation",
    "administrative_mediation",
    "prefiling_mediation",
)
#: Stages that end a case without a resolution on the merits.
_NOT_ON_MERITS = frozenset({"withdrawn", "out_of_scope", "abandoned", "other"})
_STAGE_CHANNEL = {
    "negotiation": "negotiation",
    "arbitration_mediation": Channel.arbitration.value,
    "award": Channel.arbitration.value,
    "judicial_mediation": Channel.judicial.value,
    "judgment": Channel.judicial.value,
    "payment_order": Channel.judicial.value,
}
#: The stage of an outcome event is its source state (a mediation agreement).
_SOURCE = "<source>"

RESOLUTION_LABELS: dict[str, tuple[str, str]] = {
    Resolution.performed.value: ("履行完毕", "performed"),
    Resolution.settled.value: ("和解", "settled"),
    Resolution.enforced.value: ("执行完毕", "enforced"),
    Resolution.withdrawn.value: ("撤回", "withdrawn"),
    Resolution.out_of_scope.value: ("不属于劳动争议", "out of scope"),
    Resolution.abandoned.value: ("逾期未起诉", "abandoned"),
}
_STATUS_LABELS: dict[str, tuple[str, str]] = {
    DeadlineStatus.met.value: ("按期", "met"),
    DeadlineStatus.expired.value: ("逾期", "expired"),
    DeadlineStatus.cancelled.value: ("取消", "cancelled"),
    DeadlineStatus.pending.value: ("进行中", "pending"),
    DeadlineStatus.paused.value: ("中止", "paused"),
}
_CONFIRMATION_LABELS: dict[str, tuple[str, str]] = {
    "judicial_confirmation": ("司法确认", "judicial confirmation"),
    "arbitration_review": ("仲裁审查（出具调解书）", "arbitration review"),
}


@dataclass(frozen=True)
class _Rule:
    """An outcome event: ``trigger`` (from ``source``, not from ``not_source``, to ``dest``)
    resolves the case at ``stage``."""

    trigger: str
    stage: str
    source: str | None = None
    not_source: str | None = None
    dest: str | None = None

    def sql(self) -> ColumnElement[bool]:
        terms = [events.c.trigger == self.trigger]
        if self.source is not None:
            terms.append(events.c.source == self.source)
        if self.not_source is not None:
            terms.append(events.c.source != self.not_source)
        if self.dest is not None:
            terms.append(events.c.dest == self.dest)
        return and_(*terms)


#: The outcome events (module docstring, "Closed, resolution, stage"). First match wins.
_OUTCOME_RULES: tuple[_Rule, ...] = (
    _Rule("sign_settlement", "negotiation"),
    _Rule("sign_agreement", _SOURCE),
    # AR 74-77: a reviewed agreement is confirmed, not resolved anew (see _CONFIRMATIONS).
    _Rule("issue_mediation_statement", "arbitration_mediation", not_source="arbitration_review"),
    _Rule("award_takes_effect", "award"),
    _Rule("dismiss_revocation", "award"),
    # LDMAL 47: a final award binds the employer at once.
    _Rule("apply_enforcement", "award", source="award_final"),
    # I-2000 1: withdrawing the suit after an award lets the award take effect.
    _Rule("withdraw_lawsuit", "award", dest="enforceable"),
    _Rule("issue_court_mediation_statement", "judicial_mediation"),
    _Rule("judgment_takes_effect", "judgment"),
    _Rule("deliver_final_judgment", "judgment"),
    _Rule("payment_order_takes_effect", "payment_order"),
    _Rule("confirm_performance", "payment_order", source="payment_order"),
    _Rule("withdraw", "withdrawn"),
    _Rule("withdraw_lawsuit", "withdrawn", dest="closed"),
    _Rule("reject_out_of_scope", "out_of_scope"),
    _Rule("abandon", "abandoned"),
)
#: Acts that make an agreement enforceable, by code (the highest wins if a case had both).
_CONFIRMATIONS: tuple[tuple[int, str, _Rule], ...] = (
    (1, "arbitration_review", _Rule("issue_mediation_statement", "", source="arbitration_review")),
    (2, "judicial_confirmation", _Rule("confirm_agreement", "")),
)
#: (numerator, denominator) of the percentiles reported: the median and the 90th.
_QUANTILES = ((1, 2), (9, 10))


# -- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duration:
    """Completed spells of one state or channel (or of whole cases): how many, and their
    median, 90th percentile and mean length in days."""

    key: str
    count: int
    median_days: float
    p90_days: float
    mean_days: float


@dataclass(frozen=True)
class DeadlineCounts:
    """The deadlines of one kind, by status."""

    met: int = 0
    expired: int = 0
    cancelled: int = 0
    pending: int = 0
    paused: int = 0

    @property
    def total(self) -> int:
        return self.met + self.expired + self.cancelled + self.pending + self.paused

    @property
    def met_share(self) -> float | None:
        """Met among those that ran their course (met or expired); None if none did."""
        done = self.met + self.expired
        return self.met / done if done else None


@dataclass(frozen=True)
class OverdueItem:
    """A deadline past its due day whose act is still outstanding (module docstring)."""

    deadline_id: int
    case_id: int
    region: str
    state: str
    kind: str
    party: str | None
    status: str
    due: date
    days_overdue: int


@dataclass(frozen=True)
class Movement:
    """Cases moving from one channel to another (``source`` and ``dest`` are channel ids)."""

    source: str
    dest: str
    count: int


@dataclass(frozen=True)
class MonthCount:
    """Cases opened in a month (``YYYY-MM`` in China) by their first channel, and cases of the
    cohort closed in that month."""

    month: str
    opened: dict[str, int]
    closed: int


@dataclass(frozen=True)
class Report:
    """The figures of one cohort of cases (module docstring for every definition).

    Mappings keep a stable order: channels as in :data:`CHANNELS`, stages as in :data:`STAGES`,
    states and deadline kinds in flow order; standard keys are present with 0.
    """

    region: str | None
    since: date | None
    until: date | None
    today: date
    cases: int
    open: int
    closed: int
    #: Open cases by current state.
    open_by_state: dict[str, int]
    opened_per_channel: dict[str, int]
    closed_per_channel: dict[str, int]
    #: Closed cases by the resolution stored on the case.
    resolutions: dict[str, int]
    resolved_by_stage: dict[str, int]
    #: stage -> resolution -> closed cases (only non-zero entries).
    resolution_by_stage: dict[str, dict[str, int]]
    #: Closed cases whose mediation agreement was judicially confirmed or reviewed by arbitration.
    confirmed_agreements: dict[str, int]
    resolved_before_arbitration: int
    resolved_on_merits: int
    share_resolved_before_arbitration: float | None
    state_durations: tuple[Duration, ...]
    channel_durations: tuple[Duration, ...]
    time_to_close: Duration | None
    deadlines: dict[str, DeadlineCounts]
    #: The most overdue first, at most ``overdue_limit`` of them; ``overdue_total`` counts all.
    overdue: tuple[OverdueItem, ...]
    overdue_total: int
    movements: tuple[Movement, ...]
    per_month: tuple[MonthCount, ...]
    #: section ("channel", "stage", "state", "deadline", "resolution", "status",
    #: "confirmation") -> id -> (zh-CN, English) label, for every id the report uses.
    labels: dict[str, dict[str, tuple[str, str]]] = field(repr=False)

    def label(self, section: str, key: str) -> str:
        """The zh-CN label of an id (the id itself if unknown)."""
        return self.labels.get(section, {}).get(key, (key, key))[0]

    def label_en(self, section: str, key: str) -> str:
        return self.labels.get(section, {}).get(key, (key, key))[1]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready data: the field names as keys, dates as ISO strings."""
        out: dict[str, Any] = {}
        for f in fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple) and value and hasattr(value[0], "__dataclass_fields__"):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


# -- the flow, as the report needs it --------------------------------------------------------------


class _FlowInfo:
    """States and deadline kinds of one or more flows (the first definition of an id wins)."""

    def __init__(self, flows: Sequence[FlowDefinition]) -> None:
        self.state_order: list[str] = []
        self.state_labels: dict[str, tuple[str, str]] = {}
        self.node: dict[str, str] = {}
        self.channel: dict[str, str] = {}
        self.terminal: list[str] = []
        self.kind_order: list[str] = []
        self.kind_labels: dict[str, tuple[str, str]] = {}
        self.alive: dict[str, set[str]] = defaultdict(set)
        self.windows: set[str] = set()
        for flow in flows:
            for s in flow.states:
                if s.id in self.state_labels:
                    continue
                self.state_order.append(s.id)
                self.state_labels[s.id] = (s.label_zh, s.label_en)
                node: str | None = None
                if s.id == flow.initial:
                    node = "intake"
                elif s.terminal:
                    node = "closed"
                    self.terminal.append(s.id)
                elif s.id == "negotiation":
                    node = "negotiation"
                elif s.channel is not None:
                    node = s.channel.value
                if node is not None:
                    self.node[s.id] = node
                    if node not in ("intake", "closed"):
                        self.channel[s.id] = node
            for k in flow.deadline_kinds:
                if k.id not in self.kind_labels:
                    self.kind_order.append(k.id)
                    self.kind_labels[k.id] = (k.label_zh, k.label_en)
                    if k.per_party or k.id.endswith("_window") or k.id == "defence_due":
                        self.windows.add(k.id)
                self.alive[k.id].update(k.alive_in)
        if len(self.state_order) >= 999:  # outcome codes keep the source state in 3 digits
            raise ValueError(f"too many states for a report: {len(self.state_order)}")

    def stage_of(self, code: int | None) -> str:
        """The stage of an outcome code (``_Queries._outcome_code``); ``other`` for none."""
        if code is None:
            return "other"
        rule = _OUTCOME_RULES[code // 1000 - 1]
        if rule.stage != _SOURCE:
            return rule.stage
        return self.state_order[code % 1000]

    def stage_label(self, stage: str) -> tuple[str, str]:
        if stage in _STAGE_LABELS:
            return _STAGE_LABELS[stage]
        zh, en = self.state_labels.get(stage, (stage, stage))
        return zh.removesuffix("中"), en.removeprefix("in ").removeprefix("at ")

    def stage_channel(self, stage: str) -> str | None:
        if stage in _STAGE_CHANNEL:
            return _STAGE_CHANNEL[stage]
        return self.channel.get(stage)

    def before_arbitration(self, stage: str) -> bool:
        """Negotiation, or an agreement reached in a mediation outside arbitration."""
        if stage == "negotiation" or stage in _MEDIATION_STAGES:
            return True
        return stage not in _STAGE_LABELS and self.channel.get(stage) != "arbitration"


# -- SQL -------------------------------------------------------------------------------------------


def _next_prefix(digits: str) -> str | None:
    """The smallest digit string above every string starting with ``digits`` ("4309" -> "431");
    None for all nines."""
    stripped = digits.rstrip("9")
    if not stripped:
        return None
    return stripped[:-1] + str(int(stripped[-1]) + 1)


class _Queries:
    """The report's statements for one cohort and dialect (the benchmark times and explains
    them one by one)."""

    def __init__(
        self,
        dialect: str,
        info: _FlowInfo,
        *,
        region: str | None,
        since: date | None,
        until: date | None,
        today: date,
        overdue_limit: int | None,
    ) -> None:
        self.sqlite = dialect == "sqlite"
        self.info = info
        self.today = today
        self.overdue_limit = overdue_limit
        conds: list[ColumnElement[bool]] = []
        if region:
            conds.append(cases.c.region.startswith(region, autoescape=True))
            # The same cases as a range the region index serves (SQLite's LIKE cannot use it).
            if region.isdigit():
                conds.append(cases.c.region >= region)
                if (upper := _next_prefix(region)) is not None:
                    conds.append(cases.c.region < upper)
        if since is not None:
            conds.append(cases.c.opened_at >= datetime.combine(since, time(), SHANGHAI))
        if until is not None:
            end = datetime.combine(until + timedelta(days=1), time(), SHANGHAI)
            conds.append(cases.c.opened_at < end)
        self.conds = conds

    # dialect helpers

    def seconds(self, later: Any, earlier: Any) -> ColumnElement[int]:
        """Whole seconds from ``earlier`` to ``later``."""
        if self.sqlite:
            days = func.julianday(later) - func.julianday(earlier)
            return cast(func.round(days * 86400), Integer)
        return cast(func.round(extract("epoch", later - earlier)), BigInteger)

    def month(self, moment: Any) -> ColumnElement[str]:
        """``YYYY-MM`` of a UTC timestamp, in China (UTC+8 all year since 1991)."""
        if self.sqlite:
            return func.strftime("%Y-%m", moment, "+8 hours")
        return func.to_char(func.timezone("Asia/Shanghai", moment), "YYYY-MM")

    def _events_from(self, *, join: bool = False) -> Any:
        if self.conds or join:
            return events.join(cases, cases.c.id == events.c.case_id)
        return events

    # statements

    def case_counts(self) -> Select[Any]:
        """Cases by state, resolution and opening month."""
        month = self.month(cases.c.opened_at)
        return (
            select(cases.c.state, cases.c.resolution, month.label("month"), func.count())
            .where(*self.conds)
            .group_by(cases.c.state, cases.c.resolution, month)
        )

    def history(self) -> Select[Any]:
        """Moves, closings and spells, from one pass over the state-changing events.

        One window (per case, by ``seq``) gives every row what it needs, because the engine
        keeps ``at`` non-decreasing within a case and a state-changing event's ``source`` is the
        state the previous one entered:

        * ``next_at``, ``next_chan``: when the state ends and which channel comes next;
        * ``island_at``: when the current channel spell began: the latest row whose source and
          destination channels differ (a running ``max(at)``);
        * ``prev_key``: the last channel the case was in before this row, channel-less states
          skipped: a running ``max(seq * 16 + node(source))``, decoded with ``% 16``;
        * ``outcome_key``: the last outcome event so far, ``max(seq * 10**6 + code)``
          (``_outcome_code``); ``confirmed``: the highest confirmation so far.

        Channels and nodes are small integers (``_NODES``), computed once per event in a fenced
        inner query (a ``CASE`` over every state costs about as much as a window function), and
        the values the windows aggregate are computed before them. The rows are then summarised
        in three parts of one result (``part`` says which; unused columns are NULL):

        * ``move``: a = previous node, b = node, month = opening month of a case's first move
          out of intake, n;
        * ``close``: a = outcome code, b = confirmation, month = closing month, text =
          resolution, secs = the node the case ended in, n (every closed case enters once);
        * ``span``: month = kind (state, channel, case), text = key, n = spells of the key,
          mean = their total seconds, and the histogram buckets holding the ranks the
          percentiles need: secs = length in minutes, b = spells of that length, a = spells up
          to and including that length.
        """
        info = self.info
        e = events.c
        node_of = {state: _NODES.index(node) for state, node in info.node.items()}
        first, last = _NODES.index("negotiation"), _NODES.index("judicial")
        inner = (
            select(
                # "+ 0": no index can then give the window its order, so SQLite reads the table
                # in storage order and sorts, instead of walking the (case_id, seq) index with a
                # random table lookup per event (20% faster over interleaved histories in the
                # benchmark). PostgreSQL sorts a whole-table scan anyway.
                (e.case_id + 0).label("case_id"),
                e.seq,
                e.source,
                e.dest,
                e.at,
                case(node_of, value=e.source, else_=None).label("node_src"),
                case(node_of, value=e.dest, else_=None).label("node"),
                self._outcome_code().label("code"),
                self._confirmation_code().label("conf"),
            )
            .select_from(self._events_from())
            .where(e.source != e.dest, *self.conds)
            # OFFSET 0 fences the subquery: neither database merges it into the queries above,
            # so each CASE over the states runs once per event, not once per use.
            .offset(0)
            .subquery("changes")
        )
        a = inner.c

        def channel(node: Any) -> Any:
            return case((node.between(first, last), node), else_=None)

        # The values the windows aggregate, computed per row before them: PostgreSQL folds this
        # into its (parallel) scan, while expressions inside window functions are evaluated in
        # the single-threaded window step (3 times slower there in the benchmark).
        seq = cast(a.seq, BigInteger)
        marks = select(
            a.case_id,
            a.seq,
            a.source,
            a.dest,
            a.at,
            a.node,
            channel(a.node).label("chan"),
            case((channel(a.node_src).is_distinct_from(channel(a.node)), a.at), else_=None).label(
                "island_mark"
            ),
            (seq * 16 + a.node_src).label("prev_mark"),
            (seq * 1_000_000 + a.code).label("outcome_mark"),
            a.conf,
        ).subquery("marks")
        c = marks.c

        def so_far(fn: Any) -> Any:
            """``fn`` over the case's events from the first to this one."""
            return fn.over(partition_by=c.case_id, order_by=c.seq, rows=(None, 0))

        rows = select(
            c.case_id,
            c.source,
            c.dest,
            c.at,
            c.node,
            c.chan,
            so_far(func.lead(c.at, type_=e.at.type)).label("next_at"),
            so_far(func.lead(c.chan)).label("next_chan"),
            so_far(func.max(c.island_mark)).label("island_at"),
            so_far(func.max(c.prev_mark)).label("prev_key"),
            so_far(func.max(c.outcome_mark)).label("outcome_key"),
            so_far(func.max(c.conf)).label("confirmed"),
        ).cte("history")
        h = rows.c
        prev = h.prev_key % 16
        terminal = info.terminal
        closing = and_(h.dest.in_(terminal), h.source.not_in(terminal))

        def null(type_: Any) -> Any:
            return cast(literal(None), type_)

        opened_month = case(
            (prev == _NODES.index("intake"), self.month(cases.c.opened_at)), else_=None
        )
        moves = (
            select(
                literal("move").label("part"),
                prev.label("a"),
                h.node.label("b"),
                opened_month.label("month"),
                null(String).label("text"),
                func.count().label("n"),
                null(Float).label("mean"),
                null(BigInteger).label("secs"),
            )
            .select_from(rows.join(cases, cases.c.id == h.case_id))
            .where(h.node.is_not(None), h.prev_key.is_not(None), prev != h.node)
            .group_by(prev, h.node, opened_month)
        )
        closed_month = self.month(h.at)
        outcome = h.outcome_key % 1_000_000
        closings = (
            select(
                literal("close").label("part"),
                outcome.label("a"),
                h.confirmed.label("b"),
                closed_month.label("month"),
                cases.c.resolution.label("text"),
                func.count().label("n"),
                null(Float).label("mean"),
                prev.label("secs"),
            )
            .select_from(rows.join(cases, cases.c.id == h.case_id))
            .where(closing)
            .group_by(outcome, h.confirmed, closed_month, cases.c.resolution, prev)
        )
        ended_island = and_(
            h.chan.is_not(None), h.next_at.is_not(None), h.next_chan.is_distinct_from(h.chan)
        )
        spans = union_all(
            select(
                literal("state").label("kind"),
                h.dest.label("key"),
                self.seconds(h.next_at, h.at).label("secs"),
            ).where(h.next_at.is_not(None), h.dest.not_in(terminal)),
            select(
                literal("channel").label("kind"),
                cast(h.chan, String).label("key"),
                self.seconds(h.next_at, h.island_at).label("secs"),
            ).where(ended_island),
            select(
                literal("case").label("kind"),
                literal("closed").label("key"),
                self.seconds(h.at, cases.c.opened_at).label("secs"),
            )
            .select_from(rows.join(cases, cases.c.id == h.case_id))
            .where(closing),
        ).subquery("spans")
        # Percentiles: count the spells per length in minutes (a GROUP BY: one sort on
        # SQLite, a hash on PostgreSQL; window functions over every spell cost three times as
        # much), then running counts over that histogram find the lengths at the ranks the
        # percentiles need. Only those rows leave the database.
        minute = (spans.c.secs + 30) // 60
        histogram = (
            select(
                spans.c.kind,
                spans.c.key,
                minute.label("minute"),
                func.count().label("c"),
                func.sum(spans.c.secs).label("total"),
            )
            .group_by(spans.c.kind, spans.c.key, minute)
            .subquery("histogram")
        )
        hg = histogram.c
        group = (hg.kind, hg.key)
        running = cast(
            func.sum(hg.c).over(partition_by=group, order_by=hg.minute, rows=(None, 0)),
            BigInteger,
        ).label("running")

        def whole(fn: Any) -> Any:
            return fn.over(partition_by=group, order_by=hg.minute, rows=(None, None))

        counted = select(
            hg.kind,
            hg.key,
            hg.minute,
            hg.c,
            running,
            cast(whole(func.sum(hg.c)), BigInteger).label("n"),
            whole(func.sum(hg.total)).label("total"),
        ).subquery("counted")
        k = counted.c
        n = k.n
        wanted = [
            and_(k.running - k.c < rank, rank <= k.running)
            for a, b in _QUANTILES
            for rank in ((a * (n - 1)) // b + 1, (a * (n - 1) + b - 1) // b + 1)
        ]
        percentiles = select(
            literal("span").label("part"),
            k.running.label("a"),
            k.c.label("b"),
            k.kind.label("month"),
            k.key.label("text"),
            k.n.label("n"),
            k.total.label("mean"),
            k.minute.label("secs"),
        ).where(or_(*wanted))
        return union_all(moves, closings, percentiles)  # type: ignore[return-value]

    def _outcome_code(self) -> ColumnElement[int]:
        """For an outcome event, ``rule number * 1000`` (plus the index of the source state for
        a mediation agreement); else NULL. Most events fail the cheap ``IN`` test first."""
        e = events.c
        states = {state: i for i, state in enumerate(self.info.state_order)}
        whens = []
        for number, rule in enumerate(_OUTCOME_RULES, 1):
            code: Any = literal(number * 1000)
            if rule.stage == _SOURCE:
                code = code + case(states, value=e.source, else_=999)
            whens.append((rule.sql(), code))
        triggers = sorted({r.trigger for r in _OUTCOME_RULES})
        return case((e.trigger.in_(triggers), case(*whens, else_=None)), else_=None)

    def _confirmation_code(self) -> ColumnElement[int]:
        e = events.c
        triggers = sorted({rule.trigger for _code, _name, rule in _CONFIRMATIONS})
        codes = case(*((rule.sql(), code) for code, _name, rule in _CONFIRMATIONS), else_=0)
        return case((e.trigger.in_(triggers), codes), else_=0)

    def _deadlines_from(self) -> Any:
        return deadlines.join(cases, cases.c.id == deadlines.c.case_id)

    def deadline_counts(self) -> Select[Any]:
        stmt = select(deadlines.c.kind, deadlines.c.status, func.count())
        if self.conds:
            stmt = stmt.select_from(self._deadlines_from()).where(*self.conds)
        return stmt.group_by(deadlines.c.kind, deadlines.c.status)

    def _overdue_where(self) -> list[ColumnElement[bool]]:
        info = self.info
        still_alive = [
            and_(deadlines.c.kind == kind, cases.c.state.in_(sorted(states)))
            for kind, states in info.alive.items()
            if kind not in info.windows and states
        ]
        pending = DeadlineStatus.pending.value
        expired = DeadlineStatus.expired.value
        return [
            # The (status, due) index: two short ranges, whatever the size of the history.
            deadlines.c.status.in_((pending, expired)),
            deadlines.c.due < self.today,
            deadlines.c.kind.not_in(sorted(info.windows)),
            or_(
                deadlines.c.status == pending,
                and_(deadlines.c.status == expired, or_(false(), *still_alive)),
            ),
            *self.conds,
        ]

    def overdue(self) -> Select[Any]:
        stmt = (
            select(
                deadlines.c.id,
                deadlines.c.case_id,
                cases.c.region,
                cases.c.state,
                deadlines.c.kind,
                deadlines.c.party,
                deadlines.c.status,
                deadlines.c.due,
            )
            .select_from(self._deadlines_from())
            .where(*self._overdue_where())
            .order_by(deadlines.c.due, deadlines.c.id)
        )
        if self.overdue_limit is not None:
            stmt = stmt.limit(self.overdue_limit)
        return stmt

    def overdue_count(self) -> Select[Any]:
        return (
            select(func.count()).select_from(self._deadlines_from()).where(*self._overdue_where())
        )

    def all(self) -> dict[str, Select[Any]]:
        """Every statement of the report, by name."""
        return {
            "case_counts": self.case_counts(),
            "history": self.history(),
            "deadline_counts": self.deadline_counts(),
            "overdue": self.overdue(),
            "overdue_count": self.overdue_count(),
        }


# -- building the report ---------------------------------------------------------------------------


def _flows(flows: FlowDefinition | Iterable[FlowDefinition] | None) -> list[FlowDefinition]:
    if flows is None:
        return [national_flow()]
    if isinstance(flows, FlowDefinition):
        return [flows]
    return list(flows) or [national_flow()]


@contextmanager
def _snapshot(source: Store | Connection) -> Iterator[Connection]:
    """A read transaction: one consistent view for every statement of the report."""
    if isinstance(source, Connection):
        yield source
        return
    with source.engine.connect() as conn:
        if source.is_sqlite:
            with source.reading(conn):
                yield conn
            return
        # READ COMMITTED gives each statement its own snapshot; the figures must agree.
        conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with source.reading(conn):
            if (conn.dialect.server_version_info or (0,)) >= (11,):
                # Compiling the history statement costs more than it saves (about 1 s of
                # 3.6 over 100,000 cases in the benchmark).
                conn.exec_driver_sql("SET LOCAL jit = off")
            yield conn


def build_report(
    source: Store | Connection,
    flows: FlowDefinition | Iterable[FlowDefinition] | None = None,
    *,
    region: str | None = None,
    since: date | None = None,
    until: date | None = None,
    today: date,
    overdue_limit: int | None = 1000,
) -> Report:
    """The report of the cases opened in ``region`` (a division-code prefix) between ``since``
    and ``until`` (days in China, inclusive; None: unbounded), with the deadlines overdue on
    ``today``.

    ``source`` is a :class:`~mediation_flow.storage.repository.Store` (the statements then run in
    one read transaction: ``REPEATABLE READ`` and ``jit = off`` on PostgreSQL) or a SQLAlchemy
    ``Connection`` (used as it is, inside the caller's transaction). ``flows`` are the flow
    definitions the cases may run under (labels, channels, terminal states, deadline kinds;
    default: the national flow); pass every regional flow in use so that plugin states are
    named.
    ``overdue_limit`` caps the overdue list (None: no cap); ``overdue_total`` counts them all.
    """
    if since is not None and until is not None and since > until:
        raise ValueError(f"since ({since}) is after until ({until})")
    info = _FlowInfo(_flows(flows))
    with _snapshot(source) as conn:
        queries = _Queries(
            conn.dialect.name,
            info,
            region=region,
            since=since,
            until=until,
            today=today,
            overdue_limit=overdue_limit,
        )
        case_rows = conn.execute(queries.case_counts()).all()
        history_rows = conn.execute(queries.history()).all()
        deadline_rows = conn.execute(queries.deadline_counts()).all()
        overdue_rows = conn.execute(queries.overdue()).all()
        overdue_total = int(conn.execute(queries.overdue_count()).scalar_one())
    return _assemble(
        info,
        region=region,
        since=since,
        until=until,
        today=today,
        case_rows=case_rows,
        history_rows=history_rows,
        deadline_rows=deadline_rows,
        overdue_rows=overdue_rows,
        overdue_total=overdue_total,
    )


def _ordered(counts: Mapping[str, int], order: Iterable[str], *, zeros: bool) -> dict[str, int]:
    """``counts`` in ``order`` (keys missing from the order follow, sorted)."""
    order = list(order)
    keys = [k for k in order if zeros or counts.get(k)]
    keys += sorted(k for k in counts if k not in order and counts[k])
    return {k: int(counts.get(k, 0)) for k in keys}


def _assemble(
    info: _FlowInfo,
    *,
    region: str | None,
    since: date | None,
    until: date | None,
    today: date,
    case_rows: Sequence[Any],
    history_rows: Sequence[Any],
    deadline_rows: Sequence[Any],
    overdue_rows: Sequence[Any],
    overdue_total: int,
) -> Report:
    terminal = set(info.terminal)
    total = closed = 0
    by_state: dict[str, int] = defaultdict(int)
    resolutions: dict[str, int] = defaultdict(int)
    opened_by_month: dict[str, int] = defaultdict(int)
    for state, resolution, month, n in case_rows:
        total += n
        opened_by_month[month] += n
        if state in terminal:
            closed += n
            resolutions[resolution or "other"] += n
        else:
            by_state[state] += n

    moves = [r for r in history_rows if r.part == "move"]
    closings = [r for r in history_rows if r.part == "close"]
    spans = [r for r in history_rows if r.part == "span"]

    movements: dict[tuple[str, str], int] = defaultdict(int)
    first_channel: dict[str, int] = defaultdict(int)
    first_by_month: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in moves:
        prev, node = _NODES[int(r.a)], _NODES[int(r.b)]
        movements[prev, node] += r.n
        if prev == "intake" and node != "closed":
            first_channel[node] += r.n
            first_by_month[r.month][node] += r.n
    first_channel["intake"] = total - sum(first_channel.values())

    by_stage: dict[str, int] = defaultdict(int)
    resolution_by_stage: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    confirmed: dict[str, int] = defaultdict(int)
    closed_by_month: dict[str, int] = defaultdict(int)
    ended_in: dict[str, int] = defaultdict(int)
    names = {code: name for code, name, _rule in _CONFIRMATIONS}
    for r in closings:
        stage = info.stage_of(None if r.a is None else int(r.a))
        by_stage[stage] += r.n
        resolution_by_stage[stage][r.text or "other"] += r.n
        if r.b:
            confirmed[names[int(r.b)]] += r.n
        closed_by_month[r.month] += r.n
        if stage in _NOT_ON_MERITS:
            ended_in[_NODES[int(r.secs)] if r.secs is not None else "other"] += r.n
    # Closed cases whose history has no closing event (not written by this engine).
    unexplained = closed - sum(by_stage.values())
    if unexplained:
        by_stage["other"] += unexplained
        ended_in["other"] += unexplained
        for resolution, n in resolutions.items():
            rest = n - sum(r.get(resolution, 0) for r in resolution_by_stage.values())
            if rest:
                resolution_by_stage["other"][resolution] += rest

    closed_per_channel: dict[str, int] = defaultdict(int, ended_in)
    for stage, n in by_stage.items():
        if stage not in _NOT_ON_MERITS:
            closed_per_channel[info.stage_channel(stage) or "other"] += n

    stage_order = [
        *STAGES[:4],
        *sorted(s for s in by_stage if s not in _STAGE_LABELS),
        *STAGES[4:],
    ]
    resolved_by_stage = _ordered(by_stage, [s for s in stage_order if s != "other"], zeros=True)
    if by_stage.get("other"):
        resolved_by_stage["other"] = by_stage["other"]
    on_merits = sum(n for s, n in by_stage.items() if s not in _NOT_ON_MERITS)
    before = sum(
        n for s, n in by_stage.items() if s not in _NOT_ON_MERITS and info.before_arbitration(s)
    )

    months = _month_range(set(opened_by_month) | set(closed_by_month))
    per_month = []
    for month in months:
        opened = dict(first_by_month.get(month, {}))
        opened["intake"] = opened_by_month.get(month, 0) - sum(opened.values())
        per_month.append(
            MonthCount(
                month,
                _ordered(opened, CHANNELS, zeros=True),
                closed_by_month.get(month, 0),
            )
        )

    node_order = list(_NODE_LABELS)
    move_list = tuple(
        Movement(a, b, n)
        for (a, b), n in sorted(
            movements.items(),
            key=lambda item: (_index(node_order, item[0][0]), _index(node_order, item[0][1])),
        )
    )

    state_durations, channel_durations, to_close = _durations(info, spans)

    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for kind, status, n in deadline_rows:
        counts[kind][status] = n
    kind_order = [k for k in info.kind_order if k in counts]
    kind_order += sorted(k for k in counts if k not in info.kind_order)
    deadline_counts = {
        k: DeadlineCounts(**{s: n for s, n in counts[k].items() if s in _STATUS_LABELS})
        for k in kind_order
    }

    overdue = tuple(
        OverdueItem(
            deadline_id=r.id,
            case_id=r.case_id,
            region=r.region,
            state=r.state,
            kind=r.kind,
            party=r.party,
            status=r.status,
            due=r.due,
            days_overdue=(today - r.due).days,
        )
        for r in overdue_rows
    )

    labels: dict[str, dict[str, tuple[str, str]]] = {
        "channel": {k: (v[0], v[2]) for k, v in _NODE_LABELS.items()},
        "stage": {s: info.stage_label(s) for s in resolved_by_stage},
        "state": dict(info.state_labels),
        "deadline": dict(info.kind_labels),
        "resolution": dict(RESOLUTION_LABELS),
        "status": dict(_STATUS_LABELS),
        "confirmation": dict(_CONFIRMATION_LABELS),
    }
    labels["channel"]["other"] = ("其他", "other")
    return Report(
        region=region,
        since=since,
        until=until,
        today=today,
        cases=total,
        open=total - closed,
        closed=closed,
        open_by_state=_ordered(by_state, info.state_order, zeros=False),
        opened_per_channel=_ordered(first_channel, CHANNELS, zeros=True),
        closed_per_channel=_ordered(closed_per_channel, CHANNELS, zeros=True),
        resolutions=_ordered(resolutions, RESOLUTION_LABELS, zeros=True),
        resolved_by_stage=resolved_by_stage,
        resolution_by_stage={
            s: _ordered(resolution_by_stage[s], RESOLUTION_LABELS, zeros=False)
            for s in resolved_by_stage
            if s in resolution_by_stage
        },
        confirmed_agreements=_ordered(confirmed, _CONFIRMATION_LABELS, zeros=True),
        resolved_before_arbitration=before,
        resolved_on_merits=on_merits,
        share_resolved_before_arbitration=before / on_merits if on_merits else None,
        state_durations=state_durations,
        channel_durations=channel_durations,
        time_to_close=to_close,
        deadlines=deadline_counts,
        overdue=overdue,
        overdue_total=overdue_total,
        movements=move_list,
        per_month=tuple(per_month),
        labels=labels,
    )


def _month_range(months: set[str]) -> list[str]:
    """Every month from the first to the last of ``months`` (``YYYY-MM``), gaps included."""
    if not months:
        return []
    first, last = min(months), max(months)
    year, month = int(first[:4]), int(first[5:])
    out = []
    while (key := f"{year:04d}-{month:02d}") <= last:
        out.append(key)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _index(order: list[str], key: str) -> int:
    return order.index(key) if key in order else len(order)


def _durations(
    info: _FlowInfo, rows: Sequence[Any]
) -> tuple[tuple[Duration, ...], tuple[Duration, ...], Duration | None]:
    """Percentiles from the histogram rows that hold the needed ranks (``_Queries.history``):
    linear interpolation between the ranks ``1 + p(n-1)`` rounded down and up."""
    groups: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for r in rows:
        groups[r.month, r.text].append(r)
    made: dict[tuple[str, str], Duration] = {}
    for (kind, key), buckets in groups.items():
        n = int(buckets[0].n)

        def at_rank(rank: int, buckets: list[Any] = buckets) -> int:
            """Minutes of the spell at ``rank`` (1-based) in length order."""
            return next(int(b.secs) for b in buckets if int(b.a) - int(b.b) < rank <= int(b.a))

        values = []
        for a, b in _QUANTILES:
            lo, hi = a * (n - 1) // b + 1, (a * (n - 1) + b - 1) // b + 1
            fraction = (a * (n - 1) % b) / b
            low = at_rank(lo)
            values.append((low + (at_rank(hi) - low) * fraction) / 1440)
        mean = float(buckets[0].mean) / n / 86400
        made[kind, key] = Duration(key, n, values[0], values[1], mean)
    state_keys = {key for kind, key in made if kind == "state"}
    order = [s for s in info.state_order if s in state_keys]
    order += sorted(state_keys - set(order))
    states = tuple(made["state", s] for s in order)
    channels = tuple(
        replace(made["channel", str(i)], key=c)
        for i, c in enumerate(_NODES)
        if ("channel", str(i)) in made
    )
    return states, channels, made.get(("case", "closed"))


# -- JSON ------------------------------------------------------------------------------------------


def to_json(report: Report, *, indent: int | None = 2) -> str:
    """The report as JSON: the :class:`Report` field names as keys, in field order; dates as ISO
    strings; durations in days. :func:`report_from_json` reads it back."""
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=indent)


def report_from_json(text: str) -> Report:
    """The :class:`Report` that :func:`to_json` wrote."""
    data = json.loads(text)

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    def duration(value: dict[str, Any] | None) -> Duration | None:
        return Duration(**value) if value else None

    return Report(
        **{
            **data,
            "since": day(data["since"]),
            "until": day(data["until"]),
            "today": date.fromisoformat(data["today"]),
            "state_durations": tuple(Duration(**d) for d in data["state_durations"]),
            "channel_durations": tuple(Duration(**d) for d in data["channel_durations"]),
            "time_to_close": duration(data["time_to_close"]),
            "deadlines": {k: DeadlineCounts(**v) for k, v in data["deadlines"].items()},
            "overdue": tuple(
                OverdueItem(**{**o, "due": date.fromisoformat(o["due"])}) for o in data["overdue"]
            ),
            "movements": tuple(Movement(**m) for m in data["movements"]),
            "per_month": tuple(MonthCount(**m) for m in data["per_month"]),
            "labels": {
                section: {k: (v[0], v[1]) for k, v in entries.items()}
                for section, entries in data["labels"].items()
            },
        }
    )


# -- plain text ------------------------------------------------------------------------------------


def _width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    """An aligned text table: the first ``numeric_from`` columns left-aligned, the rest right."""
    widths = [_width(h) for h in headers]
    for row in rows:
        widths = [max(w, _width(c)) for w, c in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = []
        for i, (cell, w) in enumerate(zip(cells, widths, strict=True)):
            pad = " " * (w - _width(cell))
            parts.append(cell + pad if i < numeric_from else pad + cell)
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def _days(value: float) -> str:
    return f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _scope_text(report: Report) -> str:
    since = report.since.isoformat() if report.since else "不限"
    until = report.until.isoformat() if report.until else "不限"
    return (
        f"地区 {report.region or '全部'} · 受理日期 {since} 至 {until} · "
        f"统计日 {report.today.isoformat()}"
    )


def _duration_rows(report: Report, items: Sequence[Duration], section: str) -> list[list[str]]:
    return [
        [
            report.label(section, d.key),
            str(d.count),
            _days(d.median_days),
            _days(d.p90_days),
            _days(d.mean_days),
        ]
        for d in items
    ]


def to_table(report: Report) -> str:
    """The report as aligned plain text with zh-CN labels (for a terminal; CJK characters
    count as two columns)."""
    r = report
    out: list[str] = [
        "劳动人事争议“五调联动”统计报表  Labour-dispute linkage report",
        _scope_text(r),
        f"案件 {r.cases} 件：已结 {r.closed} 件，在办 {r.open} 件",
        "",
        "一、各渠道受理与结案  Cases per channel (opened: first channel; closed: resolving stage)",
        _grid(
            ["渠道", "首次进入", "结案"],
            [
                [
                    r.label("channel", c),
                    str(r.opened_per_channel.get(c, 0)),
                    str(r.closed_per_channel.get(c, 0)),
                ]
                for c in dict.fromkeys([*r.opened_per_channel, *r.closed_per_channel])
            ]
            + [["合计", str(r.cases), str(r.closed)]],
        ),
    ]
    resolutions = [k for k, n in r.resolutions.items() if n] or list(r.resolutions)[:1]
    out += [
        "",
        "二、结案阶段与结案方式  Stage that resolved each closed case",
        _grid(
            ["阶段", "结案", *(r.label("resolution", k) for k in resolutions)],
            [
                [
                    r.label("stage", s),
                    str(n),
                    *(str(r.resolution_by_stage.get(s, {}).get(k, 0)) for k in resolutions),
                ]
                for s, n in r.resolved_by_stage.items()
            ],
        ),
        f"仲裁前化解率 resolved before arbitration: {_percent(r.share_resolved_before_arbitration)}"
        f"（{r.resolved_before_arbitration}/{r.resolved_on_merits} 件实体结案）",
        "调解协议经"
        + "，".join(
            f"{r.label('confirmation', k)} {n} 件" for k, n in r.confirmed_agreements.items()
        ),
    ]
    headers = ["", "件数", "中位数", "P90", "平均"]
    out += [
        "",
        "三、用时（天）  Time spent (days; completed spells)",
        _grid(["状态", *headers[1:]], _duration_rows(r, r.state_durations, "state")),
        "",
        _grid(["渠道", *headers[1:]], _duration_rows(r, r.channel_durations, "channel")),
    ]
    if r.time_to_close is not None:
        t = r.time_to_close
        out.append(
            f"受理至结案 time to close: {t.count} 件，中位数 {_days(t.median_days)} 天，"
            f"P90 {_days(t.p90_days)} 天，平均 {_days(t.mean_days)} 天"
        )
    statuses = list(_STATUS_LABELS)
    out += [
        "",
        "四、期限执行情况  Deadlines by kind and status",
        _grid(
            ["期限", *(r.label("status", s) for s in statuses), "按期率"],
            [
                [
                    r.label("deadline", k),
                    *(str(getattr(c, s)) for s in statuses),
                    _percent(c.met_share),
                ]
                for k, c in r.deadlines.items()
            ],
        ),
        "",
        f"五、逾期事项  Overdue on {r.today.isoformat()}: {r.overdue_total} 项"
        + (f"（列出 {len(r.overdue)} 项）" if len(r.overdue) < r.overdue_total else ""),
    ]
    if r.overdue:
        out.append(
            _grid(
                ["案件", "地区", "当前状态", "期限", "当事人", "到期日", "状态", "逾期天数"],
                [
                    [
                        str(o.case_id),
                        o.region,
                        r.label("state", o.state),
                        r.label("deadline", o.kind),
                        {"worker": "劳动者", "employer": "用人单位"}.get(
                            (o.party or "").partition("-")[0], "—"
                        ),
                        o.due.isoformat(),
                        r.label("status", o.status),
                        str(o.days_overdue),
                    ]
                    for o in r.overdue
                ],
                numeric_from=7,
            )
        )
    out += [
        "",
        "六、案件流转  Movements between channels",
        _grid(
            ["自", "至", "件次"],
            [
                [r.label("channel", m.source), r.label("channel", m.dest), str(m.count)]
                for m in r.movements
            ],
            numeric_from=2,
        ),
        "",
        "七、按月受理（按首次进入渠道）与结案  Opened per month by first channel; closed",
        _grid(
            ["月份", *(_NODE_LABELS[c][1] for c in CHANNELS), "受理", "结案"],
            [
                [
                    m.month,
                    *(str(m.opened.get(c, 0)) for c in CHANNELS),
                    str(sum(m.opened.values())),
                    str(m.closed),
                ]
                for m in r.per_month
            ],
        ),
    ]
    return "\n".join(out) + "\n"


# -- CSV -------------------------------------------------------------------------------------------

CSV_COLUMNS = ("section", "key", "subkey", "metric", "value", "label_zh")


def _csv_rows(report: Report) -> Iterator[tuple[str, str, str, str, Any, str]]:
    r = report
    yield ("scope", "region", "", "", r.region or "", "地区")
    yield ("scope", "since", "", "", r.since.isoformat() if r.since else "", "受理日期起")
    yield ("scope", "until", "", "", r.until.isoformat() if r.until else "", "受理日期止")
    yield ("scope", "today", "", "", r.today.isoformat(), "统计日")
    yield ("cases", "total", "", "count", r.cases, "案件")
    yield ("cases", "open", "", "count", r.open, "在办")
    yield ("cases", "closed", "", "count", r.closed, "已结")
    for state, n in r.open_by_state.items():
        yield ("open_by_state", state, "", "count", n, r.label("state", state))
    for channel, n in r.opened_per_channel.items():
        yield ("opened_per_channel", channel, "", "count", n, r.label("channel", channel))
    for channel, n in r.closed_per_channel.items():
        yield ("closed_per_channel", channel, "", "count", n, r.label("channel", channel))
    for resolution, n in r.resolutions.items():
        yield ("resolutions", resolution, "", "count", n, r.label("resolution", resolution))
    for stage, n in r.resolved_by_stage.items():
        yield ("resolved_by_stage", stage, "", "count", n, r.label("stage", stage))
    for stage, per in r.resolution_by_stage.items():
        for resolution, n in per.items():
            yield ("resolution_by_stage", stage, resolution, "count", n, r.label("stage", stage))
    for kind, n in r.confirmed_agreements.items():
        yield ("confirmed_agreements", kind, "", "count", n, r.label("confirmation", kind))
    yield (
        "before_arbitration",
        "resolved_before_arbitration",
        "",
        "count",
        r.resolved_before_arbitration,
        "仲裁前化解",
    )
    yield (
        "before_arbitration",
        "resolved_on_merits",
        "",
        "count",
        r.resolved_on_merits,
        "实体结案",
    )
    share = r.share_resolved_before_arbitration
    yield (
        "before_arbitration",
        "share_resolved_before_arbitration",
        "",
        "share",
        "" if share is None else share,
        "仲裁前化解率",
    )
    sections: list[tuple[str, str, Sequence[Duration]]] = [
        ("state_durations", "state", r.state_durations),
        ("channel_durations", "channel", r.channel_durations),
        ("time_to_close", "", (r.time_to_close,) if r.time_to_close else ()),
    ]
    for name, label_section, items in sections:
        for d in items:
            label = r.label(label_section, d.key) if label_section else "受理至结案"
            yield (name, d.key, "", "count", d.count, label)
            yield (name, d.key, "", "median_days", d.median_days, label)
            yield (name, d.key, "", "p90_days", d.p90_days, label)
            yield (name, d.key, "", "mean_days", d.mean_days, label)
    for kind, c in r.deadlines.items():
        for status in _STATUS_LABELS:
            yield (
                "deadlines",
                kind,
                status,
                "count",
                getattr(c, status),
                r.label("deadline", kind),
            )
    yield ("overdue_total", "", "", "count", r.overdue_total, "逾期事项")
    for o in r.overdue:
        key, sub, label = str(o.case_id), f"{o.kind}:{o.party or ''}", r.label("deadline", o.kind)
        yield ("overdue", key, sub, "deadline_id", o.deadline_id, label)
        yield ("overdue", key, sub, "region", o.region, label)
        yield ("overdue", key, sub, "state", o.state, label)
        yield ("overdue", key, sub, "status", o.status, label)
        yield ("overdue", key, sub, "due", o.due.isoformat(), label)
        yield ("overdue", key, sub, "days_overdue", o.days_overdue, label)
    for m in r.movements:
        label = f"{r.label('channel', m.source)} → {r.label('channel', m.dest)}"
        yield ("movements", m.source, m.dest, "count", m.count, label)
    for month in r.per_month:
        for channel, n in month.opened.items():
            yield (
                "opened_per_month",
                month.month,
                channel,
                "count",
                n,
                r.label("channel", channel),
            )
        yield ("closed_per_month", month.month, "", "count", month.closed, "结案")


def to_csv(report: Report) -> str:
    """The report as one CSV in long form: ``section,key,subkey,metric,value,label_zh``, one
    figure per row (sections are the :class:`Report` field names; an overdue item takes one row
    per attribute, keyed by case id and ``kind:party``). Durations are in days. Add a UTF-8 BOM
    when writing it for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(tuple(_csv_cell(v) for v in row) for row in _csv_rows(report))
    return buffer.getvalue()


def _csv_cell(value: Any) -> Any:
    """A cell a spreadsheet will not run: text starting with ``= + - @`` (or a tab or carriage
    return) is prefixed with ``'`` (OWASP's CSV injection advice). Numbers stay numbers."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# -- HTML ------------------------------------------------------------------------------------------

_COLOURS = {
    "intake": "#8d99a6",
    "negotiation": "#4c9f70",
    "union": "#d1495b",
    "peoples": "#edae49",
    "administrative": "#00798c",
    "arbitration": "#30638e",
    "judicial": "#6a4c93",
    "closed": "#3b3b3b",
    "other": "#b0b0b0",
}
_FONT = (
    "system-ui, -apple-system, 'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', "
    "'Microsoft YaHei', 'WenQuanYi Micro Hei', sans-serif"
)
_E = html.escape


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int = 12,
    anchor: str = "start",
    fill: str = "#222",
    weight: str = "normal",
    halo: bool = False,
) -> str:
    """An SVG text; ``halo`` draws a white outline under it, to stay readable over bands."""
    outline = ' stroke="#fff" stroke-width="3" paint-order="stroke"' if halo else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'fill="{fill}" font-weight="{weight}"{outline}>{_E(text)}</text>'
    )


def _svg(width: int, height: int, body: Sequence[str], title: str) -> str:
    return (
        f'<svg role="img" aria-label="{_E(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" font-family="{_E(_FONT)}">'
        f"<title>{_E(title)}</title>{''.join(body)}</svg>"
    )


def _nice_max(value: float) -> float:
    """A round upper bound for an axis."""
    if value <= 0:
        return 1
    magnitude = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 2.5, 5.0, 10.0):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _count_axis(top: int) -> tuple[int, int]:
    """(axis maximum, tick step) for counts: whole steps of 1, 2 or 5 times a power of ten,
    four or five ticks."""
    step = 1
    while top > step * 5:
        for factor in (2, 5 / 2, 2):
            step = int(step * factor)
            if top <= step * 5:
                break
    axis = max(step, -(-top // step) * step)
    return axis, step


def _legend(x: float, y: float, items: Sequence[tuple[str, str]]) -> list[str]:
    out = []
    for label, colour in items:
        out.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>')
        out.append(_text(x + 16, y, label, size=11))
        x += 22 + _width(label) * 6.5
    return out


def _hbars(
    title: str,
    rows: Sequence[tuple[str, str, Sequence[float]]],
    series: Sequence[tuple[str, str]],
    *,
    value_format: str = "{:g}",
) -> str:
    """Grouped horizontal bars: rows of (zh label, English subtitle, one value per series)."""
    label_w, bar_w, bar_h, gap = 190, 420, 14, 12
    group_h = bar_h * len(series) + gap
    height = 40 + group_h * len(rows) + 10
    width = label_w + bar_w + 70
    top = max((v for _zh, _en, figures in rows for v in figures), default=0)
    scale = bar_w / _nice_max(top)
    body = _legend(label_w, 18, [(name, colour) for name, colour in series])
    y = 36.0
    for zh, en, figures in rows:
        body.append(_text(label_w - 8, y + bar_h - 2, zh, anchor="end", size=12))
        if en:
            body.append(_text(label_w - 8, y + bar_h + 11, en, anchor="end", size=9, fill="#777"))
        for (name, colour), value in zip(series, figures, strict=True):
            w = value * scale
            body.append(
                f'<rect x="{label_w}" y="{y:.1f}" width="{w:.1f}" height="{bar_h - 2}" '
                f'fill="{colour}"><title>{_E(f"{zh} · {name}: {value_format.format(value)}")}'
                "</title></rect>"
            )
            body.append(_text(label_w + w + 4, y + bar_h - 4, value_format.format(value), size=10))
            y += bar_h
        y += gap
    body.append(f'<line x1="{label_w}" y1="30" x2="{label_w}" y2="{height - 8}" stroke="#999"/>')
    return _svg(width, height, body, title)


def _month_bars(report: Report) -> str:
    """Stacked bars of cases opened per month by first channel, with the month's closed cases
    as a grey bar beside them."""
    months = report.per_month
    left, bottom, plot_h = 48, 60, 260
    slot = max(34, min(70, 760 // max(1, len(months))))
    width = left + slot * len(months) + 20
    height = 40 + plot_h + bottom
    top = max(
        (max(sum(m.opened.values()), m.closed) for m in months),
        default=0,
    )
    axis, step = _count_axis(top)
    scale = plot_h / axis
    base = 40 + plot_h
    body = _legend(
        left,
        18,
        [(_NODE_LABELS[c][1], _COLOURS[c]) for c in CHANNELS] + [("结案 closed", "#bbb")],
    )
    for value in range(0, axis + 1, step):
        y = base - value * scale
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#eee"/>'
        )
        body.append(_text(left - 6, y + 4, f"{value:g}", size=10, anchor="end", fill="#666"))
    bar = (slot - 10) * 0.62
    for i, m in enumerate(months):
        x = left + i * slot + 4
        y = float(base)
        for channel in CHANNELS:
            n = m.opened.get(channel, 0)
            if not n:
                continue
            h = n * scale
            y -= h
            tip = f"{m.month} {_NODE_LABELS[channel][1]} 受理 {n}"
            body.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{_COLOURS[channel]}"><title>{_E(tip)}</title></rect>'
            )
        opened = sum(m.opened.values())
        if opened:
            body.append(_text(x + bar / 2, y - 3, str(opened), size=9, anchor="middle"))
        h = m.closed * scale
        cx = x + bar + 1
        body.append(
            f'<rect x="{cx:.1f}" y="{base - h:.1f}" width="{(slot - 10) * 0.3:.1f}" '
            f'height="{h:.1f}" fill="#bbb"><title>{_E(f"{m.month} 结案 {m.closed}")}</title></rect>'
        )
        body.append(
            f'<text x="{x + bar / 2:.1f}" y="{base + 14:.1f}" font-size="10" '
            f'text-anchor="end" transform="rotate(-40 {x + bar / 2:.1f} {base + 14:.1f})" '
            f'fill="#444">{_E(m.month)}</text>'
        )
    body.append(f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#999"/>')
    return _svg(width, height, body, "按月受理与结案 cases opened and closed per month")


#: Columns of the flow diagram, left to right.
_FLOW_COLUMNS: tuple[tuple[str, ...], ...] = (
    ("intake",),
    ("negotiation",),
    ("union", "peoples", "administrative"),
    ("arbitration",),
    ("judicial",),
    ("closed",),
)


def _flow_diagram(report: Report) -> str:
    """A Sankey-like diagram: channels in columns (intake → negotiation → mediation →
    arbitration → courts → closed), node height ∝ cases through it, bands of width ∝ the
    movements. Moves back to an earlier or the same column are drawn as dashed arcs under the
    diagram, labelled with their count."""
    column_of = {n: i for i, col in enumerate(_FLOW_COLUMNS) for n in col}
    inflow: dict[str, int] = defaultdict(int)
    outflow: dict[str, int] = defaultdict(int)
    for m in report.movements:
        outflow[m.source] += m.count
        inflow[m.dest] += m.count
    inflow["intake"] = max(inflow["intake"], report.cases)
    through = {n: max(inflow[n], outflow[n]) for n in column_of}
    width, top, plot_h, node_w, gap = 980, 30, 380, 16, 26
    col_x = [30 + i * (width - 190) / (len(_FLOW_COLUMNS) - 1) for i in range(len(_FLOW_COLUMNS))]
    biggest = max((sum(through[n] for n in col) for col in _FLOW_COLUMNS), default=0)
    scale = (plot_h - gap * 2) / biggest if biggest else 0
    pos: dict[str, tuple[float, float, float]] = {}  # x, y, height
    for i, full_col in enumerate(_FLOW_COLUMNS):
        # Channels no case went through are left out; intake and closed always show.
        col = tuple(n for n in full_col if through[n] or n in ("intake", "closed"))
        total = sum(max(through[n] * scale, 2) for n in col) + gap * (len(col) - 1)
        y = top + (plot_h - total) / 2
        for n in col:
            h = max(through[n] * scale, 2)
            pos[n] = (col_x[i], y, h)
            y += h + gap
    forward = [
        m
        for m in report.movements
        if m.source in column_of and m.dest in column_of and column_of[m.dest] > column_of[m.source]
    ]
    back = [
        m
        for m in report.movements
        if m.source in column_of
        and m.dest in column_of
        and column_of[m.dest] <= column_of[m.source]
    ]
    out_offset: dict[str, float] = defaultdict(float)
    in_offset: dict[str, float] = defaultdict(float)
    body: list[str] = []
    ordered = sorted(forward, key=lambda m: (column_of[m.source], pos[m.source][1], pos[m.dest][1]))
    for m in ordered:
        x0, y0, _h0 = pos[m.source]
        x1, y1, _h1 = pos[m.dest]
        band = m.count * scale
        sy = y0 + out_offset[m.source]
        ty = y1 + in_offset[m.dest]
        out_offset[m.source] += band
        in_offset[m.dest] += band
        xs, xt = x0 + node_w, x1
        mid = (xs + xt) / 2
        path = (
            f"M{xs:.1f},{sy:.1f} C{mid:.1f},{sy:.1f} {mid:.1f},{ty:.1f} {xt:.1f},{ty:.1f} "
            f"L{xt:.1f},{ty + band:.1f} C{mid:.1f},{ty + band:.1f} {mid:.1f},{sy + band:.1f} "
            f"{xs:.1f},{sy + band:.1f} Z"
        )
        tip = (
            f"{_NODE_LABELS[m.source][1]} → {_NODE_LABELS[m.dest][1]}: {m.count} "
            f"({_NODE_LABELS[m.source][2]} → {_NODE_LABELS[m.dest][2]})"
        )
        body.append(
            f'<path d="{path}" fill="{_COLOURS[m.source]}" fill-opacity="0.35" '
            f'stroke="{_COLOURS[m.source]}" stroke-opacity="0.5" stroke-width="0.5">'
            f"<title>{_E(tip)}</title></path>"
        )
        if band >= 9:
            body.append(
                _text(
                    mid,
                    (sy + ty + band) / 2 + 4,
                    str(m.count),
                    size=10,
                    anchor="middle",
                    fill="#111",
                    halo=True,
                )
            )
    arc_base = top + plot_h + 12
    for k, m in enumerate(back):
        x0, y0, h0 = pos[m.source]
        x1, y1, h1 = pos[m.dest]
        sx, sy = x0 + node_w / 2, y0 + h0
        tx, ty = x1 + node_w / 2, y1 + h1
        depth = arc_base + 14 + 16 * k
        stroke = max(1.5, min(8.0, m.count * scale))
        tip = f"{_NODE_LABELS[m.source][1]} → {_NODE_LABELS[m.dest][1]}: {m.count}"
        body.append(
            f'<path d="M{sx:.1f},{sy:.1f} C{sx:.1f},{depth:.1f} {tx:.1f},{depth:.1f} '
            f'{tx:.1f},{ty:.1f}" fill="none" stroke="{_COLOURS[m.source]}" '
            f'stroke-width="{stroke:.1f}" stroke-dasharray="5 3" stroke-opacity="0.7">'
            f"<title>{_E(tip)}</title></path>"
        )
        body.append(
            _text(
                (sx + tx) / 2,
                depth - 2,
                f"{tip}",
                size=10,
                anchor="middle",
                fill=_COLOURS[m.source],
            )
        )
    for n, (x, y, h) in pos.items():
        zh, short, en = _NODE_LABELS[n]
        body.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{node_w}" height="{h:.1f}" '
            f'fill="{_COLOURS[n]}"><title>{_E(f"{zh}: {through[n]}")}</title></rect>'
        )
        tx = x + node_w + 5
        body.append(_text(tx, y + 12, f"{short} {through[n]}", size=12, weight="bold", halo=True))
        body.append(_text(tx, y + 24, en, size=9, fill="#555", halo=True))
    height = int(arc_base + 30 + 16 * len(back))
    return _svg(width, height, body, "案件流转图 movements of cases between channels")


def _duration_chart(report: Report) -> str:
    """Median (bar) and 90th percentile (whisker) of the time per channel and state."""
    items = [
        (report.label("channel", d.key), d, _COLOURS.get(d.key, "#888"))
        for d in report.channel_durations
    ]
    items += [(report.label("state", d.key), d, "#8d99a6") for d in report.state_durations]
    label_w, bar_w, row_h = 250, 430, 18
    height = 40 + row_h * len(items) + 10
    width = label_w + bar_w + 90
    top = max((d.p90_days for _l, d, _c in items), default=0)
    scale = bar_w / _nice_max(top)
    body = _legend(label_w, 18, [("中位数 median", "#30638e"), ("P90 第90百分位", "#222")])
    y = 34.0
    for label, d, colour in items:
        body.append(_text(label_w - 8, y + 11, label, size=11, anchor="end"))
        w = d.median_days * scale
        body.append(
            f'<rect x="{label_w}" y="{y + 2:.1f}" width="{w:.1f}" height="{row_h - 6}" '
            f'fill="{colour}"><title>{_E(f"{label}: {_days(d.median_days)} 天")}</title></rect>'
        )
        px = label_w + d.p90_days * scale
        body.append(
            f'<line x1="{label_w + w:.1f}" y1="{y + row_h / 2:.1f}" x2="{px:.1f}" '
            f'y2="{y + row_h / 2:.1f}" stroke="#222"/>'
            f'<line x1="{px:.1f}" y1="{y + 3:.1f}" x2="{px:.1f}" y2="{y + row_h - 3:.1f}" '
            'stroke="#222"/>'
        )
        body.append(
            _text(
                px + 5,
                y + 11,
                f"{_days(d.median_days)} / {_days(d.p90_days)} (n={d.count})",
                size=10,
                fill="#444",
            )
        )
        y += row_h
    return _svg(width, height, body, "用时 time per channel and state (days)")


def _html_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric_from: int = 1
) -> str:
    head = "".join(f"<th>{_E(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"num" if i >= numeric_from else ""}">{_E(str(c))}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


_CSS = (
    "body{font-family:"
    + _FONT.replace("'", '"')
    + """;margin:24px auto;max-width:1040px;color:#222;background:#fff;
line-height:1.5;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 8px;border-bottom:1px solid #ddd;
padding-bottom:4px}h2 small,h1 small{font-weight:normal;color:#777;font-size:12px;margin-left:8px}
.scope{color:#555;font-size:13px}.tiles{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:120px}
.tile b{display:block;font-size:22px}.tile span{font-size:12px;color:#666}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;
padding:3px 8px}th{background:#f4f4f4;text-align:left}td.num{text-align:right;
font-variant-numeric:tabular-nums}svg{max-width:100%;height:auto;display:block;margin:8px 0}
p.note{font-size:12px;color:#666}
"""
)


def to_html(report: Report) -> str:
    """One self-contained HTML page (inline CSS and SVG, no script, no external resource; works
    offline): key figures, bars per channel, per stage and per month, a flow diagram of the
    movements between channels, the time per channel and state, deadlines and overdue items.
    Labels in zh-CN with English subtitles; every text is escaped."""
    r = report
    share = _percent(r.share_resolved_before_arbitration)
    tiles = [
        (str(r.cases), "受理案件 cases"),
        (str(r.closed), "已结 closed"),
        (str(r.open), "在办 open"),
        (
            share,
            f"仲裁前化解率 resolved before arbitration "
            f"({r.resolved_before_arbitration}/{r.resolved_on_merits})",
        ),
        (str(r.overdue_total), "逾期事项 overdue"),
    ]
    if r.time_to_close is not None:
        tiles.append(
            (f"{_days(r.time_to_close.median_days)} 天", "受理至结案中位数 median time to close")
        )
    channel_rows = [
        (
            _NODE_LABELS[c][1] if c in _NODE_LABELS else r.label("channel", c),
            r.label_en("channel", c),
            (r.opened_per_channel.get(c, 0), r.closed_per_channel.get(c, 0)),
        )
        for c in dict.fromkeys([*r.opened_per_channel, *r.closed_per_channel])
    ]
    stage_rows = [
        (r.label("stage", s), r.label_en("stage", s), (n,)) for s, n in r.resolved_by_stage.items()
    ]
    resolutions = [k for k, n in r.resolutions.items() if n] or list(r.resolutions)[:1]
    statuses = list(_STATUS_LABELS)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>劳动人事争议“五调联动”统计报表</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>劳动人事争议“五调联动”统计报表<small>Labour-dispute linkage report</small></h1>",
        f'<p class="scope">{_E(_scope_text(r))}</p>',
        '<div class="tiles">',
        *(f'<div class="tile"><b>{_E(v)}</b><span>{_E(t)}</span></div>' for v, t in tiles),
        "</div>",
        "<h2>案件流转<small>Movements between channels</small></h2>",
        _flow_diagram(r),
        '<p class="note">节点高度为经过该渠道的案件数，带宽为流转件次；虚线为回流（如仲裁委'
        "引导回调解）。Node height: cases through the channel; band width: movements; dashed: "
        "moves back.</p>",
        "<h2>各渠道受理与结案<small>Cases per channel: first channel entered; channel of the "
        "resolving stage</small></h2>",
        _hbars(
            "各渠道受理与结案 cases per channel",
            channel_rows,
            [("首次进入 opened", "#30638e"), ("结案 closed", "#4c9f70")],
        ),
        "<h2>结案阶段<small>Stage that resolved each closed case</small></h2>",
        _hbars("结案阶段 resolved by stage", stage_rows, [("结案 closed", "#6a4c93")]),
        _html_table(
            ["阶段 stage", "结案", *(r.label("resolution", k) for k in resolutions)],
            [
                [
                    r.label("stage", s),
                    n,
                    *(r.resolution_by_stage.get(s, {}).get(k, 0) for k in resolutions),
                ]
                for s, n in r.resolved_by_stage.items()
            ],
        ),
        f'<p class="note">仲裁前化解率 {_E(share)}：协商或仲裁、诉讼以外的调解达成协议的'
        f"{r.resolved_before_arbitration} 件 / 实体结案 {r.resolved_on_merits} 件。"
        + "；".join(
            _E(f"{r.label('confirmation', k)} {n} 件") for k, n in r.confirmed_agreements.items()
        )
        + "（调解协议经确认，计入原调解阶段）。</p>",
        "<h2>按月受理与结案<small>Opened per month by first channel; closed per month</small></h2>",
        _month_bars(r),
        "<h2>用时（天）<small>Time per channel and state, days: median and 90th percentile of "
        "completed spells</small></h2>",
        _duration_chart(r),
        _html_table(
            ["", "件数 n", "中位数 median", "P90", "平均 mean"],
            [
                [f"{label}", d.count, _days(d.median_days), _days(d.p90_days), _days(d.mean_days)]
                for label, d in [
                    *((r.label("channel", d.key), d) for d in r.channel_durations),
                    *((r.label("state", d.key), d) for d in r.state_durations),
                    *((("受理至结案 time to close", r.time_to_close),) if r.time_to_close else ()),
                ]
            ],
        ),
        "<h2>期限执行情况<small>Deadlines by kind and status</small></h2>",
        _html_table(
            ["期限 kind", *(r.label("status", s) for s in statuses), "按期率 met share"],
            [
                [r.label("deadline", k), *(getattr(c, s) for s in statuses), _percent(c.met_share)]
                for k, c in r.deadlines.items()
            ],
        ),
        f"<h2>逾期事项<small>Overdue on {_E(r.today.isoformat())}: {r.overdue_total}</small></h2>",
    ]
    if r.overdue:
        parts.append(
            _html_table(
                [
                    "案件 case",
                    "地区",
                    "当前状态 state",
                    "期限 deadline",
                    "当事人",
                    "到期日 due",
                    "状态",
                    "逾期天数 days",
                ],
                [
                    [
                        o.case_id,
                        o.region,
                        r.label("state", o.state),
                        r.label("deadline", o.kind),
                        {"worker": "劳动者", "employer": "用人单位"}.get(
                            (o.party or "").partition("-")[0], "—"
                        ),
                        o.due.isoformat(),
                        r.label("status", o.status),
                        o.days_overdue,
                    ]
                    for o in r.overdue
                ],
                numeric_from=7,
            )
        )
        if len(r.overdue) < r.overdue_total:
            parts.append(f'<p class="note">列出最早到期的 {len(r.overdue)} 项。</p>')
    else:
        parts.append('<p class="note">无 none.</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
