"""Reads: a case, its history and deadlines, lists of cases, exports, reports, the triggers
an actor may fire now, the queue of deadlines due and the public look-up. Every read checks the
actor's scope first (a case outside it is "not found") and shows a party the other side's
personal data masked.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any

from mediation_flow.engine.core import EngineCore
from mediation_flow.errors import GuardFailed, InvalidData, NotFound, PermissionDenied
from mediation_flow.flow.data import to_json
from mediation_flow.inputs import encodable
from mediation_flow.lookup import Progress, progress
from mediation_flow.models import Actor, Case, Deadline, Event, Role
from mediation_flow.numbering import normalise_reference, number_variants
from mediation_flow.personal_data import mask_value
from mediation_flow.reports import Report, build_report


class Queries(EngineCore):
    """The reads: every one checks the actor's scope before it looks at the data."""

    def get(self, case_id: int, *, actor: Actor | None = None) -> Case:
        """The case as stored now. Raises ``CaseNotFound``, or ``PermissionDenied`` when
        ``actor`` may not read it (no actor: the trusted system)."""
        actor = self._acting(actor, "read")
        with self._store.connect() as conn, self._store.reading(conn):
            case = self._get(conn, case_id)
            self._authorize_read(actor, case)
            return self._shown_to(actor, case)

    def history(self, case_id: int, *, actor: Actor | None = None) -> list[Event]:
        """Every event of the case, oldest first."""
        actor = self._acting(actor, "read")
        with self._store.connect() as conn, self._store.reading(conn):
            self._authorize_read(actor, self._get(conn, case_id))
            events = self._store.history(conn, case_id)
        return _redacted(events, actor)

    def deadlines(self, case_id: int, *, actor: Actor | None = None) -> list[Deadline]:
        """Every deadline of the case, whatever its status, in the order they were started."""
        actor = self._acting(actor, "read")
        with self._store.connect() as conn, self._store.reading(conn):
            self._authorize_read(actor, self._get(conn, case_id))
            return self._store.deadlines_of(conn, case_id)

    def cases(
        self,
        *,
        actor: Actor | None = None,
        region: str | None = None,
        state: str | None = None,
        limit: int = 100,
        after: int = 0,
    ) -> list[Case]:
        """Cases, oldest id first, that ``actor`` may read: of a region prefix and in a state if
        given; ``after`` a case id, ``limit`` at most (pages)."""
        actor = self._acting(actor, "list cases")
        out: list[Case] = []
        with self._store.connect() as conn, self._store.reading(conn):
            while len(out) < limit:
                ids = self._store.case_ids(
                    conn, region=region, state=state, after=after, limit=limit
                )
                if not ids:
                    break
                for case_id in ids:
                    after = case_id
                    case = self._get(conn, case_id)
                    if self._read_refusal(actor, case) is None:
                        out.append(self._shown_to(actor, case))
                        if len(out) == limit:
                            break
        return out

    def export(
        self, case_id: int, *, actor: Actor | None = None, clear_text: bool = False
    ) -> dict[str, Any]:
        """The whole case as JSON-ready data: case, parties, claims, history, deadlines; read
        in one transaction (a consistent snapshot).

        Identity numbers and phone numbers are masked unless ``clear_text`` is asked for and
        the actor may see personal data (``PermissionDenied`` otherwise)."""
        actor = self._acting(actor, "export")
        with self._store.connect() as conn, self._store.reading(conn):
            # The stored parties (not the view a party gets): every number is masked below
            # unless clear text is allowed.
            case = self._get(conn, case_id)
            self._authorize_read(actor, case)
            if clear_text:
                self._authorize_personal_data(actor, case, "see the personal data of")
            history = _redacted(self._store.history(conn, case_id), actor)
            deadlines = self._store.deadlines_of(conn, case_id)
        whole = case.to_json(clear_text=clear_text)
        exported: dict[str, Any] = _masked_export(
            clear_text,
            {
                "case": {k: v for k, v in whole.items() if k not in ("parties", "claims")},
                "parties": whole["parties"],
                "claims": whole["claims"],
                "history": [
                    to_json({k: v for k, v in e.as_dict().items() if k != "case_id"})
                    for e in history
                ],
                "deadlines": [
                    to_json(
                        {
                            "kind": d.kind,
                            "party": d.party,
                            "status": d.status.value,
                            "starts_on": d.starts_on,
                            "due": d.due,
                            "provisional": d.provisional,
                        }
                    )
                    for d in deadlines
                ],
            },
        )
        return exported

    def report(
        self,
        region: str | None = None,
        since: date | None = None,
        until: date | None = None,
        *,
        at: datetime | None = None,
        actor: Actor | None = None,
    ) -> Report:
        """Figures on the linkage: cases opened and closed per channel, how and at which stage
        they were resolved, the share resolved before arbitration, time per stage, deadlines met
        and expired, the overdue list (:mod:`mediation_flow.reports`). ``region`` is a division
        prefix; ``since``/``until`` bound the cases' opening days. An actor with a region scope
        sees their region only."""
        actor = self._acting(actor, "read reports")
        if region is not None and (
            not isinstance(region, str) or not region.isascii() or not region.isdigit()
            or not 0 < len(region) <= 6
        ):  # fmt: skip
            raise InvalidData("report", "region", "must be a division prefix of 1 to 6 digits")
        today = self._day(self._at(at, "report"))
        if actor.role is not Role.system:
            if actor.role not in (Role.intake_officer, Role.arbitrator, Role.judge):
                # Mediators see only their organisation's cases; the report's overdue list
                # names cases, so it is for the offices that see a whole region.
                raise PermissionDenied(
                    actor.id,
                    actor.role.value,
                    "read reports",
                    None,
                    "reports are for officials: intake officers, arbitrators and judges",
                )
            if actor.region:
                region = region or actor.region
                if not region.startswith(actor.region):
                    raise PermissionDenied(
                        actor.id,
                        actor.role.value,
                        "read reports",
                        None,
                        f"region {region} is outside the actor's scope {actor.region}",
                    )
        for name, value in (("since", since), ("until", until)):
            if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
                raise InvalidData("report", name, f"expected a date, got {value!r}")
        if since is not None and until is not None and since > until:
            raise InvalidData("report", "since", f"{since} is after until ({until})")
        definitions = [compiled.definition for compiled in self._flows.values()]
        return build_report(
            self._store, definitions, region=region, since=since, until=until, today=today
        )

    def triggers(
        self, case_id: int, *, actor: Actor | None = None, at: datetime | None = None
    ) -> list[str]:
        """The triggers that can be fired on the case now, guards evaluated.

        A guard that depends only on what the command will say (which party acts, a wage IOU
        flag) does not hide a trigger; one that depends on the case (a closed window, the claim
        kinds) does. With ``actor``, only the triggers that actor may fire are listed.
        """
        actor = self._acting(actor, "read")
        at = self._at(at, "triggers")
        with self._store.connect() as conn, self._store.reading(conn):
            case = self._load(conn, case_id)
            flow = self._flow_of(case)
            scope = self._scope(case, self._store.load_parties(conn, case_id))
            self._authorize_read(actor, scope)
            if case.held_by is not None:
                return []
            deadlines = self._store.load_deadlines(conn, case_id)
            legal = []
            for trigger in flow.legal_triggers(case.state):
                if self._fire_refusal(actor, scope, trigger, {}, flow.definition):
                    continue
                ctx = self._context(
                    conn, flow, case, trigger, {}, actor, at, deadlines=deadlines, parse=False
                )
                ctx.dry_run = True
                try:
                    tdef, _dest = flow.fire(ctx)
                    self._veto(ctx, tdef)
                except (GuardFailed, InvalidData):
                    continue
                legal.append(trigger)
            return legal

    def due(
        self,
        before: date | datetime,
        *,
        region: str | None = None,
        kind: str | None = None,
        actor: Actor | None = None,
    ) -> list[Deadline]:
        """Pending deadlines whose due day is before ``before``, soonest first: a work queue.
        ``region`` is an administrative division prefix (``"43"`` for Hunan). An actor sees
        the deadlines of the cases it may read."""
        actor = self._acting(actor, "read deadlines")
        day = self._day(self._at(before, "due")) if isinstance(before, datetime) else before
        if actor.role is not Role.system and actor.region is not None:
            if region is not None and not (
                region.startswith(actor.region) or actor.region.startswith(region)
            ):
                return []  # a region outside the actor's scope
            if region is None or actor.region.startswith(region):
                region = actor.region
        with self._store.connect() as conn, self._store.reading(conn):
            found = self._store.due(conn, day, region, kind)
            if actor.role is Role.system:
                return found
            visible: dict[int, bool] = {}
            for d in found:
                if d.case_id not in visible:
                    case = self._store.load_case(conn, d.case_id)
                    visible[d.case_id] = case is not None and (
                        self._read_refusal(
                            actor, self._scope(case, self._store.load_parties(conn, d.case_id))
                        )
                        is None
                    )
            return [d for d in found if visible[d.case_id]]

    def lookup(self, reference: str, *, actor: Actor | None = None) -> Progress:
        """The progress of the case with this serial or case number, for a party: the stage in
        zh-CN and the day it began, the case numbers, the next deadline and what it means, the
        outcome (:mod:`mediation_flow.lookup`). It holds nothing personal. Raises ``NotFound``.
        Any actor may look up a reference it holds (the serial or number is the credential)."""
        self._acting(actor, "look up a case")
        if (
            not isinstance(reference, str)
            or not 0 < len(reference.strip()) <= 200
            or not encodable(reference)
        ):
            raise NotFound(str(reference)[:200])
        text = reference.strip()
        with self._store.connect() as conn, self._store.reading(conn):
            case_id = self._store.case_by_reference(
                conn, serial=normalise_reference(text), numbers=number_variants(text)
            )
            if case_id is None:
                raise NotFound(text)
            case = self._load(conn, case_id)
            flow = self._flows.get(case.flow_fingerprint) or self._compiled_for(case.region)
            return progress(
                flow.definition,
                case,
                self._store.load_deadlines(conn, case_id),
                self._store.entered_state_at(conn, case_id, case.state),
            )

    def _shown_to(self, actor: Actor, case: Case) -> Case:
        """The case as ``actor`` may see it: a party sees the other side's identity number,
        phone and account masked."""
        if actor.role not in (Role.worker, Role.employer):
            return case
        mine = self.policy.own_party(actor, self._scope(case, case.parties))
        parties = tuple(
            p
            if p is mine
            else replace(
                p,
                id_number=mask_value("id_number", p.id_number),
                phone=mask_value("phone", p.phone),
                account=None,
            )
            for p in case.parties
        )
        return replace(case, parties=parties)


def _redacted(events: list[Event], actor: Actor | None) -> list[Event]:
    if actor is not None and actor.role in (Role.worker, Role.employer):
        # Early-warning alerts are for the officials: they name other cases and advise on
        # the employer. A party sees that one was raised, not what it says.
        return [
            replace(e, data={"redacted": True}) if e.trigger == "early_warning" else e
            for e in events
        ]
    return events


def _masked_export(clear_text: bool, exported: dict[str, Any]) -> dict[str, Any]:
    """An export without clear text: identity numbers and phones masked wherever they were
    typed (notes, organisation ids, intake attributes), with the scanner the logs use."""
    if clear_text:
        return exported
    masked: dict[str, Any] = {}
    for key, value in exported.items():
        masked[key] = value if key == "parties" else mask_value(key, value)
    return masked
