"""What every part of the engine shares: its configuration and state, the actor and the
moment of a call, the compiled flows of the regions, who may see and act on a case, loading a
case, and the command's context.

:class:`EngineCore` holds no command of its own; the parts of :class:`~mediation_flow.Engine`
(the command path, expiry, queries, integrity, paperwork, docking, the holiday calendar) build
on it, each in its own module of this package. Its attributes are set by ``Engine.__init__``.

The parts import one another in one direction (core -> rows, step -> holidays -> expiry ->
commands, intake -> the facade); none imports the package itself (``mediation_flow.engine``
or ``mediation_flow.Engine``), which would be circular. The engine's calendar is brought up
to the database here (``_sync_calendar``) because every command checks it; registering a
notice and re-dating are in :mod:`.holidays`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from mediation_flow import ledger
from mediation_flow.calendar import Calendar
from mediation_flow.documents import DocumentTemplates
from mediation_flow.early_warning import RuleSet
from mediation_flow.errors import (
    ActorRequired,
    CaseHandedOver,
    CaseNotFound,
    FlowDefinitionError,
    GuardFailed,
    IdempotencyConflict,
    IllegalTransition,
    InvalidData,
    PermissionDenied,
    PluginError,
    UnknownFlow,
)
from mediation_flow.flow.compiler import CompiledFlow, compile_flow
from mediation_flow.flow.context import Context
from mediation_flow.flow.data import parse_data
from mediation_flow.flow.definition import FlowDefinition, TransitionDef
from mediation_flow.handoff import HandoffSettings
from mediation_flow.inputs import nul_path
from mediation_flow.models import Actor, Case, Claim, Event, Party, Resolution, Role
from mediation_flow.numbering import Numbering, NumberingRule
from mediation_flow.plugins import PluginInfo, Plugins
from mediation_flow.policy import CaseScope, Policy
from mediation_flow.records import CaseRecord, DeadlineRecord
from mediation_flow.storage.cache import IntakeCache
from mediation_flow.storage.repository import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")


class EngineCore:
    """The state the parts of the engine share, and what they all need of it (set up by
    ``Engine.__init__``)."""

    #: The actor of a call without one (None: every call needs an actor).
    default_actor: Actor | None
    #: Who may fire and read what (:mod:`mediation_flow.policy`).
    policy: Policy
    #: The early-warning rules: national (or the host's), then the plugins'.
    early_warning: RuleSet
    #: The working-day calendar now: the base one with the notices registered in the database.
    calendar: Calendar
    #: This system's organisation and keys for handoff packages and checkpoints.
    handoff: HandoffSettings
    _store: Store
    _clock: Callable[[], datetime]
    _intake: IntakeCache[tuple[tuple[Party, ...], tuple[Claim, ...]]]
    _log: Any
    _plugins: Plugins
    _base_calendar: Calendar
    _calendar_revision: int
    _calendar_problems: list[Any]
    _base: FlowDefinition
    _flow: CompiledFlow
    _flows: dict[str, CompiledFlow]
    _region_flows: dict[str, CompiledFlow]
    _numbering_config: list[NumberingRule]
    _national_numbering: tuple[NumberingRule, ...]
    _numbering: Numbering
    _numberings: dict[str, Numbering]
    _templates: dict[str, DocumentTemplates]

    @property
    def plugins(self) -> list[PluginInfo]:
        """The loaded plugins, with the regions they serve and the hooks they implement."""
        return self._plugins.info()

    def flow_for(self, region: str) -> FlowDefinition:
        """The flow new cases of ``region`` (a 6-digit division code) are opened under."""
        return self._compiled_for(region).definition

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

    def _read_case(self, case_id: int) -> Case:
        """The case as stored now, as the trusted system reads it (for after-commit hooks)."""
        with self._store.connect() as conn, self._store.reading(conn):
            return self._get(conn, case_id)

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

    @staticmethod
    def _stored_digest(conn: Connection, case_id: int) -> str:
        digest = ledger.stored_digest(conn, case_id)
        assert digest is not None, case_id
        return digest

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

    def _ledger_entry(self, conn: Connection, case_id: int, kind: str, at: datetime) -> None:
        """A ledger entry for a write outside the command path (a hold, an import...): the
        state digest is taken from the rows as written, in the same transaction."""
        ledger.append(conn, case_id, kind, self._stored_digest(conn, case_id), at)


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


def handed_over(case: CaseRecord, trigger: str) -> CaseHandedOver:
    since = case.held_since.astimezone(SHANGHAI).date().isoformat() if case.held_since else "?"
    return CaseHandedOver(case.id, case.state, trigger, case.held_by or "?", since)
