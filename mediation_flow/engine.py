"""The engine: one command = load -> decide -> write in one transaction -> log.

``Engine`` is the public entry point. A command (``open_case``, ``fire``, one expiry of
``tick``) loads the case row and its deadlines in a read transaction, fires the trigger on the
flow's shared machine (which checks legality and guards), works out the effects and the deadline
changes, and writes state + event + deadlines in one write transaction guarded by the version it
read. After the commit it logs. No case object outlives its command.

Time is an argument: every command takes ``at`` (timezone-aware); without it, the engine asks its
``clock`` (default: now in Asia/Shanghai). Nothing deeper in the library reads the clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from mediation_flow import ledger
from mediation_flow.audit import (
    Verification,
    derived_problems,
    event_hash,
    intake_digest,
    verify_case,
)
from mediation_flow.calendar import DEFAULT_CALENDAR, Calendar, check_notice, checked_schedule
from mediation_flow.calendar_config import calendar_error
from mediation_flow.deadlines import apply_transition
from mediation_flow.documents import Document, DocumentTemplates, TemplateInfo, document_context
from mediation_flow.duedates import Holder, limitation_expiry
from mediation_flow.early_warning import (
    Alert,
    CaseFacts,
    Employer,
    Level,
    Rule,
    RuleSet,
    default_rules,
)
from mediation_flow.errors import (
    ActorRequired,
    CalendarNotAvailable,
    CaseHandedOver,
    CaseNotFound,
    ConcurrentUpdate,
    DatabaseError,
    DocumentError,
    FlowDefinitionError,
    GuardFailed,
    HandoffRejected,
    IdempotencyConflict,
    IllegalTransition,
    InvalidData,
    InvalidIntake,
    MediationFlowError,
    NotFound,
    PermissionDenied,
    PluginError,
    StorageError,
    UnknownFlow,
)
from mediation_flow.flow import guards as _guards
from mediation_flow.flow.compiler import CompiledFlow, compile_flow
from mediation_flow.flow.context import Context
from mediation_flow.flow.data import parse_data, to_json
from mediation_flow.flow.definition import FlowDefinition, TransitionDef
from mediation_flow.flow.effects import apply_effect
from mediation_flow.flow.guards import limitation_day
from mediation_flow.flow.national import national_flow
from mediation_flow.handoff import (
    Contents,
    HandoffPackage,
    HandoffResult,
    HandoffSettings,
    check_format,
    check_numbers,
    load_package,
    package_body,
    parse_package,
)
from mediation_flow.holiday_schedule import Basis
from mediation_flow.idempotency import check_key, intake_request, scoped_key
from mediation_flow.inputs import check_actor, nul_path
from mediation_flow.ledger import Checkpoint, CheckpointError, state_digest
from mediation_flow.logging import get_logger
from mediation_flow.lookup import Progress, progress
from mediation_flow.models import (
    SYSTEM,
    Actor,
    Case,
    CaseNumber,
    Claim,
    Deadline,
    DeadlineStatus,
    Event,
    Intake,
    Party,
    PartyKind,
    Resolution,
    Role,
    json_limit_problem,
    parse_intake,
    party_ids,
)
from mediation_flow.numbering import (
    NATIONAL_RULES,
    Numbering,
    NumberingRule,
    new_serial,
    normalise_reference,
    number_variants,
)
from mediation_flow.personal_data import (
    check_credit_code,
    check_identity_number,
    check_intake_field,
    check_phone,
    mask_value,
)
from mediation_flow.plugins import PluginInfo, Plugins, Route
from mediation_flow.policy import CaseScope, Policy
from mediation_flow.records import CaseRecord, DeadlineRecord
from mediation_flow.redating import (
    CalendarStatus,
    RedatePass,
    calendar_status,
    calendar_warnings,
    redate,
)
from mediation_flow.reports import Report, build_report
from mediation_flow.storage.cache import IntakeCache
from mediation_flow.storage.repository import DuplicateKey, Store, WritePlan

if TYPE_CHECKING:
    from mediation_flow.outbox import Outbox

__all__ = ["SHANGHAI", "Engine", "retry_on_conflict"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
T = TypeVar("T")
_CENT = Decimal("0.01")


def _now() -> datetime:
    return datetime.now(SHANGHAI)


class Engine:
    """Runs labour-dispute cases through the five-mediation linkage on a database.

    ``url`` is any SQLAlchemy URL; ``None`` means the SQLite file ``mediation_flow.db`` in the
    working directory and ``"sqlite://"`` an in-memory database. PostgreSQL URLs
    (``postgresql://...``) use psycopg 3. ``clock`` returns the current timezone-aware time when a
    command is given no ``at``; ``calendar`` sets the working-day calendar (regional rest days,
    the make-up-day setting, schedules of years newer than the installed calendar package).
    ``flows`` adds flow definitions the engine knows besides its own, so that cases opened under
    them still run.

    An empty database gets the schema (unless ``create_schema=False``); a database whose schema
    is older than this release raises ``SchemaMismatch`` naming the command to run
    (``mediation-flow db upgrade``).

    ``policy`` decides who may fire and read what (:mod:`mediation_flow.policy`; the national
    policy by default). Commands and reads take an ``actor``; without one they run as
    ``default_actor``: the trusted ``system`` actor (the host's own code), unless the host makes
    the engine fail closed with ``default_actor=None`` (every call then needs an actor and
    raises ``ActorRequired`` without one). A case outside the actor's scope is "not found".

    ``numbering`` replaces national case-number rules by key (:mod:`mediation_flow.numbering`):
    the deployment's own commissions' and courts' prefixes; ``national_numbering=False`` keeps
    only those and the plugins' (a host that numbers cases itself passes no rules at all).
    ``handoff`` names this system's organisation and its signing and trusted keys for handoff
    packages (:mod:`mediation_flow.handoff`).

    ``plugins`` are regional plugins (:mod:`mediation_flow.hookspecs`) besides those found through
    the ``mediation_flow.plugins`` entry points (``entry_points=False`` skips those). Each region
    runs under its own flow: ``flow`` (default: the national flow) extended by the plugins that
    serve the region. A plugin that fails to load or breaks the statutory floor raises
    ``PluginError`` here, at start-up.

    The connection pool (PostgreSQL): ``pool_size`` connections kept, ``max_overflow`` more
    opened under load, ``pool_timeout`` seconds a command waits for a free one,
    ``pool_recycle`` seconds before a connection is replaced (below the server's or a proxy's
    idle limit); ``statement_timeout_ms`` bounds each statement, ``busy_timeout`` (SQLite) how
    long a writer waits for the lock.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        plugins: Iterable[object] = (),
        entry_points: bool = True,
        policy: Policy | None = None,
        clock: Callable[[], datetime] | None = None,
        calendar: Calendar | None = None,
        flow: FlowDefinition | None = None,
        flows: Iterable[FlowDefinition] = (),
        create_schema: bool = True,
        busy_timeout: float = 5.0,
        pool_size: int | None = None,
        max_overflow: int | None = None,
        pool_timeout: float | None = None,
        pool_recycle: float | None = None,
        statement_timeout_ms: int | None = None,
        echo: bool = False,
        early_warning: Iterable[Rule] | None = None,
        numbering: Iterable[NumberingRule] | None = None,
        national_numbering: bool = True,
        handoff: HandoffSettings | None = None,
        default_actor: Actor | None = SYSTEM,
    ) -> None:
        if default_actor is not None and not isinstance(default_actor, Actor):
            raise TypeError("default_actor must be an Actor or None")
        #: The actor of a call without one: the trusted system by default; ``None`` makes every
        #: call without an actor fail (``ActorRequired``).
        self.default_actor = default_actor
        self._store = Store(
            url,
            busy_timeout=busy_timeout,
            pool_size=pool_size,
            statement_timeout_ms=statement_timeout_ms,
            echo=echo,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
            pool_recycle=pool_recycle,
        )
        self._clock = clock or _now
        # Parties and claims by case and chain head (mediation_flow.storage.cache).
        self._intake: IntakeCache[tuple[tuple[Party, ...], tuple[Claim, ...]]] = IntakeCache()
        self._log = get_logger()
        self.policy = policy or Policy()
        self._plugins = Plugins(plugins, entry_points=entry_points)
        # Early warning: the national rules (or the host's), then the plugins' regional rules.
        self.early_warning = RuleSet(
            default_rules() if early_warning is None else early_warning,
            on_error=self._early_warning_failed,
        ).with_rules(self._plugins.early_warning_rules())
        # The national calendar with the plugins' regional days; the notices registered in the
        # database are added to it (_sync_calendar), and re-read when one is registered.
        self._base_calendar = self._plugins.calendar(calendar or DEFAULT_CALENDAR)
        self.calendar = self._base_calendar
        self._calendar_revision = -1
        self._calendar_problems: list[Any] = []
        self._base = flow or national_flow()
        self._plugins.check(self._base)
        self._flow = compile_flow(self._base)
        self._flows: dict[str, CompiledFlow] = {self._flow.fingerprint: self._flow}
        self._region_flows: dict[str, CompiledFlow] = {}
        self._store.ensure_schema(create=create_schema)
        self._sync_calendar()
        self._register(self._flow)
        for extra in flows:
            self._register(compile_flow(self._plugins.bind(extra)))
        # Build every plugin's flow now: a broken plugin is refused at start-up (its regions
        # raise its PluginError when used; the others run).
        for region in self._plugins.declared_regions():
            with contextlib.suppress(PluginError):
                self._compiled_for(region)
        self.handoff = handoff or HandoffSettings()
        self._numbering_config = list(numbering or ())
        self._national_numbering = NATIONAL_RULES if national_numbering else ()
        self._numbering = Numbering(self._national_numbering).with_rules(self._numbering_config)
        self._numberings: dict[str, Numbering] = {}
        self._templates: dict[str, DocumentTemplates] = {}
        self._check_numbering()
        self._settle_at_start()
        for region in self._plugins.declared_regions():
            try:  # a plugin's template that does not compile is refused at start-up
                self._templates_for(region)
            except DocumentError as exc:
                self._plugins.refuse(PluginError(self._plugins.names_serving(region), str(exc)))
            except PluginError:
                pass  # refused already; the region raises it when used
        self._region_flows = {
            r: c for r, c in self._region_flows.items() if self._plugins.refusal(r) is None
        }

    # -- housekeeping -----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self._store.url

    @property
    def flow(self) -> FlowDefinition:
        """The flow new cases are opened under."""
        return self._flow.definition

    @property
    def outbox(self) -> Outbox:
        """The event outbox of this database: the feed of committed events, its cursor and
        the webhook subscriptions (:mod:`mediation_flow.outbox`)."""
        from mediation_flow.outbox import Outbox

        return Outbox(self._store, self.handoff)

    def close(self) -> None:
        """Release the database connections."""
        self._store.dispose()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _acting(self, actor: Actor | None, what: str) -> Actor:
        """The actor of a call: the one given, else the engine's default actor."""
        if actor is None:
            if self.default_actor is None:
                raise ActorRequired(what)
            return self.default_actor
        if not isinstance(actor, Actor):
            raise ActorRequired(what)
        return actor

    def _at(self, at: datetime | None, what: str = "at") -> datetime:
        at = self._clock() if at is None else at
        if not isinstance(at, datetime) or at.tzinfo is None or at.utcoffset() is None:
            raise InvalidData(what, "at", f"must be a timezone-aware datetime, not {at!r}")
        return at

    @staticmethod
    def _day(at: datetime) -> date:
        return at.astimezone(SHANGHAI).date()

    @property
    def plugins(self) -> list[PluginInfo]:
        """The loaded plugins, with the regions they serve and the hooks they implement."""
        return self._plugins.info()

    def flow_for(self, region: str) -> FlowDefinition:
        """The flow new cases of ``region`` (a 6-digit division code) are opened under."""
        return self._compiled_for(region).definition

    def _compiled_for(self, region: str) -> CompiledFlow:
        compiled = self._region_flows.get(region)
        if compiled is None:
            if not self._plugins.serving(region):
                compiled = self._flow
            else:
                definition = self._plugins.build_flow(self._base, region)
                try:
                    compiled = compile_flow(definition)
                except FlowDefinitionError as exc:
                    plugins = ", ".join(definition.plugins) or "?"
                    error = PluginError(plugins, f"the flow for {region} does not compile: {exc}")
                    self._plugins.refuse(error)
                    raise error from exc
                if compiled.fingerprint not in self._flows:
                    self._register(compiled)
            self._region_flows[region] = compiled
        return compiled

    def _numbering_for(self, region: str) -> Numbering:
        """The region's case-number rules: national, the plugins', then the deployment's."""
        numbering = self._numberings.get(region)
        if numbering is None:
            plugin_rules = self._plugins.numbering_rules(region)
            numbering = self._numbering
            if plugin_rules:
                numbering = (
                    Numbering(self._national_numbering)
                    .with_rules(plugin_rules)
                    .with_rules(self._numbering_config)
                )
            self._numberings[region] = numbering
        return numbering

    def _check_numbering(self) -> None:
        """Numbering rules must name triggers of the flows (a typo would never number)."""
        known = _org_triggers(c.definition for c in self._flows.values())
        self._numbering.check_triggers(known)
        for region in self._plugins.declared_regions():
            try:
                flow = self._compiled_for(region).definition
                self._numbering_for(region).check_triggers({**known, **_org_triggers([flow])})
            except PluginError as exc:
                self._plugins.refuse(exc)
            except FlowDefinitionError as exc:
                self._plugins.refuse(PluginError(self._plugins.names_serving(region), str(exc)))

    def _templates_for(self, region: str) -> DocumentTemplates:
        templates = self._templates.get(region)
        if templates is None:
            templates = DocumentTemplates(self._plugins.document_templates(region))
            self._templates[region] = templates
        return templates

    def _register(self, compiled: CompiledFlow) -> None:
        self._flows[compiled.fingerprint] = compiled
        d = compiled.definition
        self._store.register_flow(compiled.fingerprint, d.name, d.as_dict(), self._at(None))

    def _flow_of(self, case: CaseRecord) -> CompiledFlow:
        compiled = self._flows.get(case.flow_fingerprint)
        if compiled is None and self._compiled_for(case.region).fingerprint == (
            case.flow_fingerprint
        ):
            compiled = self._flows[case.flow_fingerprint]
        if compiled is None:
            raise UnknownFlow(case.id, case.flow_fingerprint, tuple(self._flows))
        return compiled

    def _veto(self, ctx: Context, tdef: TransitionDef) -> None:
        vetoed = self._plugins.veto(ctx.case.region, ctx, tdef)
        if vetoed is not None:
            plugin, reason = vetoed
            raise GuardFailed(
                case_id=ctx.case.id,
                state=ctx.state,
                trigger=ctx.trigger,
                guard=f"{plugin}:veto",
                reason=reason,
            )

    # -- commands ---------------------------------------------------------------------------------

    def open_case(
        self,
        intake: Intake | dict[str, Any],
        *,
        actor: Actor | None = None,
        at: datetime | None = None,
        idempotency_key: str | None = None,
    ) -> Case:
        """Register a new dispute at one-stop intake; it starts in ``received``.

        Raises ``InvalidIntake`` naming the field for bad input; nothing is stored then.
        ``idempotency_key`` makes a retried intake safe: the same key with the same intake (and
        actor) opens one case, and every retry returns it as it was opened; the same key with
        another intake raises ``IdempotencyConflict`` (keys are scoped per actor,
        :mod:`mediation_flow.idempotency`).
        """
        started = time.perf_counter()
        actor = check_actor(self._acting(actor, "open a case"), "open_case")
        parsed = parse_intake(intake)  # bounds the size and depth before anything walks it
        if isinstance(intake, dict) and (where := nul_path(intake)) is not None:
            raise InvalidIntake(where, "must not contain a NUL character")
        at = self._at(at, "open_case")
        if idempotency_key is None:
            return self._open_case(parsed, actor, at, started, None)
        key = scoped_key(actor, check_key(idempotency_key, "open_case"))
        request = intake_request(parsed, actor)
        with self._store.connect() as conn:
            # The stored result first: a retry is answered whatever the clock says now.
            replayed = self._replay_idempotent(
                conn, key, request, None, actor, None, idempotency_key
            )
        if replayed is not None:
            return replayed
        try:
            return self._open_case(parsed, actor, at, started, (key, request))
        except (MediationFlowError, DuplicateKey):
            # The same intake with the same key may have committed in the meantime.
            with self._store.connect() as conn:
                replayed = self._replay_idempotent(
                    conn, key, request, None, actor, None, idempotency_key
                )
            if replayed is not None:
                return replayed
            raise

    def _open_case(
        self,
        parsed: Intake,
        actor: Actor,
        at: datetime,
        started: float,
        idempotent: tuple[str, str] | None,
    ) -> Case:
        today = self._day(at)
        received_on = parsed.received_on or today
        if received_on > today:
            raise InvalidIntake("received_on", f"{received_on} is after the intake date {today}")
        knew = parsed.knew_of_infringement_on
        if knew is not None and knew > received_on:
            raise InvalidIntake(
                "knew_of_infringement_on", f"{knew} is after the receipt date {received_on}"
            )
        self._authorize_intake(actor, parsed)
        compiled = self._compiled_for(parsed.region)
        flow = compiled.definition
        extra = self._plugins.check_attributes(parsed.region, parsed.attributes)
        # LDMAL 27 ¶2: the first claim interrupts the limitation period.
        try:
            limitation = limitation_expiry(
                self.calendar,
                parsed.region,
                knew_of_infringement_on=knew,
                employment_ended_on=parsed.employment_ended_on,
                claim_kinds=[c.kind for c in parsed.claims],
                interruptions=[received_on],
            )
            if limitation["provisional"] and self._sync_calendar():
                limitation = limitation_expiry(
                    self.calendar,
                    parsed.region,
                    knew_of_infringement_on=knew,
                    employment_ended_on=parsed.employment_ended_on,
                    claim_kinds=[c.kind for c in parsed.claims],
                    interruptions=[received_on],
                )
        except CalendarNotAvailable as exc:
            raise calendar_error(exc, "open_case", today) from None
        attributes: dict[str, Any] = {"limitation_interruptions": [received_on.isoformat()]}
        if parsed.is_collective:  # LDMAL 7; AR 62-67
            attributes["collective"] = True
            attributes["representatives"] = list(parsed.representatives)
        if extra:
            # Kept apart from the attributes the flow records, so intake cannot preset them.
            attributes["intake"] = to_json(extra)
        if limitation["provisional"]:
            attributes["limitation_provisional"] = True
        serial = new_serial(parsed.region, today)
        values = {
            "serial": serial,
            "region": parsed.region,
            "state": flow.initial,
            "version": 1,
            "flow_fingerprint": compiled.fingerprint,
            "resolution": None,
            "worker_count": parsed.workers,
            "is_migrant_worker": parsed.is_migrant_worker,
            "knew_of_infringement_on": knew,
            "employment_ended_on": parsed.employment_ended_on,
            "received_on": received_on,
            "limitation_expires_on": limitation["expires_on"],
            "opened_at": at,
            "updated_at": at,
            "attributes": attributes,
        }
        party_rows = _party_rows(parsed, today)
        claim_rows = [
            {"position": i, "kind": c.kind.value, "amount": c.amount}
            for i, c in enumerate(parsed.claims)
        ]
        parties = tuple(
            Party(**{k: v for k, v in row.items() if k != "position"}, id=pid)
            for row, pid in zip(party_rows, party_ids(r["kind"] for r in party_rows), strict=True)
        )
        # As the database gives them back (NUMERIC(14, 2)).
        claims = tuple(Claim(c.kind, c.amount.quantize(_CENT)) for c in parsed.claims)
        # One transaction: the case, parties, claims, the early-warning rules' queries (one for
        # the national rules), the alerts (if any), the events and their outbox entries (one
        # executemany each), the chain head, the ledger entry and, with a key, its record.
        with self._store.connect() as conn, self._store.writing(conn):
            case_id = self._store.insert_case(conn, values, party_rows, claim_rows)
            opened: dict[str, Any] = {
                "case_id": case_id,
                "seq": 1,
                "trigger": "open_case",
                "source": "",
                "dest": flow.initial,
                "actor_id": actor.id,
                "actor_role": actor.role.value,
                "at": at,
                "data": {
                    "serial": serial,
                    "received_on": received_on.isoformat(),
                    "intake_digest": intake_digest(parties, parsed.claims),
                },
                "warnings": [],
            }
            head = opened["hash"] = event_hash(None, opened)
            rows = [opened]
            facts = CaseFacts(
                id=case_id,
                region=parsed.region,
                state=flow.initial,
                worker_count=parsed.workers,
                is_migrant_worker=bool(parsed.is_migrant_worker),
                received_on=received_on,
                attributes=attributes,
                claim_kinds=tuple(c.kind.value for c in claims),
                employers=tuple(
                    Employer(p.name, (p.id_number or "").strip().upper() or None)
                    for p in parties
                    if p.kind is PartyKind.employer
                ),
            )
            for alert in self._new_alerts(
                conn, self.early_warning.evaluate_open(conn, facts, today), at
            ):
                row = alert.event_row(seq=len(rows) + 1, state=flow.initial, at=at)
                head = row["hash"] = event_hash(head, row)
                rows.append(row)
            self._store.insert_events(conn, rows)
            record = CaseRecord(
                id=case_id,
                region=parsed.region,
                state=flow.initial,
                version=len(rows),
                flow_fingerprint=compiled.fingerprint,
                resolution=None,
                worker_count=parsed.workers,
                is_migrant_worker=parsed.is_migrant_worker,
                knew_of_infringement_on=knew,
                employment_ended_on=parsed.employment_ended_on,
                received_on=received_on,
                limitation_started_on=None,
                limitation_expires_on=limitation["expires_on"],
                opened_at=at,
                updated_at=at,
                attributes=attributes,
                event_hash=head,
                serial=serial,
            )
            # The chain head, and the ledger entry (mediation_flow.ledger): the state digest
            # after the intake.
            entry = ledger.entry(case_id, "open", state_digest(record, parties, claims, ()), at)
            self._store.set_event_hash(conn, case_id, head, version=len(rows), entry=entry)
            if idempotent is not None:
                self._store.insert_idempotency(
                    conn,
                    {
                        "key": idempotent[0],
                        "case_id": case_id,
                        "request": idempotent[1],
                        "created_at": at,
                        "result": _snapshot(record),
                    },
                )
        self._intake.put(case_id, head, (parties, claims))
        case = self._view(compiled, record, parties, claims)
        self._log.info(
            "case_opened",
            case_id=case_id,
            region=parsed.region,
            actor_id=actor.id,
            actor_role=actor.role.value,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )
        self._plugins.after_commit(case.region, case, self._event(opened), self._log)
        return case

    def _authorize_intake(self, actor: Actor, intake: Intake) -> None:
        if actor.role is Role.system:
            return
        reason = None
        if actor.region and not intake.region.startswith(actor.region):
            reason = f"region {intake.region} is outside the actor's scope {actor.region}"
        elif actor.role in (Role.worker, Role.employer) and not any(
            p.kind.value == actor.role.value and p.account == actor.id for p in intake.parties
        ):
            reason = f"a {actor.role.value} opens only their own case (a party with their account)"
        if reason is not None:
            raise PermissionDenied(
                actor.id, actor.role.value, "open a case in region", None, reason
            )

    def suggest_routes(self, intake: Intake | dict[str, Any]) -> list[Route]:
        """Suggested first steps for a dispute, each with a reason: the region's plugins'
        suggestions first, then the national default. The officer decides."""
        parsed = parse_intake(intake)
        routes = self._plugins.routes(parsed, parsed.region)
        # ENMP 8; Op-71: negotiation first, mediation always optional (LDMAL 5).
        routes.append(
            Route(
                "refer_to_negotiation",
                "协商优先：双方可先行协商和解；调解自愿，也可直接申请仲裁（劳动争议调解仲裁法第4、5条）",
            )
        )
        return routes

    def demo_scenarios(self, region: str) -> dict[str, Any]:
        """The demo scenarios of the plugins that serve ``region``."""
        return self._plugins.demo_scenarios(region)

    def fire(
        self,
        case_id: int,
        trigger: str,
        *,
        actor: Actor | None = None,
        at: datetime | None = None,
        data: Mapping[str, Any] | None = None,
        expected_version: int | None = None,
        idempotency_key: str | None = None,
    ) -> Case:
        """Fire ``trigger`` on a case and return the case as it is afterwards.

        ``data`` carries what the trigger needs (flow.md §3). ``expected_version``, when given,
        makes the command refuse with ``ConcurrentUpdate`` unless the case is still at that
        version (the version the caller showed an officer, say). ``idempotency_key`` makes a
        retried command safe: the same key with the same command (case, trigger, data, actor)
        applies once and every retry returns the same result; the same key with another command
        raises ``IdempotencyConflict``. Raises ``CaseNotFound``, ``IllegalTransition``,
        ``GuardFailed``, ``InvalidData``, ``PermissionDenied``, ``ConcurrentUpdate``,
        ``DatabaseBusy``, and ``CalendarNotAvailable`` when a due date falls in a year whose
        holiday schedule is not known (``InvalidData`` for a year the calendar will never
        know); nothing of the command is written when it raises.

        Deadlines of the case that ran out before ``at`` with no :meth:`tick` since are
        applied first, each as a tick would have (its expiry trigger, or its expiry event), and
        the command is decided on the case as it is after them: the outcome does not depend on
        when the tick workers ran (a deadline the command itself meets in time, an act dated
        by its data, is not expired). Those expiries stay recorded even if the command is then
        refused (a tick would have recorded them too). A command refused on the case as it was
        read records nothing.
        """
        started = time.perf_counter()
        if not isinstance(trigger, str) or not 0 < len(trigger) <= 64 or not trigger.isascii():
            raise InvalidData("fire", "trigger", "must be the name of a trigger (flow.md §3)")
        if data is not None:
            # The size and depth first (nothing walks the data before); a NUL character is
            # refused with the data's fields, after the trigger's legality (_parse_data).
            if not isinstance(data, Mapping):
                raise InvalidData(trigger, "data", f"expected a mapping, got {type(data).__name__}")
            problem = json_limit_problem(data)
            if problem is not None:
                raise InvalidData(trigger, "data", f"is {problem}")
        actor = check_actor(self._acting(actor, f"fire {trigger!r} on"), trigger)
        at = self._at(at, trigger)
        request = key = None
        if idempotency_key is not None:
            key = scoped_key(actor, check_key(idempotency_key, trigger))
            request = request_digest(case_id, trigger, data or {}, actor)
        with self._store.connect() as conn:
            # The stored result of a retried command comes first, inside the command's
            # transaction (``_fire``): a retry is answered whatever the case or the clock says
            # now, to an actor who may still see the case and fire the trigger.
            command = partial(
                self._fire,
                conn,
                case_id,
                trigger,
                actor,
                at,
                data,
                expected_version,
                key,
                request,
                started,
                shown=idempotency_key,
            )

            def attempt(catch_up: bool) -> Case:
                try:
                    return command(catch_up=catch_up)
                except _CalendarChanged:
                    # Decided again on the notice just registered.
                    return command(catch_up=catch_up)

            try:
                try:
                    return attempt(True)
                except _Overdue as overdue:
                    # Deadlines of the case ran out before ``at`` and no tick has applied them
                    # yet: apply them now, as a tick would have, then decide the command on
                    # the case as it is after them (the same outcome whenever the tick runs).
                    self._catch_up(case_id, at, overdue.deadlines)
                    return attempt(False)
            except CalendarNotAvailable as exc:
                raise calendar_error(exc, trigger, self._day(at)) from None
            except (MediationFlowError, DuplicateKey) as exc:
                if isinstance(exc, ConcurrentUpdate | DuplicateKey):
                    self._log.info(
                        "concurrent_update",
                        case_id=case_id,
                        trigger=trigger,
                        actor_id=actor.id,
                        error=str(exc),
                    )
                # The same command with the same key may have committed in the meantime (the
                # case then refuses it as illegal, conflicts, or has moved past ``at``):
                # return its result.
                if key is not None:
                    replayed = self._replay_idempotent(
                        conn, key, request, case_id, actor, trigger, idempotency_key
                    )
                    if replayed is not None:
                        return replayed
                raise

    def _catch_up(self, case_id: int, at: datetime, deadline_ids: list[int]) -> None:
        """Apply the expiries of the case's deadlines whose day ended before ``at`` (each in
        its own transaction, in due order, as :meth:`tick` does), so that a command never
        closes a deadline that ran out without its expiry in the history."""
        today = self._day(at)
        for deadline_id in deadline_ids:
            for attempt in range(3):
                started = time.perf_counter()
                try:
                    with self._store.connect() as conn, self._store.writing(conn):
                        prepared = self._prepare_expiry(conn, deadline_id, case_id, today, at)
                        if prepared is None:
                            break
                        ctx, version, event_row = prepared
                        event = self._write(conn, ctx, version, event_row)
                except (ConcurrentUpdate, _CalendarChanged):
                    # A tick applied it meanwhile, or a notice was registered: decide again.
                    if attempt == 2:
                        raise  # a tick is applying it: the caller retries the command
                    time.sleep(0.02 * (attempt + 1))
                    continue
                self._log_transition(ctx, event_row, started)
                if self._plugins.pm.get_plugins():
                    self._plugins.after_commit(ctx.case.region, self.get(case_id), event, self._log)
                break

    def _replay_idempotent(
        self,
        conn: Connection,
        key: str,
        request: str | None,
        case_id: int | None,
        actor: Actor,
        trigger: str | None,
        shown: str | None = None,
    ) -> Case | None:
        """The stored result of the command stored under ``key`` (None if there is none);
        ``case_id`` and ``trigger`` None: an intake, whose case the record names."""
        with self._store.reading(conn):
            return self._replayed(conn, key, request, case_id, actor, trigger, shown)

    def _replayed(
        self,
        conn: Connection,
        key: str,
        request: str | None,
        case_id: int | None,
        actor: Actor,
        trigger: str | None,
        shown: str | None = None,
    ) -> Case | None:
        """The result of the command stored under ``key``, if any (inside a transaction);
        ``shown``: the key as the caller gave it (``key`` is scoped to the actor)."""
        prior = self._store.idempotency(conn, key)
        if prior is None:
            return None
        if prior["request"] != request or (case_id is not None and prior["case_id"] != case_id):
            raise IdempotencyConflict(shown or key, prior["case_id"])
        case_id = int(prior["case_id"])
        case = self._load(conn, case_id)
        # A replay answers only an actor who may still see the case and fire the trigger.
        scope = self._scope(case, self._store.load_parties(conn, case_id))
        if self._read_refusal(actor, scope) is not None:
            raise CaseNotFound(case_id)
        reason = (
            None
            if trigger is None
            else self.policy.role_refusal(actor, trigger, self._flow_of(case).definition)
        )
        if reason is not None:
            raise PermissionDenied(
                actor.id, actor.role.value, f"fire {trigger!r} on", case_id, reason
            )
        snapshot = prior["result"]
        case.state, case.version = snapshot["state"], snapshot["version"]
        case.resolution, case.attributes = snapshot["resolution"], snapshot["attributes"]
        case.updated_at = datetime.fromisoformat(snapshot["updated_at"])
        expires = snapshot["limitation_expires_on"]
        case.limitation_expires_on = date.fromisoformat(expires) if expires else None
        return self._view(
            self._flow_of(case),
            case,
            self._store.load_parties(conn, case_id),
            self._store.load_claims(conn, case_id),
        )

    def _fire(
        self,
        conn: Connection,
        case_id: int,
        trigger: str,
        actor: Actor,
        at: datetime,
        data: Mapping[str, Any] | None,
        expected_version: int | None,
        idempotency_key: str | None,
        request: str | None,
        started: float,
        *,
        shown: str | None = None,
        catch_up: bool = False,
    ) -> Case:
        # One transaction (BEGIN IMMEDIATE on SQLite): read the case and its deadlines in one
        # statement (parties and claims from the cache when their chain head is current),
        # decide, write. PostgreSQL runs it at READ COMMITTED: the read is one statement, so one
        # snapshot, and the write is checked against the version read (optimistic locking).
        with self._store.writing(conn):
            if idempotency_key is not None:
                replayed = self._replayed(
                    conn, idempotency_key, request, case_id, actor, trigger, shown
                )
                if replayed is not None:
                    return replayed
            case, deadlines = self._load_command(conn, case_id)
            head = case.event_hash
            flow = self._flow_of(case)
            data = data if data is not None else {}
            parties, claims = self._intake_of(conn, case)
            if actor.role is not Role.system:
                # Before anything about the case (its state, version, last event) is revealed.
                scope = self._scope(case, parties)
                if self._read_refusal(actor, scope) is not None:
                    raise CaseNotFound(case_id)  # no existence oracle
                reason = self._fire_refusal(actor, scope, trigger, data, flow.definition)
                if reason is not None:
                    raise PermissionDenied(
                        actor.id, actor.role.value, f"fire {trigger!r} on", case_id, reason
                    )
                missing = self.policy.consent_refusal(actor, scope, trigger, data, flow.definition)
                if missing is not None:
                    raise GuardFailed(
                        case_id=case_id,
                        state=case.state,
                        trigger=trigger,
                        guard="both_parties",
                        reason=missing,
                    )
                data = self.policy.acting_data(actor, scope, trigger, data, flow.definition)
            if case.held_by is not None:
                raise _handed_over(case, trigger)
            if expected_version is not None and case.version != expected_version:
                raise ConcurrentUpdate(case_id, expected_version, case.version)
            if at < case.updated_at:
                # A history is recorded in order; a past act is dated by its data
                # (received_on, served_on, ...), not by recording it in the past.
                raise InvalidData(
                    trigger,
                    "at",
                    f"{at.isoformat()} is before the case's last event "
                    f"({case.updated_at.astimezone(SHANGHAI).isoformat()}); commands are "
                    "recorded in order",
                )
            ctx = self._context(
                conn,
                flow,
                case,
                trigger,
                data,
                actor,
                at,
                deadlines=deadlines,
                parties=parties,
                claims=claims,
            )
            tdef, dest = flow.fire(ctx)
            self._veto(ctx, tdef)
            overdue = _overdue(deadlines, ctx.today, flow.definition, trigger) if catch_up else []
            version = case.version
            event_row = self._apply(ctx, tdef, dest)
            if overdue:
                # The command would apply, but deadlines ran out before it: their expiries
                # come first (a refused command writes nothing, expiries included), but for a
                # deadline the command itself meets in time (an act dated by its data: a
                # complaint posted on the last day and recorded later, CPL 85 ¶4). Nothing
                # was written yet: the transaction is rolled back, the case read again.
                met = {d.id for d in ctx.deadlines if d.status == DeadlineStatus.met}
                overdue = [deadline_id for deadline_id in overdue if deadline_id not in met]
                if overdue:
                    raise _Overdue(overdue)
            idempotent = None
            if idempotency_key is not None:
                idempotent = {"key": idempotency_key, "case_id": case_id, "request": request}
            event = self._write(conn, ctx, version, event_row, idempotent)
        self._intake.advance(case_id, head, case.event_hash, (parties, claims))
        self._log_transition(ctx, event_row, started)
        view = self._view(flow, case, (*parties, *ctx.added_parties), claims)
        self._plugins.after_commit(case.region, view, event, self._log)
        return view

    def _commit(
        self,
        conn: Connection,
        ctx: Context,
        version: int,
        event_row: dict[str, Any],
        idempotent: dict[str, Any] | None = None,
    ) -> Event:
        """Write state + event + deadlines (and the idempotency key), then the plugins'
        in-transaction work; one transaction."""
        with self._store.writing(conn):
            return self._write(conn, ctx, version, event_row, idempotent)

    def _write(
        self,
        conn: Connection,
        ctx: Context,
        version: int,
        event_row: dict[str, Any],
        idempotent: dict[str, Any] | None = None,
        *,
        plan: WritePlan | None = None,
    ) -> Event:
        """Inside the write transaction: issue the case number the transition opens (if any),
        seal the event into the hash chain, write state + event + deadlines, the idempotency
        key, and run the plugins' in-transaction work.

        The write step of every command: a row more per command (a ledger entry, an outbox
        message) is one more prebuilt INSERT here, after ``save`` (and a list of rows in
        :class:`~mediation_flow.storage.repository.WritePlan` for tick's batches). With
        ``plan``, state + event + deadlines are added to it and written with the batch."""
        if (
            _predicted(ctx)
            and self._store.locked_calendar_revision(conn) != self._calendar_revision
        ):
            # Decided on a prediction while a notice was registered: decide again on it. (The
            # shared lock keeps a registration from coming between this check and the commit.)
            self._sync_calendar(conn)
            raise _CalendarChanged
        self._issue_number(conn, ctx, version, event_row)
        self._seal(ctx.case, event_row)
        event = self._event(event_row)
        # The ledger entry (mediation_flow.ledger): the state digest after the write, written
        # with the case's update.
        parties = (*ctx.parties, *ctx.added_parties)
        digest = state_digest(ctx.case, parties, ctx.claims, ctx.deadlines)
        entry = ledger.entry(ctx.case.id, "command", digest, ctx.at)
        if plan is None:
            self._store.save(conn, ctx.case, version, event_row, ctx.deadlines, entry)
        else:
            plan.add(ctx.case, version, event_row, ctx.deadlines, entry)
        if ctx.added_parties:  # add_party (AR 46)
            self._store.append_parties(
                conn, ctx.case.id, _added_party_rows(len(ctx.parties), ctx.added_parties)
            )
        if idempotent is not None:
            self._store.insert_idempotency(
                conn, {**idempotent, "created_at": ctx.at, "result": _snapshot(ctx.case)}
            )
        self._plugins.in_transaction(ctx.case.region, ctx, event, conn)
        return event

    def _issue_number(
        self, conn: Connection, ctx: Context, version: int, event_row: dict[str, Any]
    ) -> None:
        """Issue the case number of the organisation whose file this transition opens: the
        (prefix, year) counter is incremented in this transaction, so a command that fails
        gives its number back. The case row is locked first (every writer locks the case
        before the counter: no deadlock)."""
        case = ctx.case
        rule = self._numbering_for(case.region).rule_for(event_row["trigger"])
        if rule is None:
            return
        org = ctx.data.get("org_id")
        prefix = rule.prefix_for(case.region, org if isinstance(org, str) else None)
        issued = list(case.attributes.get("case_numbers", ()))
        if any(n.get("key") == rule.key and n.get("prefix") == prefix for n in issued):
            return  # a case keeps the number it was given
        year = ctx.today.year
        self._store.lock_version(conn, case.id, version)
        seq = self._store.next_number(conn, prefix, year)
        number = CaseNumber(
            key=rule.key,
            label=rule.label,
            number=rule.format(prefix, year, seq),
            prefix=prefix,
            year=year,
            seq=seq,
            issued_on=ctx.today,
            event_seq=event_row["seq"],
        )
        self._store.insert_case_number(conn, _number_row(case.id, number, ctx.at), version)
        case.attributes = {**case.attributes, "case_numbers": [*issued, number.to_json()]}
        event_row["data"] = {**event_row["data"], "case_number": number.to_json()}

    @staticmethod
    def _seal(case: CaseRecord, event_row: dict[str, Any]) -> None:
        """Link the event into the case's hash chain (hashed with the case's chain id: its id
        where it was opened, :mod:`mediation_flow.handoff`)."""
        content = {**event_row, "case_id": case.chain_id}
        event_row["hash"] = case.event_hash = event_hash(case.event_hash, content)

    def tick(
        self, at: datetime | None = None, *, limit: int | None = None, batch: int = 100
    ) -> list[Event]:
        """Apply every expiry due before ``at``; return the new events.

        Each deadline whose due day ended before ``at`` fires its expiry trigger (as the
        ``system`` actor) or records its expiry event. Expiries are claimed, decided and written
        in batches of at most ``batch`` per transaction: on PostgreSQL the deadline rows and
        their cases' rows are claimed with ``FOR UPDATE SKIP LOCKED``, so any number of workers
        may tick at once, each expiry happens exactly once, and a case a command is writing is
        left to the next tick; a worker killed mid-batch loses nothing (its open transaction
        rolls back and another worker claims the deadlines). On SQLite, writers take turns
        (``BEGIN IMMEDIATE``). When an expiry of a batch fails, the batch is rolled back and its
        expiries are applied one per transaction, so that the others still happen. Running
        ``tick`` twice fires nothing twice. ``limit`` caps the expiries of one call.
        """
        at = self._at(at, "tick")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise InvalidData("tick", "batch", f"must be a positive whole number, not {batch!r}")
        today = self._day(at)
        produced: list[Event] = []
        if self._sync_calendar():
            # A notice was registered by another engine: its deadlines were re-dated then, but
            # one written since on the old calendar is settled here before anything expires.
            produced.extend(self._redate(at, SYSTEM, "calendar changed"))
        self._tick_alerts(today, at)
        after: tuple[date, int] | None = None
        while limit is None or len(produced) < limit:
            size = batch if limit is None else min(batch, limit - len(produced))
            try:
                claimed = self._expire_batch(today, at, after, size)
            except Exception:
                # Rolled back whole: apply this batch's expiries one per transaction; the one
                # that fails raises (or, for a conflict, is retried) as it would on its own.
                done = self._tick_one_by_one(today, at, after, size, produced)
                if done is None:
                    return produced
                after = done
                continue
            if claimed is None:
                return produced
            after, events = claimed
            produced.extend(events)
        return produced

    def _tick_one_by_one(
        self,
        today: date,
        at: datetime,
        after: tuple[date, int] | None,
        count: int,
        produced: list[Event],
    ) -> tuple[date, int] | None:
        """Up to ``count`` expiries after the key ``after``, one per transaction; the key of
        the last, or None when no deadline is due any more."""
        conflicts: dict[int, int] = {}
        claimed_keys = 0
        while claimed_keys < count:
            try:
                claimed = self._expire_next(today, at, after)
            except _CalendarChanged:
                continue  # a notice was registered meanwhile: decide again on it
            except ConcurrentUpdate as exc:
                # A command changed the case while this expiry was being decided: decide again
                # on the new state, at most three times, then leave it to the next tick.
                key = getattr(exc, "deadline_key", None)
                self._log.info("concurrent_update", trigger="tick", deadline=key and key[1])
                slot = key[1] if key is not None else 0
                conflicts[slot] = conflicts.get(slot, 0) + 1
                if conflicts[slot] >= 3:
                    if key is None:
                        return None  # the claim itself keeps failing: the next tick
                    after = key
                    claimed_keys += 1
                continue
            if claimed is None:
                return None
            after, event = claimed
            claimed_keys += 1
            if event is not None:
                produced.append(event)
        return after

    def _expire_batch(
        self, today: date, at: datetime, after: tuple[date, int] | None, size: int
    ) -> tuple[tuple[date, int], list[Event]] | None:
        """Claim up to ``size`` due deadlines after the key ``after`` and apply their expiries,
        in one transaction. Returns the last deadline's key and the events, or None when no
        deadline is due."""
        started = time.perf_counter()
        done: list[tuple[Context, dict[str, Any], Event]] = []
        # Plugins that work inside the transaction see each expiry written before the next;
        # without them, the batch's rows are written together (one executemany per statement).
        plan = None if self._plugins.pm.hook.in_transaction.get_hookimpls() else WritePlan()
        with self._store.connect() as conn, self._store.writing(conn):
            claims = self._store.claim_due_batch(conn, today, after, size)
            if not claims:
                return None
            loaded = self._store.load_commands(conn, sorted({c for _, c, _ in claims}))
            for deadline_id, case_id, _ in claims:
                prepared = self._prepare_expiry(
                    conn, deadline_id, case_id, today, at, loaded=loaded.get(case_id)
                )
                if prepared is not None:
                    ctx, version, event_row = prepared
                    event = self._write(conn, ctx, version, event_row, plan=plan)
                    done.append((ctx, event_row, event))
            if plan is not None:
                self._store.save_plan(conn, plan)
        plugins = bool(self._plugins.pm.get_plugins())
        for ctx, event_row, event in done:
            self._log_transition(ctx, event_row, started)
            if plugins:
                case = self.get(ctx.case.id)
                self._plugins.after_commit(ctx.case.region, case, event, self._log)
        last_id, _, last_due = claims[-1]
        return (last_due, last_id), [event for _, _, event in done]

    def _tick_alerts(self, today: date, at: datetime) -> list[Alert]:
        """Evaluate the early-warning rules on the database; store the alerts not stored yet
        (mf_alert, unique key). Returns the new ones."""
        alerts = self._calendar_alerts(today)
        if not len(self.early_warning) and not alerts:
            return []
        with self._store.connect() as conn:
            with self._store.reading(conn):
                if len(self.early_warning):
                    alerts += self.early_warning.evaluate_tick(conn, today)
                if not alerts:
                    return []
                known = self._store.alert_keys(conn, [a.key for a in alerts])
            fresh = [a for a in alerts if a.key not in known]
            if not fresh:
                return []
            with self._store.writing(conn):
                stored = self._new_alerts(conn, fresh, at)
        for alert in stored:
            self._log.warning(
                "early_warning",
                rule=alert.rule,
                level=alert.level.value,
                key=alert.key,
                region=alert.region,
                case_id=alert.case_id,
            )
        return stored

    def _calendar_alerts(self, today: date) -> list[Alert]:
        """A region-independent alert, once per year, when the next year's holiday notice is
        still unregistered from 1 November (mediation_flow.redating.calendar_warnings)."""
        return [
            Alert(
                rule="calendar_predicted",
                level=Level.warning,
                reason=warning,
                key=f"calendar_predicted:{today.year}:{n}",
                data={"year": today.year + n},
            )
            for n, warning in calendar_warnings(self.calendar, today)
        ]

    def _new_alerts(self, conn: Connection, alerts: list[Alert], at: datetime) -> list[Alert]:
        """Store ``alerts`` in mf_alert (one statement), skipping keys stored already; return
        the new ones."""
        rows = [
            {
                "key": alert.key,
                "rule": alert.rule,
                "level": alert.level.value,
                "reason": alert.reason,
                "case_id": alert.case_id,
                "region": alert.region,
                "data": to_json(dict(alert.data)),
                "raised_at": at,
            }
            for alert in alerts
        ]
        stored = self._store.insert_alerts(conn, rows)
        return [alert for alert in alerts if alert.key in stored]

    def _early_warning_failed(self, rule: Rule, exc: Exception) -> None:
        self._log.error("early_warning_failed", rule=rule.id, error=f"{type(exc).__name__}: {exc}")

    def _expire_next(
        self, today: date, at: datetime, after: tuple[date, int] | None
    ) -> tuple[tuple[date, int], Event | None] | None:
        """Claim the next due deadline after the key ``after`` and apply its expiry, in one
        transaction. Returns the deadline's key and the event (None if nothing was due to
        happen), or None when no deadline is due."""
        started = time.perf_counter()
        key: tuple[date, int] | None = None
        try:
            with self._store.connect() as conn, self._store.writing(conn):
                claim = self._store.claim_due(conn, today, after)
                if claim is None:
                    return None
                deadline_id, case_id, due = claim
                key = (due, deadline_id)
                prepared = self._prepare_expiry(conn, deadline_id, case_id, today, at)
                if prepared is None:
                    return key, None
                ctx, version, event_row = prepared
                event = self._write(conn, ctx, version, event_row)
        except ConcurrentUpdate as exc:
            # Also a PostgreSQL lock conflict (NOWAIT), translated when the transaction ends:
            # the key lets tick count the attempts and move on.
            exc.deadline_key = key  # type: ignore[attr-defined]
            raise
        self._log_transition(ctx, event_row, started)
        if self._plugins.pm.get_plugins():
            self._plugins.after_commit(ctx.case.region, self.get(case_id), event, self._log)
        return key, event

    def _prepare_expiry(
        self,
        conn: Connection,
        deadline_id: int,
        case_id: int,
        today: date,
        at: datetime,
        *,
        loaded: tuple[CaseRecord, list[DeadlineRecord]] | None = None,
    ) -> tuple[Context, int, dict[str, Any]] | None:
        """Decide the expiry of a deadline. ``loaded``: the case and its deadlines, read (and
        on PostgreSQL locked) with the batch's claim, as earlier expiries of the batch left
        them in memory."""
        if loaded is None:
            self._store.lock_case(conn, case_id)
            loaded = self._store.load_command(conn, case_id)
        if loaded is None or loaded[0].held_by is not None:
            return None  # a case handed over: its clocks run where it is now
        case, deadlines = loaded
        expiring = next((d for d in deadlines if d.id == deadline_id), None)
        if expiring is None or expiring.status != DeadlineStatus.pending:
            return None  # already handled: tick is idempotent
        flow = self._flow_of(case)
        at = max(at, case.updated_at)  # the history stays in order
        # A provisional deadline expires on its conservative due date: never before the latest
        # date a notice could give for a party's window, never after the earliest for an
        # official's limit (duedates.Due; docs/deadlines.md).
        kind = flow.definition.deadline_map[expiring.kind]
        expiring.set_status(DeadlineStatus.expired)
        version = case.version
        # When windows that jointly decide a transition (each party's suit window, say) have
        # all run out before this tick, the transition belongs to the last of them: it takes
        # effect on the day after the latest due day (flow.md §3-§4).
        kinds = flow.definition.deadline_map
        later = [
            d
            for d in deadlines
            if d is not expiring
            and d.status == DeadlineStatus.pending
            and expiring.due < d.due < today
            and set(kinds[d.kind].expiry) & set(kind.expiry)
        ]
        # The joint transition is left to the later window; this one only records its expiry.
        for trigger in () if later else kind.expiry:
            if trigger not in flow.legal_triggers(case.state):
                continue
            ctx = self._context(
                conn,
                flow,
                case,
                trigger,
                dict(kind.expiry_data),
                SYSTEM,
                at,
                deadlines=deadlines,
                expiring=expiring,
            )
            try:
                tdef, dest = flow.fire(ctx)
                self._veto(ctx, tdef)
            except GuardFailed:
                continue  # e.g. the other party's window still runs
            return ctx, version, self._apply(ctx, tdef, dest)
        ctx = self._context(
            conn,
            flow,
            case,
            kind.expiry_event,
            {},
            SYSTEM,
            at,
            deadlines=deadlines,
            expiring=expiring,
            parse=False,
        )
        return ctx, version, self._record(ctx, dest=case.state, data={})

    # -- queries ----------------------------------------------------------------------------------

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

    # -- paperwork and docking --------------------------------------------------------------------

    def lookup(self, reference: str, *, actor: Actor | None = None) -> Progress:
        """The progress of the case with this serial or case number, for a party: the stage in
        zh-CN and the day it began, the case numbers, the next deadline and what it means, the
        outcome (:mod:`mediation_flow.lookup`). It holds nothing personal. Raises ``NotFound``.
        Any actor may look up a reference it holds (the serial or number is the credential)."""
        self._acting(actor, "look up a case")
        if not isinstance(reference, str) or not 0 < len(reference.strip()) <= 200:
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

    def render_document(
        self,
        case_id: int,
        template: str,
        *,
        format: str = "html",
        values: Mapping[str, Any] | None = None,
        actor: Actor | None = None,
        at: datetime | None = None,
    ) -> Document:
        """Fill a document template (:mod:`mediation_flow.documents`) from the case and render
        it to ``format`` (``html`` or ``docx``). ``values`` are the official's additions (the
        agreed terms, the reason, the document served...). The rendering is recorded (template,
        SHA-256, who, when; :meth:`documents`). Documents carry the parties' identity numbers:
        only an actor who may see the case's personal data renders them (``PermissionDenied``).
        The issuing organisation is ``values["organisation"]``, else the actor's ``org_id``, else
        the organisation handling the case in its current channel. Raises ``DocumentError`` for
        an unknown template or format, or a template that fails.
        """
        actor = self._acting(actor, "render documents of")
        at = self._at(at, "render_document")
        if actor.org_id is not None:
            # The issuing organisation defaults to the official's own.
            values = {"organisation": actor.org_id, **(values or {})}
        with self._store.connect() as conn:
            with self._store.reading(conn):
                case = self._get(conn, case_id)
                self._authorize_personal_data(actor, case, "render documents of")
                history = self._store.history(conn, case_id)
            flow = self._flows.get(case.flow_fingerprint)
            context = document_context(
                case,
                history,
                today=self._day(at),
                values=values,
                flow=flow.definition if flow else self.flow_for(case.region),
            )
            document = self._templates_for(case.region).render(
                template, context, format=format, case_id=case.id
            )
            with self._store.writing(conn):
                self._store.insert_document(
                    conn,
                    {
                        "case_id": case.id,
                        "template": document.template,
                        "title": document.title,
                        "format": document.format,
                        "sha256": document.sha256,
                        "size": len(document.content),
                        "case_version": case.version,
                        "actor_id": actor.id,
                        "actor_role": actor.role.value,
                        "rendered_at": at,
                    },
                )
        self._log.info(
            "document_rendered",
            case_id=case.id,
            template=document.template,
            format=document.format,
            sha256=document.sha256,
            actor_id=actor.id,
        )
        return document

    def advance_numbering(
        self, prefix: str, year: int, *, to: int, actor: Actor | None = None
    ) -> int:
        """Continue a prefix's numbering of ``year`` after ``to``: the next number issued is
        ``to + 1``. For an organisation that numbered its cases elsewhere until now; a counter is
        never moved back (that would issue a number twice). Returns the counter's value: the
        last number issued or reserved (``to``, or more if numbers beyond it were issued).
        Only the system actor (the host's operators) moves a counter."""
        actor = self._acting(actor, "advance a case-number counter")
        if actor.role is not Role.system:
            raise PermissionDenied(
                actor.id,
                actor.role.value,
                "advance a case-number counter",
                None,
                "counters are moved by the host's operators (the system actor)",
            )
        if not isinstance(prefix, str) or not 0 < len(prefix) <= 100:
            raise InvalidData("advance_numbering", "prefix", "must be 1 to 100 characters")
        for name, value in (("year", year), ("to", to)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
                raise InvalidData("advance_numbering", name, f"expected a count, got {value!r}")
        with self._store.connect() as conn, self._store.writing(conn):
            last = self._store.raise_counter(conn, prefix, year, to)
        self._log.info("numbering_advanced", prefix=prefix, year=year, to=to, last=last)
        return last

    def document_templates(self, region: str) -> list[TemplateInfo]:
        """The templates documents of ``region`` are rendered from (the built-in ones, as the
        region's plugins replaced or added them)."""
        templates = self._templates_for(region)
        return [templates.info(name) for name in templates.names()]

    def documents(self, case_id: int, *, actor: Actor | None = None) -> list[dict[str, Any]]:
        """The documents rendered for the case, oldest first: template, title, format,
        SHA-256, size, the case version, who and when."""
        actor = self._acting(actor, "read")
        with self._store.connect() as conn, self._store.reading(conn):
            self._authorize_read(actor, self._get(conn, case_id))
            return self._store.documents_of(conn, case_id)

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
        only an actor who may see it exports. Every export is recorded (:meth:`handoffs`).
        ``from_org`` defaults to this system's ``HandoffSettings.org_id``."""
        actor = self._acting(actor, "export a handoff package of")
        at = self._at(at, "export_handoff")
        from_org = from_org or self.handoff.org_id
        if not isinstance(from_org, str) or not 0 < len(from_org.strip()) <= 200:
            raise InvalidData(
                "export_handoff",
                "from_org",
                "this system's organisation is not configured: "
                "Engine(handoff=HandoffSettings(org_id=...)), or pass from_org (1 to 200 "
                "characters)",
            )
        if not isinstance(to_org, str) or not 0 < len(to_org.strip()) <= 200:
            raise InvalidData("export_handoff", "to_org", "must be 1 to 200 characters")
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
                if hold and record.held_by is not None:
                    raise _handed_over(record, "export_handoff")
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
        from the history here is refused."""
        actor = self._acting(actor, "take back")
        at = self._at(at, "reclaim")
        with self._store.connect() as conn:
            with self._store.reading(conn):
                case = self._get(conn, case_id)
                self._authorize_personal_data(actor, case, "take back")
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

    #: Who may take a case in: the offices that see a whole region (mediators receive cases
    #: through referrals inside their own system).
    _IMPORTERS = frozenset({Role.system, Role.intake_officer, Role.arbitrator, Role.judge})

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
        numbers, and its history replayed through the flow to the state it claims. Then, in one
        transaction: a case new here is created in the same state with the same history,
        deadlines, numbers and documents' metadata; a case already here with this history is
        left alone (importing twice is a no-op); a case here whose history the package
        continues gets the new events and runs here again. A package whose history departs from
        the one here, or that fails any check, raises ``HandoffRejected`` and writes nothing.
        """
        actor = self._acting(actor, "import a handoff package")
        at = self._at(at, "import_handoff")
        try:
            data, _ = load_package(package)  # size and nesting first, before any parsing
            check_format(data)
            try:
                # Who sent it, before its content is looked at (the schema, the history).
                signer = self.handoff.check_seals(data)
            except (TypeError, ValueError, KeyError, AttributeError):
                raise HandoffRejected("format", "the package is not a sealed package") from None
            contents = parse_package(data)
        except RecursionError:
            raise HandoffRejected("format", "the package is nested too deeply") from None
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
        if actor.role not in self._IMPORTERS:
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
        compiled = self._flows.get(case["flow_fingerprint"]) or self._compiled_for(case["region"])
        self._check_imported(contents, compiled)
        outcome, case_id, added = self._store_import(contents, compiled, data, signer, actor, at)
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

    @staticmethod
    def _check_imported(contents: Contents, compiled: CompiledFlow) -> None:
        """The package's case against its own history and the flow it runs under."""
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
        unknown = sorted({d["kind"] for d in contents.deadlines} - set(flow.deadline_map))
        if unknown:
            raise HandoffRejected(
                "format", f"deadline kinds {', '.join(unknown)} are not in the case's flow"
            )
        check_numbers(contents)
        # What only the history may say: the organisation the case was referred to last.
        referred = None
        for event in contents.events:
            if isinstance(event.data.get("org_id"), str):
                referred = event.data["org_id"]
        if case["attributes"].get("org_id") != referred:
            raise HandoffRejected(
                "chain", "the case's organisation is not the one its history referred it to"
            )
        _check_imported_deadlines(contents)

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
                self._ledger_entry(conn, case_id, "import", at)
                for n in contents.numbers:
                    self._store.raise_counter(conn, n.prefix, n.year, n.seq)
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
        self._store.insert_rows(conn, "mf_event", _event_rows(case_id, contents.events))
        self._store.insert_rows(
            conn, "mf_deadline", [{**d, "case_id": case_id} for d in contents.deadlines]
        )
        self._store.insert_rows(conn, "mf_case_number", _number_rows(case_id, contents))
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
            or datetime.fromisoformat(data["exported_at"]) < here.held_since
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
            self._store.insert_rows(conn, "mf_event", _event_rows(case_id, new_events))
            self._store.delete_deadlines(conn, case_id)
            self._store.insert_rows(
                conn, "mf_deadline", [{**d, "case_id": case_id} for d in contents.deadlines]
            )
            self._store.insert_rows(
                conn,
                "mf_case_number",
                [r for r in _number_rows(case_id, contents) if r["number"] not in known],
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

    def _authorize_personal_data(
        self, actor: Actor | None, case: Case | CaseScope, what: str
    ) -> None:
        """Refuse ``what`` unless ``actor`` may read the case (policy and plugins) and see its
        personal data in clear text."""
        if actor is None or actor.role is Role.system:
            return
        scope = case if isinstance(case, CaseScope) else self._scope(case, case.parties)
        reason = self._read_refusal(actor, scope)
        if reason is not None and scope.id:
            raise CaseNotFound(scope.id)  # outside the actor's scope: no existence oracle
        reason = reason or self.policy.personal_data_refusal(actor, scope)
        if reason is not None:
            raise PermissionDenied(actor.id, actor.role.value, what, scope.id or None, reason)

    # -- the holiday calendar ---------------------------------------------------------------------

    def register_holiday_schedule(
        self,
        year: int,
        *,
        holidays: Iterable[date],
        workdays: Iterable[date],
        source: str,
        replace: bool = False,
        actor: Actor | None = None,
        at: datetime | None = None,
    ) -> list[Event]:
        """Store the State Council's holiday notice for ``year`` in the database and re-date
        every open provisional deadline on it; returns the ``deadline_redated`` events.

        ``holidays`` are all rest days of the notice's blocks (weekend days inside a block
        included), ``workdays`` its make-up working days (调休上班), ``source`` where the notice
        comes from (its number and date, say). Every engine and tick worker on the database uses
        the notice from its next command; it overrides the package and the prediction for the
        year. A year that is already official (registered, or in the package) is replaced only
        with ``replace=True`` (the State Council has amended published schedules, as for the
        2020 Spring Festival); the deadlines computed on the old notice are re-dated too. A due
        date whose official day has already passed keeps the date that was relied on and is
        reported in its event (``"held": true``; :mod:`mediation_flow.redating`).

        Raises ``InvalidData`` for a schedule that fails the checks (days outside the year, a day
        both, a make-up day on a weekday, a statutory holiday left as a working day, more rest
        days than any notice gives, an official year without ``replace``),
        ``PermissionDenied`` for an actor who is not the system (the operator's own code).
        """
        actor = actor or SYSTEM
        at = self._at(at, "register_holiday_schedule")
        if actor.role is not Role.system:
            raise PermissionDenied(
                actor.id, actor.role.value, "register a holiday schedule for", 0, "operators only"
            )
        if not isinstance(source, str) or not source.strip() or len(source) > 2000:
            raise InvalidData("register_holiday_schedule", "source", "must be 1 to 2000 characters")
        try:
            schedule = checked_schedule(year, holidays, workdays, source)
            check_notice(schedule)
        except (TypeError, ValueError) as exc:
            raise InvalidData("register_holiday_schedule", "schedule", str(exc)) from None
        self._sync_calendar()
        try:
            basis = self.calendar.basis(year)
        except CalendarNotAvailable:
            basis = Basis.predicted
        if basis is not Basis.predicted and not replace:
            raise InvalidData(
                "register_holiday_schedule",
                "year",
                f"{year} is already official ({basis.value}); pass replace=True "
                f"(mediation-flow calendar import --replace) to replace its notice",
            )
        row = {
            "year": year,
            "holidays": json.dumps(sorted(d.isoformat() for d in schedule.holidays)),
            "workdays": json.dumps(sorted(d.isoformat() for d in schedule.workdays)),
            "source": source,
            "registered_at": at,
            "registered_by": actor.id,
        }
        with self._store.connect() as conn, self._store.writing(conn):
            self._store.lock_calendar(conn)
            self._store.put_holiday_schedule(conn, row)
            self._sync_calendar(conn)
            done = redate(
                self._store,
                conn,
                self.calendar,
                self._holder_of,
                at=at,
                today=self._day(at),
                actor=actor,
                reason=f"{year}: {source}",
                registered=basis is not Basis.predicted,
            )
        return self._redated(done)

    def settle_calendar(self, *, at: datetime | None = None) -> list[Event]:
        """Re-date every open provisional deadline on the calendar as it is now (after a
        package upgrade that brings a year's notice, say); returns the ``deadline_redated``
        events. Engines do this at start when they find deadlines to settle."""
        at = self._at(at, "settle_calendar")
        self._sync_calendar()
        return self._redate(at, SYSTEM, "calendar settled")

    def calendar_status(self, *, at: datetime | None = None) -> CalendarStatus:
        """Which years are official (package or registered) and which predicted, how many open
        deadlines are provisional, and a warning from 1 November when the next year is still
        predicted."""
        at = self._at(at, "calendar_status")
        self._sync_calendar()
        with self._store.connect() as conn, self._store.reading(conn):
            status = calendar_status(self._store, conn, self.calendar, self._day(at))
        unreadable = tuple(
            f"the registered notice for {year} is unreadable (edited in the database?): "
            f"register it again with mediation-flow calendar import --replace"
            for year in self._calendar_problems
        )
        return replace(status, warnings=unreadable + status.warnings)

    def _sync_calendar(self, conn: Connection | None = None) -> bool:
        """Bring ``self.calendar`` up to the notices registered in the database; True if it
        changed. One small query (the newest revision) when nothing changed."""
        with self._store.connect() if conn is None else nullcontext(conn) as c:
            revision = self._store.calendar_revision(c)
            if revision == self._calendar_revision:
                return False
            calendar = self._base_calendar
            problems = []
            for row in self._store.holiday_schedules(c):
                try:
                    calendar = calendar.with_schedule(
                        row["year"],
                        holidays=[date.fromisoformat(d) for d in json.loads(row["holidays"])],
                        workdays=[date.fromisoformat(d) for d in json.loads(row["workdays"])],
                        source=row["source"],
                    )
                except (TypeError, ValueError) as exc:
                    # An edited row must not stop the engine: the year falls back to the
                    # package or the prediction, and calendar_status says what to do.
                    problems.append(row.get("year"))
                    self._log.error(
                        "holiday_schedule_unreadable",
                        year=row.get("year"),
                        error=f"{type(exc).__name__}: {exc}"[:200],
                        hint="register the year's notice again (mediation-flow calendar import "
                        "--replace)",
                    )
            self._calendar_problems = problems
        changed = self._calendar_revision != -1
        self.calendar, self._calendar_revision = calendar, revision
        return changed

    def _settle_at_start(self) -> None:
        """Re-date the provisional deadlines that the calendar now knows officially (a package
        upgrade brought their year): found with one count on the partial index."""
        covered = date(self.calendar.covered_years()[1] + 1, 1, 1)
        with self._store.connect() as conn, self._store.reading(conn):
            settled = self._store.count_provisional(conn, before=covered)
        if settled:
            self._redate(self._at(None), SYSTEM, "calendar settled at start")

    def _redate(self, at: datetime, actor: Actor, reason: str) -> list[Event]:
        with self._store.connect() as conn, self._store.writing(conn):
            done = redate(
                self._store,
                conn,
                self.calendar,
                self._holder_of,
                at=at,
                today=self._day(at),
                actor=actor,
                reason=reason,
            )
        return self._redated(done)

    def _redated(self, done: RedatePass) -> list[Event]:
        for held in done.held:
            self._log.warning("deadline_redate_held", **held)
        if done.events:
            self._log.info("deadlines_redated", cases=len(done.events), examined=done.examined)
        return [self._event(row) for row in done.events]

    def _holder_of(self, fingerprint: str, kind: str) -> Holder:
        compiled = self._flows.get(fingerprint)
        found = compiled.definition.deadline_map.get(kind) if compiled else None
        return found.holder if found is not None else "party"

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

    # -- the ledger -------------------------------------------------------------------------------

    def _ledger_entry(self, conn: Connection, case_id: int, kind: str, at: datetime) -> None:
        """A ledger entry for a write outside the command path (a hold, an import...): the
        state digest is taken from the rows as written, in the same transaction."""
        ledger.append(conn, case_id, kind, self._stored_digest(conn, case_id), at)

    @staticmethod
    def _stored_digest(conn: Connection, case_id: int) -> str:
        digest = ledger.stored_digest(conn, case_id)
        assert digest is not None, case_id
        return digest

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

    # -- internals --------------------------------------------------------------------------------

    @staticmethod
    def _scope(case: CaseRecord | Case, parties: Any) -> CaseScope:
        org = case.attributes.get("org_id")
        return CaseScope(
            case.id, case.region, case.state, org if isinstance(org, str) else None, tuple(parties)
        )

    def _read_refusal(self, actor: Actor | None, case: Case | CaseScope) -> str | None:
        if actor is None or actor.role is Role.system:
            return None
        scope = case if isinstance(case, CaseScope) else self._scope(case, case.parties)
        reason = self.policy.read_refusal(actor, scope)
        if reason is None:
            vetoed = self._plugins.authorize(actor, scope, None)
            reason = f"{vetoed[1]} (plugin {vetoed[0]})" if vetoed else None
        return reason

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

    def _authorize_read(self, actor: Actor | None, case: Case | CaseScope) -> None:
        """A case outside the actor's scope is "not found": a refusal is no existence oracle."""
        if self._read_refusal(actor, case) is not None:
            raise CaseNotFound(case.id)

    def _fire_refusal(
        self,
        actor: Actor,
        scope: CaseScope,
        trigger: str,
        data: Mapping[str, Any],
        flow: FlowDefinition,
    ) -> str | None:
        if actor.role is Role.system:
            return None
        reason = self.policy.fire_refusal(actor, scope, trigger, data, flow)
        if reason is None:
            vetoed = self._plugins.authorize(actor, scope, trigger)
            reason = f"{vetoed[1]} (plugin {vetoed[0]})" if vetoed else None
        return reason

    def _load(self, conn: Connection, case_id: int) -> CaseRecord:
        _check_case_id(case_id)
        case = self._store.load_case(conn, case_id)
        if case is None:
            raise CaseNotFound(case_id)
        return case

    def _load_command(
        self, conn: Connection, case_id: int
    ) -> tuple[CaseRecord, list[DeadlineRecord]]:
        _check_case_id(case_id)
        loaded = self._store.load_command(conn, case_id)
        if loaded is None:
            raise CaseNotFound(case_id)
        return loaded

    def _intake_of(
        self, conn: Connection, case: CaseRecord
    ) -> tuple[tuple[Party, ...], tuple[Claim, ...]]:
        """The case's parties and claims: cached for its chain head, else read (and cached)."""
        cached = self._intake.get(case.id, case.event_hash)
        if cached is None:
            cached = (
                self._store.load_parties(conn, case.id),
                self._store.load_claims(conn, case.id),
            )
            self._intake.put(case.id, case.event_hash, cached)
        return cached

    def _get(self, conn: Connection, case_id: int) -> Case:
        case = self._load(conn, case_id)
        flow = self._flows.get(case.flow_fingerprint) or self._flow
        return self._view(
            flow,
            case,
            self._store.load_parties(conn, case_id),
            self._store.load_claims(conn, case_id),
        )

    def _context(
        self,
        conn: Connection,
        flow: CompiledFlow,
        case: CaseRecord,
        trigger: str,
        data: Mapping[str, Any],
        actor: Actor,
        at: datetime,
        *,
        deadlines: list[DeadlineRecord] | None = None,
        expiring: DeadlineRecord | None = None,
        parse: bool = True,
        parties: tuple[Party, ...] | None = None,
        claims: tuple[Claim, ...] | None = None,
    ) -> Context:
        parsed: dict[str, Any] = {}
        if parse:
            if not flow.candidates(case.state, trigger):
                raise IllegalTransition(
                    case_id=case.id,
                    state=case.state,
                    trigger=trigger,
                    legal=flow.legal_triggers(case.state),
                )
            parsed = self._parse(flow, case, trigger, data)
        store = self._store
        return Context(
            case=case,
            trigger=trigger,
            data=parsed,
            actor=actor,
            at=at,
            today=self._day(at),
            deadlines=deadlines if deadlines is not None else store.load_deadlines(conn, case.id),
            flow=flow.definition,
            calendar=self.calendar,
            load_claims=(
                (lambda: claims)
                if claims is not None
                else (lambda: store.load_claims(conn, case.id))
            ),
            load_parties=(
                (lambda: parties)
                if parties is not None
                else (lambda: store.load_parties(conn, case.id))
            ),
            expiring=expiring,
        )

    @staticmethod
    def _parse(
        flow: CompiledFlow, case: CaseRecord, trigger: str, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        if not isinstance(data, Mapping):
            raise InvalidData(trigger, "data", f"expected a mapping, got {type(data).__name__}")
        if (where := nul_path(data)) is not None:  # PostgreSQL refuses it in any text
            raise InvalidData(trigger, where, "must not contain a NUL character")
        fields = flow.data_fields(case.state, trigger)
        try:
            parsed = parse_data(fields, data, flow.definition.names)
        except KeyError as exc:
            accepted = ", ".join(sorted({*fields, "by", "note"}))
            raise InvalidData(
                trigger, str(exc.args[0]), f"not a field of this trigger (accepted: {accepted})"
            ) from None
        except ValueError as exc:
            raise InvalidData(trigger, getattr(exc, "field", "data"), str(exc)) from None
        for t in flow.candidates(case.state, trigger):
            for f in t.data:
                if f.required and f.name not in parsed:
                    raise InvalidData(trigger, f.name, "is required")
        return parsed

    def _apply(self, ctx: Context, tdef: TransitionDef, dest: str) -> dict[str, Any]:
        """Work out everything firing ``tdef`` changes; update ``ctx.case`` and
        ``ctx.deadlines`` in memory and return the event row to write."""
        case = ctx.case
        updates: dict[str, Any] = {
            f.name: to_json(ctx.data[f.name]) for f in tdef.data if f.record and f.name in ctx.data
        }
        for spec in tdef.effects:
            updates.update(apply_effect(spec, ctx))
        ctx.warnings.extend(w for w in tdef.warnings if _guards.warning(w, ctx))
        apply_transition(ctx, tdef, dest)
        attributes = {**case.attributes, **updates}
        if tdef.interrupts_limitation:
            self._interrupt_limitation(ctx, attributes)
        case.attributes = {k: v for k, v in attributes.items() if v is not None}
        if tdef.resolution is not None:
            case.resolution = tdef.resolution.value
        elif dest not in ("closed", "archived"):
            case.resolution = None
        return self._record(ctx, dest=dest, data=to_json(ctx.data))

    def _interrupt_limitation(self, ctx: Context, attributes: dict[str, Any]) -> None:
        # LDMAL 27 ¶2: the period restarts from the interruption, if it was still running.
        case = ctx.case
        day = limitation_day(ctx).isoformat()
        stops = list(attributes.get("limitation_interruptions", []))
        if day not in stops:
            stops.append(day)
        attributes["limitation_interruptions"] = stops
        limitation = limitation_expiry(
            self.calendar,
            case.region,
            knew_of_infringement_on=case.knew_of_infringement_on,
            employment_ended_on=case.employment_ended_on,
            claim_kinds=[c.kind for c in ctx.claims],
            interruptions=[date.fromisoformat(d) for d in stops],
        )
        case.limitation_expires_on = limitation["expires_on"]
        attributes["limitation_provisional"] = limitation["provisional"] or None

    def _record(self, ctx: Context, *, dest: str, data: dict[str, Any]) -> dict[str, Any]:
        case = ctx.case
        source = case.state
        case.version += 1
        case.state = dest
        case.updated_at = ctx.at
        if ctx.expiring is not None:
            d = ctx.expiring
            data = {
                **data,
                "expired_deadline": {
                    "id": d.id,
                    "kind": d.kind,
                    "party": d.party,
                    "due": d.due.isoformat(),
                },
            }
        return {
            "case_id": case.id,
            "seq": case.version,
            "trigger": ctx.trigger,
            "source": source,
            "dest": dest,
            "actor_id": ctx.actor.id,
            "actor_role": ctx.actor.role.value,
            "at": ctx.at,
            "data": data,
            "warnings": list(ctx.warnings),
        }

    def _log_transition(self, ctx: Context, row: dict[str, Any], started: float) -> None:
        self._log.info(
            "transition",
            case_id=row["case_id"],
            trigger=row["trigger"],
            source=row["source"],
            dest=row["dest"],
            seq=row["seq"],
            actor_id=row["actor_id"],
            actor_role=row["actor_role"],
            warnings=row["warnings"] or None,
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
        )

    @staticmethod
    def _event(row: dict[str, Any]) -> Event:
        return Event(
            case_id=row["case_id"],
            seq=row["seq"],
            trigger=row["trigger"],
            source=row["source"],
            dest=row["dest"],
            actor_id=row["actor_id"],
            actor_role=row["actor_role"],
            at=row["at"].astimezone(SHANGHAI),
            data=row["data"],
            warnings=tuple(row["warnings"]),
            hash=row.get("hash"),
        )

    @staticmethod
    def _view(flow: CompiledFlow, case: CaseRecord, parties: Any, claims: Any) -> Case:
        state = flow.definition.state_map.get(case.state)
        return Case(
            id=case.id,
            region=case.region,
            state=case.state,
            state_label=state.label_zh if state else case.state,
            channel=state.channel if state else None,
            version=case.version,
            resolution=Resolution(case.resolution) if case.resolution else None,
            parties=tuple(parties),
            claims=tuple(claims),
            opened_at=case.opened_at.astimezone(SHANGHAI),
            updated_at=case.updated_at.astimezone(SHANGHAI),
            flow_fingerprint=case.flow_fingerprint,
            worker_count=case.worker_count,
            is_migrant_worker=case.is_migrant_worker,
            knew_of_infringement_on=case.knew_of_infringement_on,
            employment_ended_on=case.employment_ended_on,
            received_on=case.received_on,
            limitation_expires_on=case.limitation_expires_on,
            attributes=dict(case.attributes),
            serial=case.serial,
            handed_over_to=case.held_by,
        )


def _redacted(events: list[Event], actor: Actor | None) -> list[Event]:
    if actor is not None and actor.role in (Role.worker, Role.employer):
        # Early-warning alerts are for the officials: they name other cases and advise on
        # the employer. A party sees that one was raised, not what it says.
        return [
            replace(e, data={"redacted": True}) if e.trigger == "early_warning" else e
            for e in events
        ]
    return events


class _Overdue(Exception):
    """A command found deadlines of its case that ran out before it (internal)."""

    def __init__(self, deadlines: list[int]) -> None:
        self.deadlines = deadlines


def _overdue(
    deadlines: Iterable[DeadlineRecord], today: date, flow: FlowDefinition, trigger: str
) -> list[int]:
    """The ids of the pending deadlines whose day ended before ``today``, in due order, but
    those whose expiry is the command itself (an officer applying the expiry: the command's
    event records it)."""
    kinds = flow.deadline_map
    due = sorted(
        (d.due, d.id)
        for d in deadlines
        if d.status == DeadlineStatus.pending
        and d.due < today
        and d.id is not None
        and trigger not in kinds[d.kind].expiry
    )
    return [deadline_id for _, deadline_id in due]


def retry_on_conflict(command: Callable[[], T], *, attempts: int = 3) -> T:
    """Run ``command`` and retry it when it raises ``ConcurrentUpdate``, at most ``attempts``
    times in all; the last ``ConcurrentUpdate`` is re-raised.

    ``command`` must decide afresh on each call (reload the case, re-check the trigger):
    ``retry_on_conflict(lambda: engine.fire(case_id, "accept_arbitration", at=at))``.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return command()
        except ConcurrentUpdate:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def request_digest(case_id: int, trigger: str, data: Mapping[str, Any], actor: Actor) -> str:
    """What makes two commands "the same" for an idempotency key (the moment does not count:
    a retry comes later)."""
    content = {
        "case_id": case_id,
        "trigger": trigger,
        "data": to_json(data),
        "actor": [actor.id, actor.role.value],
    }
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _snapshot(case: CaseRecord) -> dict[str, Any]:
    """The result an idempotent retry returns."""
    return {
        "state": case.state,
        "version": case.version,
        "resolution": case.resolution,
        "attributes": case.attributes,
        "updated_at": case.updated_at.isoformat(),
        "limitation_expires_on": (
            case.limitation_expires_on.isoformat() if case.limitation_expires_on else None
        ),
    }


def _party_rows(intake: Intake, today: date) -> list[dict[str, Any]]:
    """The parties as stored, their identity numbers and phones checked and normalised: a
    worker's identity number (GB 11643), an employer's unified social credit code (GB 32100)."""
    rows = []
    for i, p in enumerate(intake.parties):
        id_number = p.id_number
        if id_number is not None:
            check: Callable[[str], str] = (
                partial(check_identity_number, today=today)
                if p.kind is PartyKind.worker
                else check_credit_code
            )
            id_number = check_intake_field(f"parties[{i}].id_number", id_number, check)
        phone = p.phone
        if phone is not None:
            phone = check_intake_field(f"parties[{i}].phone", phone, check_phone)
        rows.append(
            {
                "position": i,
                "kind": p.kind,
                "role": p.role,
                "name": p.name,
                "id_number": id_number,
                "phone": phone,
                "account": p.account,
            }
        )
    return rows


def _added_party_rows(after: int, added: Iterable[Party]) -> list[dict[str, Any]]:
    """The mf_party rows of parties added after intake, positioned after the ``after`` ones."""
    return [
        {
            "position": after + i,
            "kind": p.kind,
            "role": p.role,
            "name": p.name,
            "id_number": None,
            "phone": None,
            "account": p.account,
        }
        for i, p in enumerate(added)
    ]


def _event_rows(case_id: int, events: Iterable[Event]) -> list[dict[str, Any]]:
    return [{**e.as_dict(), "case_id": case_id} for e in events]


def _number_row(case_id: int, number: CaseNumber, issued_at: datetime) -> dict[str, Any]:
    """The mf_case_number row of an issued number."""
    return {
        "case_id": case_id,
        "key": number.key,
        "prefix": number.prefix,
        "year": number.year,
        "seq": number.seq,
        "number": number.number,
        "issued_at": issued_at,
    }


def _number_rows(case_id: int, contents: Contents) -> list[dict[str, Any]]:
    """The rows of the numbers a package brings, each issued when its event happened."""
    by_seq = {e.seq: e for e in contents.events}
    return [_number_row(case_id, n, by_seq[n.event_seq].at) for n in contents.numbers]


def _org_triggers(flows: Iterable[FlowDefinition]) -> dict[str, bool]:
    """Each trigger of ``flows``, and whether some edge of it records an ``org_id``."""
    known: dict[str, bool] = {}
    for flow in flows:
        for t in flow.transitions:
            known[t.trigger] = known.get(t.trigger, False) or any(
                f.name == "org_id" for f in t.data
            )
    return known


def _check_case_id(case_id: object) -> None:
    """A case id the database can hold, else "not found" (no raw driver error, no oracle)."""
    if isinstance(case_id, bool) or not isinstance(case_id, int) or not 0 < case_id < 2**31:
        raise CaseNotFound(case_id)  # type: ignore[arg-type]


class _CalendarChanged(Exception):
    """A notice was registered while the command was deciding on a prediction (internal)."""


def _predicted(ctx: Context) -> bool:
    """Whether the command computed a date on a predicted schedule."""
    return any(d.dirty and d.provisional for d in ctx.deadlines)


#: How far ahead of its start a deadline may fall (the longest, the limitation period with its
#: interruptions, runs a year; suspensions and extensions add months, not years).
_MAX_DEADLINE_SPAN_DAYS = 5 * 366


def _check_imported_deadlines(contents: Contents) -> None:
    """An imported deadline must start within the case's life and fall due within five years of
    its start: a package cannot park a clock in 2199."""
    first = contents.events[0].at.date() if contents.events else None
    last = contents.events[-1].at.date() if contents.events else None
    for d in contents.deadlines:
        starts, due = d["starts_on"], d["due"]
        if (
            first is not None
            and last is not None
            and not (
                first.replace(year=max(first.year - 1, 1))
                <= starts
                <= last.replace(year=last.year + 1)
            )
        ):
            raise HandoffRejected(
                "deadlines", f"the deadline {d['kind']} starts outside the case's history"
            )
        if not 0 <= (due - starts).days <= _MAX_DEADLINE_SPAN_DAYS:
            raise HandoffRejected(
                "deadlines",
                f"the deadline {d['kind']} falls due {due.isoformat()}, more than five years "
                "after it starts",
            )


def _masked_export(clear_text: bool, exported: dict[str, Any]) -> dict[str, Any]:
    """An export without clear text: identity numbers and phones masked wherever they were
    typed (notes, organisation ids, intake attributes), with the scanner the logs use."""
    if clear_text:
        return exported
    masked: dict[str, Any] = {}
    for key, value in exported.items():
        masked[key] = value if key == "parties" else mask_value(key, value)
    return masked


def _handed_over(case: CaseRecord, trigger: str) -> CaseHandedOver:
    since = case.held_since.astimezone(SHANGHAI).date().isoformat() if case.held_since else "?"
    return CaseHandedOver(case.id, case.state, trigger, case.held_by or "?", since)
