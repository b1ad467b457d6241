# ruff: noqa: E501  (the zh-CN sentences of MEANINGS are kept one per line)
"""Progress look-up: what a worker sees when they type their case number or serial.

``Engine.lookup(reference)`` answers with a :class:`Progress`: the stage in zh-CN and the day
it began, the case numbers, the next deadline and what it means, and the outcome once closed.
It is built only from the case's state, deadlines and numbers, never from its parties or
claims, so it holds no name, identity number, phone or amount: anyone holding a number sees no
more than the notice it was printed on already told them. Early-warning alerts and officials'
notes are not shown either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.models import CaseNumber, DeadlineStatus
from mediation_flow.records import CaseRecord, DeadlineRecord
from mediation_flow.reports import RESOLUTION_LABELS

__all__ = ["MEANINGS", "NextDeadline", "Progress", "progress"]

#: What each national deadline means for the person waiting, in zh-CN.
MEANINGS: Mapping[str, str] = {
    "negotiation_answer": "对方应在此日前答复是否协商；逾期未答复的，视为不愿协商，可以申请调解或仲裁。",
    "negotiation_period": "约定的协商期限届满；协商不成的，可以申请调解或仲裁。",
    "settlement_performance": "和解协议约定的履行期限。",
    "mediation_limit": "调解组织应在此日前结束调解；逾期未达成协议的，可以依法申请仲裁。",
    "mediation_acceptance": "调解委员会应在此日前决定是否受理调解申请。",
    "agreement_performance": "调解协议约定的履行期限；逾期不履行的，可以依法申请仲裁。",
    "arbitration_review_window": "双方可以在此日前共同向仲裁委员会申请审查调解协议。",
    "judicial_confirmation_window": "双方可以在此日前共同向人民法院申请司法确认。",
    "review_examination": "仲裁委员会应在此日前审查完毕并决定是否出具调解书。",
    "confirmation_decision": "人民法院应在此日前作出是否确认调解协议效力的裁定。",
    "payment_order_objection": "被申请人可以在此日前对支付令提出书面异议；逾期不提出的，支付令生效。",
    "arbitration_acceptance": "仲裁委员会应在此日前决定是否受理；逾期未作出决定的，申请人可以就该争议向人民法院起诉。",
    "defence_due": "被申请人提交答辩书的期限。",
    "award_limit": "仲裁庭应在此日前作出裁决；逾期未作出裁决的，当事人可以就该争议向人民法院起诉。",
    "arbitration_mediation_limit": "仲裁委托调解的期限；逾期未达成协议的，恢复仲裁审理。",
    "suit_window": "不服裁决的，可以在此日前向人民法院起诉；期满不起诉的，裁决发生法律效力。",
    "revocation_window": "用人单位可以在此日前向中级人民法院申请撤销终局裁决。",
    "prefiling_mediation_limit": "诉前调解的期限；逾期未达成协议的，依法登记立案。",
    "judicial_mediation_limit": "人民法院委托调解的期限；逾期未达成协议的，恢复审理。",
    "appeal_window": "不服一审判决的，可以在此日前提起上诉；期满不上诉的，判决发生法律效力。",
    "enforcement_window": "对方不履行的，可以在此日前向人民法院申请强制执行。",
}  # fmt: skip
_SHANGHAI = ZoneInfo("Asia/Shanghai")
_SIDES = {"worker": "劳动者一方", "employer": "用人单位一方"}


@dataclass(frozen=True)
class NextDeadline:
    """The next open deadline: its name, last day, what it means, and whose it is.

    A ``provisional`` one was computed on a predicted holiday schedule (the year's notice is not
    out yet): ``due`` is then the predicted date, the one a party should plan by."""

    label: str
    due: date
    meaning: str
    side: str | None
    provisional: bool = False


@dataclass(frozen=True)
class Progress:
    """A party-safe view of one case's progress (zh-CN)."""

    stage: str
    stage_key: str
    channel: str | None
    since: date
    received_on: date
    numbers: tuple[tuple[str, str], ...]
    next_deadline: NextDeadline | None
    outcome: str | None
    closed: bool
    #: The organisation the case was handed over to, which acts on it now (or None).
    handed_over_to: str | None = None

    def to_json(self) -> dict[str, Any]:
        nxt = self.next_deadline
        return {
            "stage": self.stage,
            "stage_key": self.stage_key,
            "channel": self.channel,
            "since": self.since.isoformat(),
            "received_on": self.received_on.isoformat(),
            "numbers": [{"label": label, "number": number} for label, number in self.numbers],
            "next_deadline": None
            if nxt is None
            else {
                "label": nxt.label,
                "due": nxt.due.isoformat(),
                "meaning": nxt.meaning,
                "side": nxt.side,
                "provisional": nxt.provisional,
            },
            "outcome": self.outcome,
            "closed": self.closed,
            "handed_over_to": self.handed_over_to,
        }

    def to_text(self) -> str:
        """The view as a few lines of zh-CN text (an SMS, a kiosk screen)."""
        lines = [f"当前阶段：{self.stage}（自{_zh(self.since)}起）"]
        if self.handed_over_to:
            lines.append(f"案件已移交{self.handed_over_to}办理")
        lines += [f"{label}：{number}" for label, number in self.numbers]
        if self.next_deadline is not None:
            nxt = self.next_deadline
            whose = f"（{nxt.side}）" if nxt.side else ""
            unsure = (
                f"（预计日期：{nxt.due.year}年节假日安排尚未公布，以公布后为准）"
                if nxt.provisional
                else ""
            )
            lines.append(f"下一期限：{nxt.label}{whose}，{_zh(nxt.due)}届满{unsure}。{nxt.meaning}")
        if self.outcome:
            lines.append(f"结果：{self.outcome}")
        return "\n".join(lines)


def _zh(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def progress(
    flow: FlowDefinition,
    case: CaseRecord,
    deadlines: Sequence[DeadlineRecord],
    entered_at: datetime | None,
) -> Progress:
    """The look-up view of a case: only the flow's labels, dates and numbers. ``entered_at``
    is when the case entered its state (None: when it was opened)."""
    state = flow.state_map.get(case.state)
    since = (entered_at or case.opened_at).astimezone(_SHANGHAI).date()
    pending = sorted(
        (d for d in deadlines if d.status is DeadlineStatus.pending),
        key=lambda d: (d.due, d.id or 0),
    )
    nxt = None
    if pending and case.held_by is None:  # handed over: the clocks run where the case is now
        d = pending[0]
        kind = flow.deadline_map.get(d.kind)
        label = kind.label_zh if kind else d.kind
        nxt = NextDeadline(
            label=label,
            due=d.estimate if d.provisional and d.estimate else d.due,
            meaning=MEANINGS.get(d.kind, f"{label}届满。"),
            side=_SIDES.get((d.party or "").partition("-")[0]),
            provisional=d.provisional,
        )
    numbers = tuple(
        (n.label, n.number)
        for n in (CaseNumber.from_json(v) for v in case.attributes.get("case_numbers", ()))
    )
    outcome = None
    if case.resolution:
        outcome = RESOLUTION_LABELS.get(case.resolution, (case.resolution, ""))[0]
    return Progress(
        stage=state.label_zh if state else case.state,
        stage_key=case.state,
        channel=state.channel.label_zh if state and state.channel else None,
        since=since,
        received_on=case.received_on,
        numbers=numbers,
        next_deadline=nxt,
        outcome=outcome,
        closed=bool(state and state.terminal),
        handed_over_to=case.held_by,
    )
