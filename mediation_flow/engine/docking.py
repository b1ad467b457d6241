"""Docking with other systems: handing a case over in a signed package (to be acted on there,
or as a copy), taking it back, and the record of a case's packages. Taking a package in is in
:mod:`.importing`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mediation_flow.engine.core import EngineCore, handed_over
from mediation_flow.errors import (
    ConcurrentUpdate,
    InvalidData,
    PermissionDenied,
)
from mediation_flow.handoff import (
    HandoffPackage,
    package_body,
)
from mediation_flow.inputs import encodable
from mediation_flow.models import Actor, Case, Role

#: Who may take a case in, hand it over and take it back: the offices that see a whole region
#: (mediators receive cases through referrals inside their own system).
HANDOVER_ROLES = frozenset({Role.system, Role.intake_officer, Role.arbitrator, Role.judge})


class Docking(EngineCore):
    """Handoff packages: export, import, reclaim."""

    def handoffs(self, case_id: int, *, actor: Actor | None = None) -> list[dict[str, Any]]:
        """The handoff packages sent (``out``) and received (``in``) for the case."""
        actor = self._acting(actor, "read")
        with self._store.connect() as conn, self._store.reading(conn):
            self._authorize_read(actor, self._get(conn, case_id))
            return self._store.handoffs_of(conn, case_id)

    def export_handoff(
        self,
        case_id: int,
        *,
        to_org: str,
        hold: bool = True,
        from_org: str | None = None,
        actor: Actor | None = None,
        at: datetime | None = None,
    ) -> HandoffPackage:
        """Hand the case over to ``to_org``: a package (:mod:`mediation_flow.handoff`) of the
        case, parties, claims, history with its hashes, deadlines and documents' metadata, with
        a digest and, when this system has a signing key, a signature.

        With ``hold`` (the default) the case is acted on there from now on: here nothing is
        fired on it (``CaseHandedOver``) and its deadlines wait, until the package that brings
        it back is imported or it is taken back with :meth:`reclaim`. ``hold=False`` exports a
        copy and leaves the case running here. The package holds personal data in clear text:
        only an actor who may see it exports; only an intake officer, arbitrator or judge (or
        the system) hands a case over. Every export is recorded (:meth:`handoffs`).
        ``from_org`` defaults to this system's ``HandoffSettings.org_id``."""
        actor = self._acting(actor, "export a handoff package of")
        at = self._at(at, "export_handoff")
        from_org = from_org or self.handoff.org_id
        if (
            not isinstance(from_org, str)
            or not 0 < len(from_org.strip()) <= 200
            or not encodable(from_org)
        ):
            raise InvalidData(
                "export_handoff",
                "from_org",
                "this system's organisation is not configured: "
                "Engine(handoff=HandoffSettings(org_id=...)), or pass from_org (1 to 200 "
                "characters)",
            )
        if (
            not isinstance(to_org, str)
            or not 0 < len(to_org.strip()) <= 200
            or not encodable(to_org)
        ):
            raise InvalidData(
                "export_handoff", "to_org", "must be 1 to 200 characters of UTF-8 text"
            )
        if to_org.strip() == from_org.strip():
            raise InvalidData(
                "export_handoff", "to_org", f"{to_org!r} is this system's own organisation"
            )
        with self._store.connect() as conn:
            with self._store.reading(conn):
                record = self._load(conn, case_id)
                parties = self._store.load_parties(conn, case_id)
                self._authorize_personal_data(
                    actor, self._scope(record, parties), "export a handoff package of"
                )
                if hold:
                    self._may_hand_over(actor, "hand over", case_id)
                if hold and record.held_by is not None:
                    raise handed_over(record, "export_handoff")
                flow = self._flow_of(record)
                body = package_body(
                    case=record,
                    flow_name=flow.definition.name,
                    parties=parties,
                    claims=self._store.load_claims(conn, case_id),
                    history=self._store.history(conn, case_id),
                    deadlines=self._store.load_deadlines(conn, case_id),
                    documents=self._store.documents_of(conn, case_id),
                    from_org=from_org.strip(),
                    to_org=to_org.strip(),
                    at=at,
                )
            package = HandoffPackage(self.handoff.seal(body))
            with self._store.writing(conn):
                if hold and not self._store.hold(conn, case_id, record.version, body["to_org"], at):
                    # A command changed the case since it was read: the package would miss it.
                    raise ConcurrentUpdate(case_id, record.version, None)
                if hold:
                    self._ledger_entry(conn, case_id, "hold", at)
                self._store.insert_handoff(
                    conn,
                    {
                        "case_id": case_id,
                        "direction": "out" if hold else "copy",
                        "from_org": body["from_org"],
                        "to_org": body["to_org"],
                        "digest": package.digest,
                        "head": record.event_hash or "",
                        "events": record.version,
                        "signed_by": body["from_org"] if package.data["signature"] else None,
                        "actor_id": actor.id,
                        "at": at,
                    },
                )
        self._log.info(
            "handoff_exported",
            case_id=case_id,
            serial=record.serial,
            to_org=body["to_org"],
            digest=package.digest,
            events=record.version,
            hold=hold,
        )
        return package

    def reclaim(
        self, case_id: int, *, actor: Actor | None = None, at: datetime | None = None
    ) -> Case:
        """Take back a case handed over with :meth:`export_handoff` that will not come back
        (the receiver refused it, say): commands and deadlines run here again. Whatever the
        receiver did with its copy is not brought back; a package it sends later that departs
        from the history here is refused. Only an intake officer, arbitrator or judge (or the
        system) takes a case back."""
        actor = self._acting(actor, "take back")
        at = self._at(at, "reclaim")
        with self._store.connect() as conn:
            with self._store.reading(conn):
                case = self._get(conn, case_id)
                self._authorize_personal_data(actor, case, "take back")
                self._may_hand_over(actor, "take back", case_id)
                record = self._load(conn, case_id)
            if record.held_by is None:
                raise InvalidData("reclaim", "case", f"case {case_id} is not handed over")
            with self._store.writing(conn):
                self._store.release(conn, case_id)
                self._ledger_entry(conn, case_id, "reclaim", at)
                self._store.insert_handoff(
                    conn,
                    {
                        "case_id": case_id,
                        "direction": "reclaim",
                        "from_org": record.held_by,
                        "to_org": self.handoff.org_id or "",
                        "digest": "",
                        "head": record.event_hash or "",
                        "events": record.version,
                        "signed_by": None,
                        "actor_id": actor.id,
                        "at": at,
                    },
                )
            case = self._get(conn, case_id)
        self._log.info("handoff_reclaimed", case_id=case_id, held_by=record.held_by)
        return case

    def _may_hand_over(self, actor: Actor, action: str, case_id: int) -> None:
        """Handing a case over (a hold) and taking it back stop or restart its clocks here:
        only the offices that take cases in do it."""
        if actor.role not in HANDOVER_ROLES:
            raise PermissionDenied(
                actor.id,
                actor.role.value,
                action,
                case_id,
                "cases are handed over and taken back by intake officers, arbitrators and "
                "judges (a copy, hold=False, needs only the right to see the case's personal "
                "data)",
            )
