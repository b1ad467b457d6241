"""Taking in a case handed over by another system (:mod:`mediation_flow.handoff`): the package
checked before anything is written (its form, seals and address, the actor, the history
replayed on this engine's flow and calendar, the fields the history decides recomputed, the
case numbers against this engine's rules), then stored, continued or handed back in one
transaction. Handing a case over is in :mod:`.docking`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection

from mediation_flow.audit import derived_problems, verify_case
from mediation_flow.engine.core import EngineCore
from mediation_flow.engine.docking import HANDOVER_ROLES
from mediation_flow.engine.rows import event_rows, number_rows
from mediation_flow.errors import (
    DatabaseError,
    HandoffRejected,
    InvalidIntake,
    MediationFlowError,
    PermissionDenied,
    StorageError,
)
from mediation_flow.flow.compiler import CompiledFlow
from mediation_flow.flow.data import to_json
from mediation_flow.handoff import (
    Contents,
    HandoffPackage,
    HandoffResult,
    check_format,
    check_intake,
    check_numbers,
    check_times,
    load_package,
    parse_package,
    recompute_deadlines,
)
from mediation_flow.models import Actor
from mediation_flow.policy import CaseScope
from mediation_flow.records import CaseRecord
from mediation_flow.replay import DeadlineDifference


class HandoffImport(EngineCore):
    """``import_handoff``: a package checked, then stored in one transaction."""

    def import_handoff(
        self,
        package: HandoffPackage | bytes | str | Path | Mapping[str, Any],
        *,
        actor: Actor | None = None,
        at: datetime | None = None,
    ) -> HandoffResult:
        """Take in a case handed over by another system (:mod:`mediation_flow.handoff`).

        ``package`` is an exported :class:`~mediation_flow.handoff.HandoffPackage`, the file's
        bytes or JSON text, its ``Path``, or its parsed JSON. Before anything is written the
        package is checked: its form and schema, its digest, its signature (against
        ``HandoffSettings.trusted_keys``; once any key is trusted, unsigned packages are
        refused), that it is addressed to this system, the actor (an intake officer, arbitrator
        or judge whose scope covers the region), the case's hash chain, intake digest and case
        numbers (each what this engine's rule for its key issues), its events' times (in order,
        from the opening to the export and this import), its intake facts against the
        ``open_case`` event and the intake rules, its history replayed through the flow to the
        state it claims, the case's attributes and resolution against those the replay gives,
        and the deadlines it lists against those the history gives on this engine's calendar
        (the replay's deadlines and limitation period are the ones stored). Then, in one
        transaction: a case new here is created in the same state with the same history,
        deadlines, numbers and documents' metadata; a case already here with this history is
        left alone (importing twice is a no-op); a case here whose history the package
        continues gets the new events and runs here again. A package whose history departs from
        the one here, or that fails any check, raises ``HandoffRejected`` and writes nothing.
        """
        actor = self._acting(actor, "import a handoff package")
        at = self._at(at, "import_handoff")
        try:
            checked = self._checked_package(package, actor, at)
        except MediationFlowError:
            raise
        except RecursionError:
            raise HandoffRejected("format", "the package is nested too deeply") from None
        except (ValueError, TypeError, OverflowError, LookupError, AttributeError) as exc:
            # A value no check foresaw; its message may quote the package: the kind only.
            raise HandoffRejected(
                "format", f"the package's content cannot be checked ({type(exc).__name__})"
            ) from None
        if isinstance(checked, HandoffResult):
            return checked
        data, signer, contents, compiled, redated = checked
        case = contents.case
        outcome, case_id, added = self._store_import(contents, compiled, data, signer, actor, at)
        for d in redated if outcome != "unchanged" else ():
            # Stored on this system's calendar; the package's date came from a predicted
            # schedule on one side (mediation_flow.replay.compare_deadlines).
            self._log.warning(
                "handoff_deadline_redated",
                case_id=case_id,
                kind=d.kind,
                party=d.party,
                starts_on=d.starts_on.isoformat(),
                package_due=d.theirs.isoformat(),
                due=d.ours.isoformat(),
                provisional=d.ours_provisional,
            )
        self._log.info(
            "handoff_imported",
            case_id=case_id,
            serial=case["serial"],
            from_org=data["from_org"],
            outcome=outcome,
            new_events=added,
            signed_by=signer,
        )
        return HandoffResult(case_id, outcome, added, signer)

    def _checked_package(
        self,
        package: HandoffPackage | bytes | str | Path | Mapping[str, Any],
        actor: Actor,
        at: datetime,
    ) -> (
        HandoffResult
        | tuple[dict[str, Any], str | None, Contents, CompiledFlow, list[DeadlineDifference]]
    ):
        """Every check of an import, before anything is written: the package's contents to
        store, or the result when the history is here already."""
        if self.handoff.trusted_keys and not self.handoff.org_id:
            # A package is addressed to one organisation: a receiver that trusts senders but
            # does not know who it is would take in packages meant for anyone.
            raise HandoffRejected(
                "address",
                "this system's organisation is not configured, so it cannot tell whether a "
                "package is addressed to it: set HandoffSettings(org_id=...) (--org on the "
                "command line)",
            )
        data, _ = load_package(package)  # size and nesting first, before any parsing
        check_format(data)
        try:
            # Who sent it, before its content is looked at (the schema, the history).
            signer = self.handoff.check_seals(data)
        except (TypeError, ValueError, KeyError, AttributeError):
            raise HandoffRejected("format", "the package is not a sealed package") from None
        contents = parse_package(data)
        case = contents.case
        if self.handoff.org_id and data["to_org"] != self.handoff.org_id:
            raise HandoffRejected(
                "address",
                f"the package is addressed to {data['to_org']!r}, and this system is "
                f"{self.handoff.org_id!r}",
            )
        org = case["attributes"].get("org_id")
        scope = CaseScope(0, case["region"], case["state"], org if isinstance(org, str) else None,
                          tuple(contents.parties))  # fmt: skip
        if actor.role not in HANDOVER_ROLES:
            raise PermissionDenied(
                actor.id,
                actor.role.value,
                "import a handoff package",
                None,
                "cases are taken in by intake officers, arbitrators and judges",
            )
        self._authorize_personal_data(
            actor, scope, f"import the handoff package of {case['serial']}"
        )
        here = self._known_history(contents, data, actor)
        if here is not None:
            # This history, or an older part of it, is here already: nothing to replay.
            self._log.info(
                "handoff_imported",
                case_id=here,
                serial=case["serial"],
                from_org=data["from_org"],
                outcome="unchanged",
                new_events=0,
                signed_by=signer,
            )
            return HandoffResult(here, "unchanged", 0, signer)
        compiled = self._flows.get(case["flow_fingerprint"]) or self._compiled_for(case["region"])
        contents, redated = self._check_imported(contents, compiled, at)
        return data, signer, contents, compiled, redated

    def _known_history(
        self, contents: Contents, data: Mapping[str, Any], actor: Actor
    ) -> int | None:
        """The id of the case here whose history holds the package's (the same head, or an
        older one of its events), when importing it would change nothing; None otherwise (a
        new case, more events, another history, or a hand-back from the holder)."""
        with self._store.connect() as conn, self._store.reading(conn):
            case_id = self._store.case_by_serial(conn, contents.case["serial"])
            if case_id is None:
                return None
            here = self._load(conn, case_id)
            events = len(contents.events)
            if not events or events > here.version or here.held_by == data["from_org"]:
                return None  # new events, or a hand-back (checked in full)
            if events == here.version:
                if here.event_hash != contents.head:
                    return None
            elif self._store.history(conn, case_id)[events - 1].hash != contents.head:
                return None
            self._authorize_personal_data(
                actor,
                self._scope(here, self._store.load_parties(conn, case_id)),
                "import a handoff package into",
            )
            return case_id

    def _check_imported(
        self, contents: Contents, compiled: CompiledFlow, at: datetime
    ) -> tuple[Contents, list[DeadlineDifference]]:
        """The package's case against its own history and the flow it runs under; the contents
        to store, with the deadlines recomputed from the history on this engine's calendar, and
        the due dates that differ from the package's for a reason a calendar explains."""
        case = contents.case
        flow = compiled.definition
        verification = verify_case(
            flow,
            0,
            case["state"],
            contents.head,
            contents.events,
            contents.parties,
            contents.claims,
            chain_id=contents.chain_id,
        )
        if not verification.ok:
            known = case["flow_fingerprint"] == compiled.fingerprint
            hint = (
                ""
                if known
                else f" (the case runs under flow {case['flow_fingerprint'][:12]}, which this "
                "engine lacks: start it with the plugins of the sending system)"
            )
            raise HandoffRejected("chain", "; ".join(verification.problems) + hint)
        if case["version"] != len(contents.events):
            raise HandoffRejected(
                "chain", f"version {case['version']} but {len(contents.events)} events"
            )
        opened_serial = contents.events[0].data.get("serial")
        if opened_serial is not None and opened_serial != case["serial"]:
            raise HandoffRejected(
                "chain", f"the serial {case['serial']} is not the one issued at intake"
            )
        state = flow.state_map[case["state"]]
        if case["resolution"] is not None and not state.terminal:
            raise HandoffRejected("format", f"an open case ({case['state']}) has no resolution")
        check_intake(contents)
        self._check_intake_attributes(case)
        unknown = sorted({d["kind"] for d in contents.deadlines} - set(flow.deadline_map))
        if unknown:
            raise HandoffRejected(
                "format", f"deadline kinds {', '.join(unknown)} are not in the case's flow"
            )
        check_times(contents, at)
        check_numbers(contents, self._numbering_for(case["region"]))
        # The columns that follow from the history, as Engine.verify derives them.
        derived = derived_problems(
            flow, SimpleNamespace(**case), contents.events, [n.number for n in contents.numbers]
        )
        if derived:
            raise HandoffRejected("chain", "; ".join(derived))
        # What only the history may say: the organisation the case was referred to last.
        referred = None
        for event in contents.events:
            if isinstance(event.data.get("org_id"), str):
                referred = event.data["org_id"]
        if case["attributes"].get("org_id") != referred:
            raise HandoffRejected(
                "chain", "the case's organisation is not the one its history referred it to"
            )
        self._sync_calendar()  # the notices registered in the database, by any engine
        return recompute_deadlines(contents, compiled, self.calendar)

    def _check_intake_attributes(self, case: Mapping[str, Any]) -> None:
        """The region's intake attributes (``attributes["intake"]``) as this engine's plugins
        declare and check them at intake."""
        intake = case["attributes"].get("intake")
        if intake is None:
            return
        declared = self._plugins.attributes(case["region"])
        if not isinstance(intake, Mapping) or not set(intake) <= set(declared):
            raise HandoffRejected(
                "intake",
                "the case's intake attributes are not the ones this system's plugins declare for "
                "its region (start this engine with the plugins of the sending system)",
            )
        try:
            checked = to_json(self._plugins.check_attributes(case["region"], intake))
        except InvalidIntake as exc:
            # The reason may quote the value (personal data): the field only.
            raise HandoffRejected(
                "intake", f"the intake attribute {exc.field} does not pass this system's check"
            ) from None
        if checked != intake:
            raise HandoffRejected(
                "intake", "the case's intake attributes are not as this system's plugins check them"
            )

    def _store_import(
        self,
        contents: Contents,
        compiled: CompiledFlow,
        data: Mapping[str, Any],
        signer: str | None,
        actor: Actor,
        at: datetime,
    ) -> tuple[str, int, int]:
        """Write the import in one transaction. Two imports of the same case at once: the
        second finds the first's case when it tries again."""
        for attempt in (1, 2):
            try:
                return self._write_import(contents, compiled, data, signer, actor, at)
            except DatabaseError as exc:
                if exc.kind != "integrity":
                    raise
                with self._store.connect() as conn, self._store.reading(conn):
                    arrived = self._store.case_by_serial(conn, contents.case["serial"])
                if arrived is not None and attempt == 1:
                    continue
                raise HandoffRejected(
                    "conflict",
                    "a case number of the package is already used by another case here: two "
                    "systems issue numbers under the same prefix; give each system its own "
                    "prefixes (docs/howto/handoff.md)",
                ) from None
            except StorageError:
                # Its message holds no value of the package (personal data).
                raise HandoffRejected("format", "a value does not fit this database") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_import(
        self,
        contents: Contents,
        compiled: CompiledFlow,
        data: Mapping[str, Any],
        signer: str | None,
        actor: Actor,
        at: datetime,
    ) -> tuple[str, int, int]:
        with self._store.connect() as conn, self._store.writing(conn):
            case_id = self._store.case_by_serial(conn, contents.case["serial"])
            if case_id is None:
                case_id = self._insert_imported(conn, contents, compiled)
                outcome, added = "created", len(contents.events)
            else:
                here = self._load(conn, case_id)
                self._authorize_personal_data(
                    actor,
                    self._scope(here, self._store.load_parties(conn, case_id)),
                    "import a handoff package into",
                )
                if len(contents.events) > here.version and here.held_by != data["from_org"]:
                    # Only the organisation holding the case acts on it, and sends it back.
                    raise HandoffRejected(
                        "holder",
                        f"case {contents.case['serial']} is not held by {data['from_org']!r} "
                        "(it holds, at most, a copy): only the organisation the case was handed "
                        "to continues it and sends it back",
                    )
                outcome, added = self._continue_imported(conn, here, contents)
                if outcome == "unchanged" and self._handed_back(conn, here, data, contents):
                    # Handed back as it was sent: it runs here again.
                    self._store.release(conn, case_id)
                    outcome = "returned"
            if outcome != "unchanged":
                # The numbers it brings are stored with it; this system's counters are left
                # alone (issuing skips a number stored already: Store.next_number), so a
                # package cannot make a series jump.
                self._ledger_entry(conn, case_id, "import", at)
                self._store.insert_handoff(
                    conn,
                    {
                        "case_id": case_id,
                        "direction": "in",
                        "from_org": data["from_org"],
                        "to_org": data["to_org"],
                        "digest": data["digest"]["value"],
                        "head": contents.head,
                        "events": len(contents.events),
                        "signed_by": signer,
                        "actor_id": actor.id,
                        "at": at,
                    },
                )
            return outcome, case_id, added

    def _insert_imported(self, conn: Connection, contents: Contents, compiled: CompiledFlow) -> int:
        case = {**contents.case, "flow_fingerprint": compiled.fingerprint}
        case["chain_id"] = contents.chain_id
        party_rows = [
            {
                "position": i,
                "kind": p.kind,
                "role": p.role,
                "name": p.name,
                "id_number": p.id_number,
                "phone": p.phone,
                # The sender's logins: here they would let a stranger act as a party.
                "account": None,
            }
            for i, p in enumerate(contents.parties)
        ]
        claim_rows = [
            {"position": i, "kind": c.kind.value, "amount": c.amount}
            for i, c in enumerate(contents.claims)
        ]
        case_id = self._store.insert_case(conn, case, party_rows, claim_rows)
        self._store.insert_rows(conn, "mf_event", event_rows(case_id, contents.events))
        self._store.insert_rows(
            conn, "mf_deadline", [{**d, "case_id": case_id} for d in contents.deadlines]
        )
        self._store.insert_rows(conn, "mf_case_number", number_rows(case_id, contents))
        self._store.insert_rows(
            conn, "mf_document", [{**d, "case_id": case_id} for d in contents.documents]
        )
        return case_id

    def _handed_back(
        self, conn: Connection, here: CaseRecord, data: Mapping[str, Any], contents: Contents
    ) -> bool:
        """A package with the history here, from the organisation the case was handed to,
        exported after the hand-over and not taken in before (a replay is not a hand-back)."""
        if (
            here.held_by is None
            or here.held_since is None
            or data["from_org"] != here.held_by
            or len(contents.events) != here.version
            or contents.exported_at < here.held_since
        ):
            return False
        seen = {h["digest"] for h in self._store.handoffs_of(conn, here.id)}
        return data["digest"]["value"] not in seen

    def _continue_imported(
        self, conn: Connection, record: CaseRecord, contents: Contents
    ) -> tuple[str, int]:
        """The case is here already: nothing to do, or the package continues its history."""
        case_id = record.id
        local = self._store.history(conn, case_id)
        theirs = contents.events
        if [e.hash for e in local] == [e.hash for e in theirs[: len(local)]]:
            if len(theirs) == len(local):
                return "unchanged", 0
            known = {n["number"] for n in record.attributes.get("case_numbers", ())}
            new_events = theirs[len(local) :]
            case = contents.case
            self._store.lock_version(conn, case_id, record.version)
            self._store.update_case(
                conn,
                case_id,
                {
                    k: case[k]
                    for k in (
                        "state",
                        "version",
                        "resolution",
                        "limitation_expires_on",
                        "updated_at",
                        "attributes",
                        "event_hash",
                    )
                }
                | {"held_by": None, "held_since": None},
            )
            self._store.insert_rows(conn, "mf_event", event_rows(case_id, new_events))
            self._store.delete_deadlines(conn, case_id)
            self._store.insert_rows(
                conn, "mf_deadline", [{**d, "case_id": case_id} for d in contents.deadlines]
            )
            self._store.insert_rows(
                conn,
                "mf_case_number",
                [r for r in number_rows(case_id, contents) if r["number"] not in known],
            )
            have = {d["sha256"] for d in self._store.documents_of(conn, case_id)}
            self._store.insert_rows(
                conn,
                "mf_document",
                [{**d, "case_id": case_id} for d in contents.documents if d["sha256"] not in have],
            )
            return "updated", len(new_events)
        if [e.hash for e in theirs] == [e.hash for e in local[: len(theirs)]]:
            return "unchanged", 0  # an older package of a case that has moved on here
        raise HandoffRejected(
            "conflict",
            f"case {contents.case['serial']} is here (case {case_id}) with a history that "
            "departs from the package's: both systems acted on it since the handoff; settle "
            "which history stands before importing",
        )
