"""Tamper evidence: ``verify`` checks a case's hash chain, intake digest and the columns its
history decides; ``verify_all`` every case and, for the operators, the database-wide ledger
against a signed checkpoint (:mod:`mediation_flow.ledger`); ``checkpoint`` signs the ledger's
size and head.
"""

from __future__ import annotations

from datetime import datetime

from mediation_flow import ledger
from mediation_flow.audit import Verification, derived_problems, verify_case
from mediation_flow.engine.core import EngineCore
from mediation_flow.errors import CaseNotFound, PermissionDenied
from mediation_flow.ledger import Checkpoint, CheckpointError
from mediation_flow.models import Actor, Role


class Integrity(EngineCore):
    """Verification of cases and of the ledger; signed checkpoints."""

    def verify(self, case_id: int, *, actor: Actor | None = None) -> Verification:
        """Check a case's tamper-evident history: every event's hash and the chain between them,
        the parties and claims against the digest taken at intake, and the stored state against
        the state its history leads to. ``verification.problems`` names each broken event.
        An actor verifies the cases it may read."""
        actor = self._acting(actor, "verify")
        with self._store.connect() as conn, self._store.reading(conn):
            case = self._load(conn, case_id)
            if actor.role is not Role.system:
                parties = self._store.load_parties(conn, case_id)
                self._authorize_read(actor, self._scope(case, parties))
            flow = self._flows.get(case.flow_fingerprint)
            definition = flow.definition if flow else self.flow_for(case.region)
            history = self._store.history(conn, case_id)
            verification = verify_case(
                definition,
                case.id,
                case.state,
                case.event_hash,
                history,
                self._store.load_parties(conn, case_id),
                self._store.load_claims(conn, case_id),
                chain_id=case.chain_id,
            )
            # The columns that follow from the history, derived and compared.
            verification.problems.extend(
                derived_problems(definition, case, history, ledger.number_rows(conn, case_id))
            )
            return verification

    def verify_all(
        self,
        *,
        actor: Actor | None = None,
        checkpoint: Checkpoint | str | bytes | None = None,
    ) -> list[Verification]:
        """:meth:`verify` every case the actor may read; returns the verifications with
        problems. For the system actor, the ledger (:mod:`mediation_flow.ledger`) too: each
        case's stored state against its last ledger entry, deleted cases, and with
        ``checkpoint`` (a :class:`~mediation_flow.ledger.Checkpoint` or its JSON) the ledger's
        chain against it: truncation, rollback, deleted, reordered or edited entries. Problems
        of the ledger itself are reported as case 0."""
        actor = self._acting(actor, "verify")
        if isinstance(checkpoint, str | bytes):
            expected = self.handoff.signing_key.public_key() if self.handoff.signing_key else None
            checkpoint = Checkpoint.parse(checkpoint, expected_key=expected)
        with self._store.connect() as conn, self._store.reading(conn):
            ids = self._store.case_ids(conn)
        by_case: dict[int, list[str]] = {}
        for case_id in ids:
            try:
                verification = self.verify(case_id, actor=actor)
            except CaseNotFound:
                continue  # outside the actor's scope (or deleted meanwhile)
            if not verification.ok:
                by_case[case_id] = list(verification.problems)
        if actor.role is Role.system:
            for case_id, problems in self._ledger_problems(checkpoint).items():
                by_case.setdefault(case_id, []).extend(problems)
        elif checkpoint is not None:
            raise PermissionDenied(
                actor.id,
                actor.role.value,
                "verify the ledger",
                None,
                "the whole ledger is verified by the host's operators (the system actor)",
            )
        return [Verification(case_id, by_case[case_id]) for case_id in sorted(by_case)]

    def checkpoint(self, *, at: datetime | None = None, actor: Actor | None = None) -> Checkpoint:
        """Sequence the ledger (:mod:`mediation_flow.ledger`) and sign a checkpoint of it: its
        size and head. Store the checkpoint outside the database; ``verify_all(checkpoint=...)``
        then shows any change to what was written before it. Cases stored before the ledger
        existed are adopted first, as they are now. Needs this system's signing key
        (``HandoffSettings.signing_key``; ``CheckpointError`` otherwise) and the system actor."""
        actor = self._acting(actor, "take a ledger checkpoint")
        at = self._at(at, "checkpoint")
        if actor.role is not Role.system:
            raise PermissionDenied(
                actor.id,
                actor.role.value,
                "take a ledger checkpoint",
                None,
                "checkpoints are taken by the host's operators (the system actor)",
            )
        if self.handoff.signing_key is None:
            raise CheckpointError(
                "a checkpoint is signed with this system's Ed25519 key: configure "
                "HandoffSettings(signing_key=...) (mediation-flow --signing-key FILE)"
            )
        with self._store.connect() as conn, self._store.writing(conn):
            ledger.adopt(conn, at)
            size, head = ledger.sequence(conn)
        return Checkpoint.sign(size, head or "", at, self.handoff.signing_key)

    def _ledger_problems(self, checkpoint: Checkpoint | None) -> dict[int, list[str]]:
        """The ledger against ``checkpoint`` (case 0: the ledger itself), and every case the
        ledger names against the case as stored now."""
        found: dict[int, list[str]] = {}
        with self._store.connect() as conn, self._store.reading(conn):
            rows = ledger.entries(conn)
            ledger_wide = ledger.check_ledger(rows, checkpoint)
            if ledger_wide:
                found[0] = ledger_wide
            latest: dict[int, str] = {}
            for row in rows:
                latest[row.case_id] = row.digest  # sequenced first, then newer ones
            stored = set(self._store.case_ids(conn))
            for case_id, digest in latest.items():
                if case_id not in stored:
                    found.setdefault(case_id, []).append(
                        "the case was deleted: the ledger records it"
                    )
                elif self._stored_digest(conn, case_id) != digest:
                    found.setdefault(case_id, []).append(
                        "the stored case (its columns, parties, claims or deadlines) is not the "
                        "one its last ledger entry recorded: it was edited outside the engine"
                    )
            for case_id in stored - set(latest):
                found.setdefault(case_id, []).append(
                    "the case has no ledger entry: it was stored outside the engine, or its "
                    "entries were deleted"
                )
        return found
