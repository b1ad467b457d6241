"""The engine: one command = load -> decide -> write in one transaction -> log.

``Engine`` is the public entry point. A command (``open_case``, ``fire``, one expiry of
``tick``) loads the case row and its deadlines, fires the trigger on the flow's shared machine
(which checks legality and guards), works out the effects and the deadline changes, and writes
state + event + deadlines in one transaction guarded by the version it read. After the commit it
logs. No case object outlives its command.

Time is an argument: every command takes ``at`` (timezone-aware); without it, the engine asks its
``clock`` (default: now in Asia/Shanghai). Nothing deeper in the library reads the clock.

``Engine`` is a facade: its constructor and housekeeping are here, and each part of its API is a
module of this package, read in this order:

=====================  ===========================================================================
:mod:`.core`           shared state: the actor and the moment of a call, regional flows
                       (``flow_for``, ``plugins``), who may see and act on a case, loading a case,
                       a command's context, idempotent replays
:mod:`.step`           the write step a command and an expiry end in: apply, number, seal, write
                       state + event + deadlines + ledger entry + alerts; log
:mod:`.intake`         ``open_case``, ``suggest_routes``, ``demo_scenarios``
:mod:`.commands`       ``fire``: load -> authorise -> decide -> write step -> after-commit hooks
:mod:`.expiry`         ``tick``: deadlines that ran out, in batches, exactly once; the catch-up a
                       command runs first; the database-wide early warning
:mod:`.queries`        ``get``, ``history``, ``deadlines``, ``cases``, ``export``, ``report``,
                       ``triggers``, ``due``, ``lookup``
:mod:`.integrity`      ``verify``, ``verify_all``, ``checkpoint``
:mod:`.paperwork`      ``render_document``, ``document_templates``, ``documents``,
                       ``advance_numbering``
:mod:`.docking`        ``export_handoff``, ``reclaim``, ``handoffs``
:mod:`.importing`      ``import_handoff``: checked, recomputed, stored in one transaction
:mod:`.holidays`       ``register_holiday_schedule``, ``settle_calendar``, ``calendar_status``
:mod:`.rows`           the rows stored for parties, events and case numbers
=====================  ===========================================================================

Each part is a class on :class:`~.core.EngineCore`, and ``Engine`` inherits every one of them;
a transaction begins and commits in the public method of a part (``_fire``, ``_open_case``,
``_expire_batch``...), never in :mod:`.step`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from mediation_flow.calendar import DEFAULT_CALENDAR, Calendar
from mediation_flow.documents import DocumentTemplates
from mediation_flow.early_warning import Rule, RuleSet, default_rules
from mediation_flow.engine.commands import Commands, retry_on_conflict
from mediation_flow.engine.core import SHANGHAI
from mediation_flow.engine.docking import Docking
from mediation_flow.engine.expiry import Expiry
from mediation_flow.engine.holidays import HolidayCalendar
from mediation_flow.engine.importing import HandoffImport
from mediation_flow.engine.intake import OneStopIntake
from mediation_flow.engine.integrity import Integrity
from mediation_flow.engine.paperwork import Paperwork
from mediation_flow.engine.queries import Queries
from mediation_flow.engine.step import WriteStep
from mediation_flow.errors import DocumentError, PluginError
from mediation_flow.flow.compiler import CompiledFlow, compile_flow
from mediation_flow.flow.definition import FlowDefinition
from mediation_flow.flow.national import national_flow
from mediation_flow.handoff import HandoffSettings
from mediation_flow.logging import get_logger
from mediation_flow.models import SYSTEM, Actor
from mediation_flow.numbering import NATIONAL_RULES, Numbering, NumberingRule
from mediation_flow.plugins import Plugins
from mediation_flow.policy import Policy
from mediation_flow.storage.cache import IntakeCache
from mediation_flow.storage.repository import Store

if TYPE_CHECKING:
    from mediation_flow.outbox import Outbox


__all__ = ["SHANGHAI", "Engine", "retry_on_conflict"]


def _now() -> datetime:
    """The default clock: now in Asia/Shanghai."""
    return datetime.now(SHANGHAI)


class Engine(
    OneStopIntake,
    Commands,
    Expiry,
    WriteStep,
    HolidayCalendar,
    Queries,
    Integrity,
    Paperwork,
    Docking,
    HandoffImport,
):
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
        self._intake = IntakeCache()
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
        self._calendar_problems = []
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
