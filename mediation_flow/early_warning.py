"""Early warning (监测预警): configurable rules evaluated when a case is opened and on ``tick``.

Sources. Shiyan (seed 002) built a "劳动风险监测预警平台" with "风险定期分析研判和动态
监测机制，对苗头性、倾向性风险做到早发现、早预警" and interviews and audits enterprises at risk
("主动约谈企业", "用工风险排查"); Da'an (seed 001) asks for "劳动关系动态预警机制。加强对建筑
领域、餐饮服务等行业和重点企业的预警防控，做到劳动纠纷早发现、早控制、早处理". A collective
dispute (10 or more workers with a common request) has its own procedure and is docketed and
heard first (LDMAL 7; AR 5; procedure.md §4).

The module decides; it does not store. A :class:`Rule` reads the database through SQLAlchemy
Core on the connection it is given and returns :class:`Alert` values; a :class:`RuleSet` runs its
rules on a new case (:meth:`RuleSet.evaluate_open`) or on the whole database
(:meth:`RuleSet.evaluate_tick`). Every alert carries a stable ``key``: evaluating the same facts
on the same day gives the same keys, so whoever stores alerts skips the keys it already holds
(``tick`` may run many times a day, on several workers).

Built-in rules (each configurable; :func:`default_rules` gives the national set):

- :class:`RepeatEmployer` -- an employer with several disputes in a rolling window (重点企业);
- :class:`CollectiveCase` -- 10 or more workers (集体劳动争议);
- :class:`WageArrearsRise` -- wage-arrears cases of a region or an industry rising against the
  previous window (区域性、行业性欠薪风险), a region-level alert (no case);
- :class:`IndustryWatch` -- a new case in a watched industry (Da'an: construction and catering);
  regional plugins register it with their prefix.

Days are China days; windows are counted on ``received_on`` (the day intake received the
dispute, never after the day it was opened), inclusive of both ends: a 30-day window ending on
2025-03-31 runs from 2025-03-02.

Cost: a rule is one or two statements over a bounded range of ``mf_case.received_on``, joined to
parties and claims by their indexed ``case_id``. With an index on ``mf_case.received_on`` (and
on ``mf_party.id_number`` for the credit-code match) both are index range scans; without them
they scan ``mf_case``.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import partial
from typing import Any, Literal

from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from mediation_flow.errors import CaseNotFound
from mediation_flow.models import SYSTEM, ClaimKind, PartyKind
from mediation_flow.storage.repository import cases, claims, parties

__all__ = [
    "INDUSTRY_LABELS_ZH",
    "MAX_KEY_LENGTH",
    "TRIGGER",
    "Alert",
    "CaseFacts",
    "CollectiveCase",
    "Employer",
    "IndustryWatch",
    "Level",
    "RepeatEmployer",
    "Rule",
    "RuleSet",
    "WageArrearsRise",
    "canonical_industry",
    "default_rules",
    "load_case_facts",
    "normalise_name",
]

#: The trigger of the event that records an alert on a case (source = dest = the case's state).
TRIGGER = "early_warning"
#: The longest key an alert may have (the column the engine stores it in).
MAX_KEY_LENGTH = 200
_RULE_ID = re.compile(r"^[a-z][a-z0-9_.@-]{0,63}$")
_PREFIX = re.compile(r"^\d{2,6}$")
#: Day 0 of the fixed periods that keep a region-level alert to one per period.
_EPOCH = date(2000, 1, 3)


class Level(StrEnum):
    """How urgent an alert is: ``info`` (note it), ``warning`` (look into it), ``critical``
    (act now)."""

    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def label_zh(self) -> str:
        return _LEVEL_LABELS[self]

    @property
    def rank(self) -> int:
        """0, 1, 2: for sorting and for "at least" filters."""
        return _LEVEL_RANKS[self]


_LEVEL_LABELS = {Level.info: "提示", Level.warning: "预警", Level.critical: "严重预警"}
_LEVEL_RANKS = {Level.info: 0, Level.warning: 1, Level.critical: 2}


@dataclass(frozen=True)
class Alert:
    """One early warning.

    ``rule`` is the id of the rule that raised it; ``reason`` a zh-CN sentence with the figures
    and the basis; ``case_id`` the case it is attached to, or ``None`` for a region-level alert
    (then ``region`` is the division prefix it is about, or ``None`` for the whole country);
    ``data`` JSON-ready details; ``key`` identifies the alert: the same alert evaluated again
    has the same key, so a store keeps one row per key.
    """

    rule: str
    level: Level
    reason: str
    key: str
    case_id: int | None = None
    region: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    @property
    def region_level(self) -> bool:
        """Whether the alert is about a region or an industry rather than one case."""
        return self.case_id is None

    def event_data(self) -> dict[str, Any]:
        """The ``data`` of the ``early_warning`` event (JSON-ready)."""
        return {
            "rule": self.rule,
            "level": self.level.value,
            "reason": self.reason,
            "key": self.key,
            "region": self.region,
            "details": dict(self.data),
        }

    def event_row(self, *, seq: int, state: str, at: datetime) -> dict[str, Any]:
        """An ``mf_event`` row recording this (case) alert as event ``seq`` of its case, by the
        system actor, without a transition; the caller adds the chain hash
        (``row["hash"] = event_hash(previous, row)``)."""
        if self.case_id is None:
            raise ValueError(f"alert {self.key!r} is region-level: it has no case to record on")
        return {
            "case_id": self.case_id,
            "seq": seq,
            "trigger": TRIGGER,
            "source": state,
            "dest": state,
            "actor_id": SYSTEM.id,
            "actor_role": SYSTEM.role.value,
            "at": at,
            "data": self.event_data(),
            "warnings": [],
        }


# --- what the rules read -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Employer:
    """An employer party of a case: its name and its unified social credit code, if given."""

    name: str
    credit_code: str | None = None

    @property
    def key(self) -> str:
        """``code:<credit code>`` when the code is known, else ``name:<normalised name>``."""
        if self.credit_code:
            return f"code:{self.credit_code}"
        return f"name:{normalise_name(self.name)}"


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What the rules need to know about a new case (loaded once for all rules)."""

    id: int
    region: str
    state: str
    worker_count: int
    is_migrant_worker: bool
    received_on: date
    attributes: Mapping[str, Any]
    claim_kinds: tuple[str, ...]
    employers: tuple[Employer, ...]

    @property
    def intake(self) -> Mapping[str, Any]:
        """What intake recorded besides the fixed fields (``attributes["intake"]``)."""
        value = self.attributes.get("intake")
        return value if isinstance(value, Mapping) else {}

    @property
    def industry(self) -> str | None:
        """The employer's industry as intake recorded it (``attributes["intake"]["industry"]``),
        in its canonical form (:func:`canonical_industry`)."""
        value = self.intake.get("industry")
        return canonical_industry(value) if isinstance(value, str) else None

    @property
    def wage_claim(self) -> bool:
        return ClaimKind.wages.value in self.claim_kinds


def load_case_facts(conn: Connection, case_id: int) -> CaseFacts | None:
    """The facts of a stored case (three indexed reads), or ``None`` if there is no such case."""
    row = conn.execute(
        select(
            cases.c.id,
            cases.c.region,
            cases.c.state,
            cases.c.worker_count,
            cases.c.is_migrant_worker,
            cases.c.received_on,
            cases.c.attributes,
        ).where(cases.c.id == case_id)
    ).first()
    if row is None:
        return None
    employers = conn.execute(
        select(parties.c.name, parties.c.id_number)
        .where(parties.c.case_id == case_id, parties.c.kind == PartyKind.employer.value)
        .order_by(parties.c.position)
    )
    kinds = conn.execute(
        select(claims.c.kind).where(claims.c.case_id == case_id).order_by(claims.c.position)
    ).scalars()
    return CaseFacts(
        id=row.id,
        region=row.region,
        state=row.state,
        worker_count=row.worker_count,
        is_migrant_worker=bool(row.is_migrant_worker),
        received_on=row.received_on,
        attributes=dict(row.attributes or {}),
        claim_kinds=tuple(str(k) for k in kinds),
        employers=tuple(
            Employer(e.name, (e.id_number or "").strip().upper() or None) for e in employers
        ),
    )


# --- names and industries ------------------------------------------------------------------------

#: What the SQL side of the employer-name comparison removes or unifies; both sides of the
#: comparison go through the same SQL expression, so they agree on every database.
_NAME_REPLACEMENTS = (("\u3000", ""), (" ", ""), ("（", "("), ("）", ")"))


def normalise_name(name: str) -> str:
    """An employer name for comparison: NFKC (full-width forms become ASCII), no whitespace,
    case-folded. Used for alert keys; the database comparison is :func:`_sql_name`."""
    text = unicodedata.normalize("NFKC", name)
    return "".join(text.split()).casefold()


def _sql_name(expr: ColumnElement[Any]) -> ColumnElement[Any]:
    """The employer-name comparison in SQL: spaces (ASCII and ideographic) removed, full-width
    brackets made ASCII, lower case. A plain ``replace``/``lower`` chain so that it runs on
    SQLite and PostgreSQL alike (and an expression index can serve it)."""
    for old, new in _NAME_REPLACEMENTS:
        expr = func.replace(expr, old, new)
    return func.lower(expr)


#: Zh-CN labels of the canonical industry codes (the codes of the Da'an intake form).
INDUSTRY_LABELS_ZH: Mapping[str, str] = {
    "construction": "建筑",
    "catering": "餐饮",
    "electronics": "电子",
    "manufacturing": "制造",
    "logistics": "物流",
    "services": "服务",
    "other": "其他",
}
_INDUSTRY_ALIASES: Mapping[str, str] = {
    **{label: code for code, label in INDUSTRY_LABELS_ZH.items()},
    "建筑业": "construction",
    "建筑领域": "construction",
    "建筑施工": "construction",
    "建设工程": "construction",
    "工程建设": "construction",
    "餐饮业": "catering",
    "餐饮服务": "catering",
    "住宿和餐饮业": "catering",
    "制造业": "manufacturing",
    "物流业": "logistics",
    "交通运输、仓储和邮政业": "logistics",
    "服务业": "services",
}


def canonical_industry(value: str) -> str:
    """An industry as intake recorded it, in a canonical form: ``"建筑"``, ``"建筑业"`` and
    ``"Construction"`` are all ``"construction"``; an unknown industry is kept (trimmed, NFKC,
    lower case)."""
    text = unicodedata.normalize("NFKC", value).strip().casefold()
    return _INDUSTRY_ALIASES.get(text, text)


def _industry_label(code: str) -> str:
    return INDUSTRY_LABELS_ZH.get(code, code)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _token(text: str) -> str:
    """A piece of a key: the text itself if short and plain, else a digest."""
    return text if re.fullmatch(r"[\w.-]{1,40}", text) else _digest(text)


def _window(today: date, days: int) -> tuple[date, date]:
    """The first and last day of the ``days``-day window ending on ``today``."""
    return today - timedelta(days=days - 1), today


# --- rules ---------------------------------------------------------------------------------------


class Rule:
    """An early-warning rule. Subclasses set ``id`` (unique in a rule set, stable: it is part of
    every key), ``label_zh`` and optionally ``regions`` (division prefixes the rule is limited to;
    empty: everywhere), and override :meth:`on_open`, :meth:`on_tick` or both.

    Rules read the database with SQLAlchemy Core on the connection given (the tables are in
    :mod:`mediation_flow.storage.repository`), in bounded windows, and never write.
    """

    id: str = "rule"
    label_zh: str = ""
    level: Level = Level.warning
    regions: tuple[str, ...] = ()
    #: Whether :meth:`on_open` reads the database. A rule that decides on the case's facts
    #: alone sets it to False: opening a case then runs it without a savepoint around it.
    reads_on_open: bool = True

    def on_open(self, conn: Connection, case: CaseFacts, today: date) -> list[Alert]:
        """Alerts about a case just opened (it is already in the database)."""
        return []

    def on_tick(self, conn: Connection, today: date, region: str | None) -> list[Alert]:
        """Alerts about the database as of ``today``, within the division prefix ``region``
        (``None``: everywhere)."""
        return []

    def case_alert(
        self, case: CaseFacts, reason: str, data: Mapping[str, Any], *, part: str = ""
    ) -> Alert:
        """An alert on ``case`` with the key ``<rule id>/case/<case id>[/<part>]``."""
        key = f"{self.id}/case/{case.id}" + (f"/{part}" if part else "")
        return Alert(self.id, self.level, reason, key, case.id, case.region, dict(data))

    def applies_to(self, region: str) -> bool:
        return not self.regions or any(region.startswith(p) for p in self.regions)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.id}>"


def _configure(
    rule: Rule, id: str | None, default_id: str, region_prefix: str | None, level: Level
) -> None:
    if region_prefix is not None and not _PREFIX.match(region_prefix):
        raise ValueError(f"region_prefix {region_prefix!r} is not 2 to 6 digits")
    rule.id = id or (f"{default_id}@{region_prefix}" if region_prefix else default_id)
    rule.regions = (region_prefix,) if region_prefix else ()
    rule.level = Level(level)


def _positive(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, not {value!r}")
    return value


class RepeatEmployer(Rule):
    """An employer with ``threshold`` or more cases received within the ``window_days``-day
    window ending today (the new case included): 重点企业预警.

    The employer is matched by its unified social credit code when the new case gives one (a
    stored case that recorded no code matches by name), else by name: spaces and full-width
    brackets do not count, nor the case of Latin letters. Cases with another credit code never
    match, whatever their name. One alert per employer party of the new case.
    """

    label_zh = "同一用人单位短期内多发劳动争议"

    def __init__(
        self,
        window_days: int = 90,
        threshold: int = 3,
        *,
        level: Level = Level.warning,
        region_prefix: str | None = None,
        id: str | None = None,
    ) -> None:
        self.window_days = _positive("window_days", window_days)
        self.threshold = _positive("threshold", threshold)
        _configure(self, id, "repeat_employer", region_prefix, level)

    def on_open(self, conn: Connection, case: CaseFacts, today: date) -> list[Alert]:
        start, end = _window(today, self.window_days)
        alerts: list[Alert] = []
        seen: set[str] = set()
        for employer in case.employers:
            if employer.key in seen:
                continue
            seen.add(employer.key)
            count, ids = self._case_ids(conn, employer, start, end)
            if count < self.threshold:
                continue
            how = f"统一社会信用代码{employer.credit_code}" if employer.credit_code else "单位名称"
            including = "（含本案）" if case.id in ids else ""
            reason = (
                f"用人单位“{employer.name}”近{self.window_days}日（{start}至{end}）"
                f"已有劳动争议案件{count}件{including}，达到重点企业预警条件"
                f"（{self.window_days}日内不少于{self.threshold}件，按{how}归并）。"
                "建议研判该单位用工风险，必要时约谈企业、开展用工风险排查"
                "（十堰：主动约谈企业、排查用工风险；大安：加强对重点企业的预警防控）。"
            )
            data = {
                "employer": employer.name,
                "credit_code": employer.credit_code,
                "matched_by": "credit_code" if employer.credit_code else "name",
                "count": count,
                "threshold": self.threshold,
                "window_days": self.window_days,
                "window": [start.isoformat(), end.isoformat()],
                "case_ids": ids,
            }
            alerts.append(self.case_alert(case, reason, data, part=_digest(employer.key)))
        return alerts

    @staticmethod
    def _case_ids(
        conn: Connection, employer: Employer, start: date, end: date
    ) -> tuple[int, list[int]]:
        """How many cases of the employer were received in the window, and the ids of the
        latest 20 (oldest first): one statement, built once."""
        stmt = _REPEAT_BY_CODE if employer.credit_code else _REPEAT_BY_NAME
        rows = conn.execute(
            stmt,
            {"start": start, "end": end, "name": employer.name, "code": employer.credit_code},
        ).all()
        if not rows:
            return 0, []
        return int(rows[0].total), sorted(int(r.case_id) for r in rows)


def _repeat_employer_query(by_code: bool) -> Any:
    by_name = _sql_name(parties.c.name) == _sql_name(bindparam("name", type_=String))
    match = (
        or_(parties.c.id_number == bindparam("code"), and_(parties.c.id_number.is_(None), by_name))
        if by_code
        else by_name
    )
    matched = (
        select(parties.c.case_id)
        .join(cases, cases.c.id == parties.c.case_id)
        .where(
            parties.c.kind == PartyKind.employer.value,
            cases.c.received_on >= bindparam("start"),
            cases.c.received_on <= bindparam("end"),
            match,
        )
        .distinct()
        .subquery()
    )
    return (
        select(matched.c.case_id, func.count().over().label("total"))
        .order_by(matched.c.case_id.desc())
        .limit(20)
    )


_REPEAT_BY_NAME = _repeat_employer_query(by_code=False)
_REPEAT_BY_CODE = _repeat_employer_query(by_code=True)


class CollectiveCase(Rule):
    """A case of ``threshold`` (10) or more workers: a collective dispute (LDMAL 7), docketed
    and heard first (AR 5). A migrant workers' wage claim is ``migrant_wages_level`` (critical):
    collective wage arrears of migrant workers are where mass incidents start (MWPR)."""

    label_zh = "集体劳动争议"
    reads_on_open = False

    def __init__(
        self,
        threshold: int = 10,
        *,
        level: Level = Level.warning,
        migrant_wages_level: Level | None = Level.critical,
        region_prefix: str | None = None,
        id: str | None = None,
    ) -> None:
        self.threshold = _positive("threshold", threshold)
        self.migrant_wages_level = Level(migrant_wages_level) if migrant_wages_level else None
        _configure(self, id, "collective_case", region_prefix, level)

    def on_open(self, conn: Connection, case: CaseFacts, today: date) -> list[Alert]:
        if case.worker_count < self.threshold:
            return []
        migrant_wages = case.is_migrant_worker and case.wage_claim
        reason = (
            f"集体劳动争议：本案涉及劳动者{case.worker_count}人（达到{self.threshold}人），"
            "劳动者一方可推举代表参加调解、仲裁或者诉讼活动（劳动争议调解仲裁法第七条），"
            "仲裁委员会应当优先立案、优先审理（劳动人事争议仲裁办案规则第五条）；请核实是否有共同请求。"
        )
        if migrant_wages:
            reason += (
                "本案为农民工追索劳动报酬，注意防范因欠薪引发群体性事件（保障农民工工资支付条例）。"
            )
        alert = self.case_alert(
            case,
            reason,
            {
                "worker_count": case.worker_count,
                "threshold": self.threshold,
                "migrant_wages": migrant_wages,
            },
        )
        if migrant_wages and self.migrant_wages_level is not None:
            level = max(alert.level, self.migrant_wages_level, key=lambda lv: lv.rank)
            alert = replace(alert, level=level)
        return [alert]


class IndustryWatch(Rule):
    """A new case whose employer is in a watched industry (Da'an: "加强对建筑领域、餐饮服务等行业
    ... 的预警防控"). Industries are compared in canonical form (:func:`canonical_industry`), so
    ``"建筑"`` watches cases recorded as ``"construction"`` too."""

    label_zh = "重点行业动态预警"
    reads_on_open = False

    def __init__(
        self,
        industries: Iterable[str] = ("建筑", "餐饮"),
        region_prefix: str | None = None,
        *,
        level: Level = Level.info,
        basis: str = (
            "大安区改革试点：加强对建筑领域、餐饮服务等行业和重点企业的预警防控，"
            "做到劳动纠纷早发现、早控制、早处理"
        ),
        id: str | None = None,
    ) -> None:
        self.industries = tuple(dict.fromkeys(canonical_industry(i) for i in industries))
        if not self.industries:
            raise ValueError("industries must name at least one industry")
        self.basis = basis
        _configure(self, id, "industry_watch", region_prefix, level)

    def on_open(self, conn: Connection, case: CaseFacts, today: date) -> list[Alert]:
        industry = case.industry
        if industry is None or industry not in self.industries:
            return []
        watched = "、".join(_industry_label(i) for i in self.industries)
        where = f"区划{self.regions[0]}" if self.regions else "本地"
        reason = (
            f"重点行业预警：本案用人单位属{_industry_label(industry)}行业，"
            f"为{where}重点监测行业（{watched}）；请跟进化解（{self.basis}）。"
        )
        return [
            self.case_alert(case, reason, {"industry": industry, "watched": list(self.industries)})
        ]


class WageArrearsRise(Rule):
    """A rise of wage cases (a claim of kind ``wages``) received in the ``window_days`` days
    ending today against the ``window_days`` days before, in one region (``by="region"``: the
    first ``prefix_len`` digits of the division code, 4 = the city) or in one industry
    (``by="industry"``: per industry within each ``prefix_len`` prefix, or nationwide when
    ``prefix_len`` is ``None``). Raises a region-level alert when ``current >= minimum`` and
    ``current >= factor × previous``.

    At most one alert per group every ``every_days`` days (default: the window): the key carries
    the fixed ``every_days``-day period that contains today, so ticks on other days of the period
    give the same key, and a rise that lasts gets one reminder per period.
    """

    label_zh = "欠薪类案件数量上升"

    def __init__(
        self,
        window_days: int = 30,
        factor: float | Decimal = Decimal("1.5"),
        minimum: int = 5,
        by: Literal["region", "industry"] = "region",
        *,
        prefix_len: int | None = 4,
        every_days: int | None = None,
        level: Level = Level.warning,
        region_prefix: str | None = None,
        id: str | None = None,
    ) -> None:
        if by not in ("region", "industry"):
            raise ValueError(f"by must be 'region' or 'industry', not {by!r}")
        if prefix_len is not None and not 2 <= prefix_len <= 6:
            raise ValueError(f"prefix_len must be 2 to 6 (or None), not {prefix_len!r}")
        if prefix_len is None and by == "region":
            raise ValueError("by='region' needs a prefix_len")
        self.window_days = _positive("window_days", window_days)
        self.factor = Decimal(str(factor))
        if not self.factor.is_finite() or self.factor < 1:
            raise ValueError(f"factor must be at least 1, not {factor!r}")
        self.minimum = _positive("minimum", minimum)
        self.by = by
        self.prefix_len = prefix_len
        self.every_days = _positive("every_days", every_days or window_days)
        _configure(self, id, f"wage_arrears_rise.{by}", region_prefix, level)

    def on_tick(self, conn: Connection, today: date, region: str | None) -> list[Alert]:
        cur_start, cur_end = _window(today, self.window_days)
        prev_start, prev_end = _window(cur_start - timedelta(days=1), self.window_days)
        scope = region or ""
        width = max(self.prefix_len or 0, len(scope))
        columns: list[Any] = []
        if width:
            columns.append(
                (cases.c.region if width >= 6 else func.substr(cases.c.region, 1, width)).label(
                    "grp"
                )
            )
        if self.by == "industry":
            columns.append(cases.c.attributes[("intake", "industry")].as_string().label("industry"))
        is_current = case((cases.c.received_on >= cur_start, 1), else_=0)
        stmt = (
            select(
                *columns,
                func.sum(is_current).label("current"),
                func.sum(1 - is_current).label("previous"),
            )
            .where(
                cases.c.received_on >= prev_start,
                cases.c.received_on <= cur_end,
                exists().where(
                    claims.c.case_id == cases.c.id, claims.c.kind == ClaimKind.wages.value
                ),
            )
            .group_by(*columns)
        )
        if scope:
            stmt = stmt.where(cases.c.region.startswith(scope, autoescape=True))
        counts: dict[tuple[str, str], list[int]] = {}
        for row in conn.execute(stmt):
            grp = row.grp if width else ""
            industry = ""
            if self.by == "industry":
                if not row.industry:
                    continue
                industry = canonical_industry(str(row.industry))
                if not industry:
                    continue
            pair = counts.setdefault((grp, industry), [0, 0])
            pair[0] += int(row.current or 0)
            pair[1] += int(row.previous or 0)
        period = (today - _EPOCH).days // self.every_days
        period_start = _EPOCH + timedelta(days=period * self.every_days)
        period_end = period_start + timedelta(days=self.every_days - 1)
        alerts = []
        for (grp, industry), (current, previous) in sorted(counts.items()):
            if current < self.minimum or current < self.factor * previous:
                continue
            growth = f"增长{Decimal(current - previous) / previous:.0%}" if previous else "前期为零"
            place = f"区划{grp}" if grp else "全国"
            what = f"{place}{_industry_label(industry)}行业" if industry else place
            reason = (
                f"欠薪风险预警：{what}近{self.window_days}日（{cur_start}至{cur_end}）"
                f"新收追索劳动报酬争议案件{current}件，前{self.window_days}日"
                f"（{prev_start}至{prev_end}）{previous}件，{growth}，达到预警条件"
                f"（不少于{self.minimum}件且不低于前期的{self.factor.normalize()}倍）。"
                "建议研判是否存在区域性、行业性欠薪风险并及早介入"
                "（十堰：建立健全风险定期分析研判和动态监测机制，对苗头性、倾向性风险做到早发现、早预警）。"
            )
            key = "/".join(
                [self.id, grp or "*", *([_token(industry)] if industry else []), str(period_start)]
            )
            data = {
                "by": self.by,
                "region_prefix": grp or None,
                "industry": industry or None,
                "current": {"from": str(cur_start), "to": str(cur_end), "count": current},
                "previous": {"from": str(prev_start), "to": str(prev_end), "count": previous},
                "window_days": self.window_days,
                "factor": str(self.factor.normalize()),
                "minimum": self.minimum,
                "period": [str(period_start), str(period_end)],
            }
            alerts.append(Alert(self.id, self.level, reason, key, None, grp or None, data))
        return alerts


def default_rules() -> list[Rule]:
    """The national rules: repeat employer (90 days, 3 cases), collective case (10 workers), and
    a rise of wage cases (30 days, ×1.5, at least 5) per city and per industry within a city.
    Regional rules (such as Da'an's :class:`IndustryWatch`) come from plugins."""
    return [
        RepeatEmployer(),
        CollectiveCase(),
        WageArrearsRise(by="region"),
        WageArrearsRise(by="industry"),
    ]


# --- rule sets -----------------------------------------------------------------------------------


class RuleSet:
    """The rules an engine evaluates. Rule ids must be unique (they start every key).

    ``on_error``, when given, is called with the rule and the exception when a rule fails; the
    rule's alerts are then left out and the others still count (each rule runs in a savepoint
    when the connection is in a transaction, so a failed statement does not spoil it). Without
    ``on_error`` the exception propagates.
    """

    def __init__(
        self,
        rules: Iterable[Rule] = (),
        *,
        on_error: Callable[[Rule, Exception], None] | None = None,
    ) -> None:
        self._rules: tuple[Rule, ...] = ()
        self.on_error = on_error
        self._add(rules)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self._rules

    def with_rules(self, rules: Iterable[Rule]) -> RuleSet:
        """A new rule set with ``rules`` added after these."""
        extended = RuleSet(self._rules, on_error=self.on_error)
        extended._add(rules)
        return extended

    def _add(self, rules: Iterable[Rule]) -> None:
        known = {r.id for r in self._rules}
        added = []
        for rule in rules:
            if not isinstance(rule, Rule):
                raise TypeError(f"{rule!r} is not an early-warning Rule")
            if not isinstance(rule.id, str) or not _RULE_ID.match(rule.id):
                raise ValueError(
                    f"rule id {rule.id!r}: lower case letters, digits, '_', '.', '@', '-'; "
                    "at most 64 characters"
                )
            if rule.id in known:
                raise ValueError(f"two early-warning rules have the id {rule.id!r}")
            for prefix in rule.regions:
                if not _PREFIX.match(prefix):
                    raise ValueError(f"rule {rule.id}: region prefix {prefix!r} is not 2-6 digits")
            known.add(rule.id)
            added.append(rule)
        self._rules = (*self._rules, *added)

    def __len__(self) -> int:
        return len(self._rules)

    def evaluate_open(self, conn: Connection, case: int | CaseFacts, today: date) -> list[Alert]:
        """The alerts about a case just opened (``case``: its id, or facts already loaded), in
        rule order. Raises ``CaseNotFound`` for an unknown id."""
        facts = case if isinstance(case, CaseFacts) else load_case_facts(conn, case)
        if facts is None:
            assert not isinstance(case, CaseFacts)
            raise CaseNotFound(case)
        out: list[Alert] = []
        for rule in self._rules:
            if type(rule).on_open is not Rule.on_open and rule.applies_to(facts.region):
                call = partial(rule.on_open, conn, facts, today)
                out.extend(self._run(rule, conn, call, reads=rule.reads_on_open))
        return _unique(out)

    def evaluate_tick(
        self, conn: Connection, today: date, region: str | None = None
    ) -> list[Alert]:
        """The alerts about the database as of ``today`` (within the division prefix ``region``,
        or everywhere), in rule order. Evaluating again on the same day gives the same keys."""
        if region is not None and not _PREFIX.match(region):
            raise ValueError(f"region {region!r} is not a 2 to 6 digit division prefix")
        out: list[Alert] = []
        for rule in self._rules:
            for scope in _scopes(rule.regions, region):
                out.extend(self._run(rule, conn, partial(rule.on_tick, conn, today, scope)))
        return _unique(out)

    def _run(
        self,
        rule: Rule,
        conn: Connection,
        call: Callable[[], list[Alert]],
        *,
        reads: bool = True,
    ) -> list[Alert]:
        if self.on_error is None:
            return _checked(rule, call())
        try:
            # PostgreSQL aborts a transaction whose statement failed: a rule that reads runs
            # in a savepoint there. SQLite keeps the transaction (rules never write).
            if reads and conn.in_transaction() and conn.dialect.name != "sqlite":
                with conn.begin_nested():
                    return _checked(rule, call())
            return _checked(rule, call())
        except Exception as exc:
            self.on_error(rule, exc)
            return []


def _checked(rule: Rule, alerts: Sequence[Alert]) -> list[Alert]:
    for alert in alerts:
        if not isinstance(alert, Alert):
            raise TypeError(f"rule {rule.id} returned {alert!r}, not an Alert")
        if not alert.key.startswith(f"{rule.id}/") or len(alert.key) > MAX_KEY_LENGTH:
            raise ValueError(
                f"rule {rule.id}: alert key {alert.key!r} must start with '{rule.id}/' and have "
                f"at most {MAX_KEY_LENGTH} characters"
            )
    return list(alerts)


def _unique(alerts: Iterable[Alert]) -> list[Alert]:
    seen: set[str] = set()
    out = []
    for alert in alerts:
        if alert.key not in seen:
            seen.add(alert.key)
            out.append(alert)
    return out


def _scopes(prefixes: Sequence[str], region: str | None) -> list[str | None]:
    """The regions to evaluate a rule limited to ``prefixes`` in, when asked for ``region``."""
    if not prefixes:
        return [region]
    out: list[str | None] = []
    for prefix in prefixes:
        if region is None or prefix.startswith(region):
            scope = prefix
        elif region.startswith(prefix):
            scope = region
        else:
            continue
        if scope not in out:
            out.append(scope)
    return out
