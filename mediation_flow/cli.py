"""The ``mediation-flow`` command line: the demo, a case, the flow as a table.

The database is ``--db URL`` or ``$MEDIATION_FLOW_DB``, default the SQLite file
``mediation_flow.db`` in the working directory. As an application, the CLI configures logging:
warnings only, unless ``--log-json`` asks for every event as JSON lines on standard error.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import structlog
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mediation_flow.engine import SHANGHAI, Engine
from mediation_flow.errors import InvalidData, MediationFlowError, PluginError
from mediation_flow.handoff import HandoffSettings
from mediation_flow.ledger import MAX_CHECKPOINT_BYTES
from mediation_flow.logging import configure_json_logging, mask_personal_data
from mediation_flow.models import Channel, Role
from mediation_flow.workers import run_worker

__all__ = ["main"]

_CHANNEL_ORDER = [c.value for c in Channel]


def _engine(ctx: click.Context) -> Engine:
    obj: dict[str, Any] = ctx.ensure_object(dict)
    if "engine" not in obj:
        try:
            obj["engine"] = ctx.with_resource(make_engine(obj))
        except (MediationFlowError, TypeError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
    engine: Engine = obj["engine"]
    return engine


def make_engine(obj: dict[str, Any]) -> Engine:
    """The engine the global options describe (raises what Engine raises)."""
    plugins = [_load_plugin(spec) for spec in obj.get("plugins", ())]
    handoff = HandoffSettings(
        org_id=obj.get("org"),
        signing_key=obj.get("signing_key"),
        trusted_keys=obj.get("trusted", {}),
        require_signature=True if obj.get("require_signature") else None,
        unsigned_from=obj.get("unsigned_from", ()),
    )
    return Engine(obj["db"], plugins=plugins, handoff=handoff, **engine_options(obj))


def _eager_engine(ctx: click.Context) -> Callable[[], Engine]:
    engine = _engine(ctx)
    return lambda: engine


def _worker_engine(ctx: click.Context) -> Callable[[], Engine]:
    """For a worker: the engine, made on first use, so that a database that is down when the
    worker starts is waited for like one lost later (mediation_flow.workers)."""
    obj: dict[str, Any] = ctx.ensure_object(dict)

    def get() -> Engine:
        if "engine" not in obj:
            try:
                obj["engine"] = ctx.with_resource(make_engine(obj))
            except (TypeError, ValueError, OSError) as exc:
                raise InvalidData("worker", "configuration", str(exc)) from exc
        engine: Engine = obj["engine"]
        return engine

    return get


def engine_options(obj: dict[str, Any]) -> dict[str, Any]:
    """The Engine keyword arguments of the global options: pool, timeouts, calendar."""
    options: dict[str, Any] = {
        name: obj[name]
        for name in (
            "pool_size",
            "max_overflow",
            "pool_timeout",
            "pool_recycle",
            "statement_timeout_ms",
        )
        if obj.get(name) is not None
    }
    if obj.get("busy_timeout") is not None:
        options["busy_timeout"] = obj["busy_timeout"]
    if obj.get("calendar") is not None:
        from mediation_flow.calendar_config import load_calendar

        options["calendar"] = load_calendar(obj["calendar"])
    return options


def _load_plugin(spec: str) -> object:
    """``package.module:ClassOrObject`` -> the plugin (a class is instantiated)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise click.BadParameter(f"{spec!r}: expected 'module:Plugin'", param_hint="--plugin")
    try:
        obj = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        hint = (
            " (a module in the current folder needs PYTHONPATH=. ; an installed plugin needs "
            "no --plugin)"
            if isinstance(exc, ModuleNotFoundError)
            else ""
        )
        raise click.BadParameter(f"{spec!r}: {exc}{hint}", param_hint="--plugin") from exc
    return obj() if isinstance(obj, type) else obj


class _Main(click.Group):
    """The command group: a refused plugin's region is reported as an error, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PluginError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    envvar="MEDIATION_FLOW_DB",
    default=None,
    metavar="URL",
    help="SQLAlchemy database URL [default: sqlite:///mediation_flow.db]",
)
@click.option(
    "--plugin",
    "plugins",
    multiple=True,
    metavar="MODULE:PLUGIN",
    help="Load a plugin besides the installed ones (repeatable).",
)
@click.option("--log-json", is_flag=True, help="Write every log event as JSON to stderr.")
@click.option(
    "--org",
    envvar="MEDIATION_FLOW_ORG",
    default=None,
    help="This system's organisation, named in the handoff packages it exports.",
    show_envvar=True,
)
@click.option(
    "--signing-key",
    envvar="MEDIATION_FLOW_SIGNING_KEY",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Ed25519 private key (PEM file) that signs exported handoff packages.",
    show_envvar=True,
)
@click.option(
    "--trust",
    "trusted",
    multiple=True,
    metavar="ORG=PUBLIC_KEY_FILE",
    help="Accept handoff packages signed by ORG with this public key (repeatable).",
)
@click.option(
    "--require-signature",
    is_flag=True,
    help="Refuse unsigned handoff packages (the default; kept for scripts that pass it).",
)
@click.option(
    "--accept-unsigned-from",
    "unsigned_from",
    multiple=True,
    metavar="ORG",
    help="Accept unsigned handoff packages from ORG (repeatable); others must be signed.",
)
@click.option(
    "--calendar",
    envvar="MEDIATION_FLOW_CALENDAR",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="Working-day calendar settings (JSON): regional rest days, the make-up-day setting, "
    "published schedules of new years.",
    show_envvar=True,
)
@click.option(
    "--pool-size", type=click.IntRange(1), default=None, help="Connections kept open (PostgreSQL)."
)
@click.option(
    "--max-overflow",
    type=click.IntRange(0),
    default=None,
    help="Connections opened beyond --pool-size under load (PostgreSQL).",
)
@click.option(
    "--pool-timeout",
    type=click.FloatRange(0),
    default=None,
    metavar="SECONDS",
    help="How long a command waits for a free connection.",
)
@click.option(
    "--pool-recycle",
    type=click.FloatRange(1),
    default=None,
    metavar="SECONDS",
    help="Replace connections older than this (below a proxy's idle limit).",
)
@click.option(
    "--statement-timeout-ms",
    type=click.IntRange(1),
    default=None,
    help="Cancel any statement running longer (PostgreSQL).",
)
@click.option(
    "--busy-timeout",
    type=click.FloatRange(0),
    default=None,
    metavar="SECONDS",
    help="How long a writer waits for the lock (SQLite) [default: 5].",
)
@click.version_option(package_name="mediation-flow")
@click.pass_context
def main(
    ctx: click.Context,
    db: str | None,
    plugins: tuple[str, ...],
    log_json: bool,
    org: str | None,
    signing_key: str | None,
    trusted: tuple[str, ...],
    require_signature: bool,
    unsigned_from: tuple[str, ...],
    calendar: str | None,
    pool_size: int | None,
    max_overflow: int | None,
    pool_timeout: float | None,
    pool_recycle: float | None,
    statement_timeout_ms: int | None,
    busy_timeout: float | None,
) -> None:
    """mediation_flow: the labour-dispute five-mediation linkage (五调联动) as a workflow."""
    obj = ctx.ensure_object(dict)
    obj["db"] = db
    obj["log_json"] = log_json
    obj["calendar"] = calendar
    obj["pool_size"] = pool_size
    obj["max_overflow"] = max_overflow
    obj["pool_timeout"] = pool_timeout
    obj["pool_recycle"] = pool_recycle
    obj["statement_timeout_ms"] = statement_timeout_ms
    obj["busy_timeout"] = busy_timeout
    obj["plugins"] = plugins
    obj["org"] = org
    obj["signing_key"] = signing_key
    obj["require_signature"] = require_signature
    obj["unsigned_from"] = unsigned_from
    obj["trusted"] = {}
    for spec in trusted:
        name, sep, path = spec.rpartition("=")
        if not sep or not name or not path:
            raise click.BadParameter(
                f"{spec!r}: expected ORG=PUBLIC_KEY_FILE", param_hint="--trust"
            )
        obj["trusted"][name] = Path(path)
    if log_json:
        configure_json_logging(sys.stderr, level="INFO")
    else:
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.format_exc_info,
                mask_personal_data,
                structlog.dev.ConsoleRenderer(),
            ],
            wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
            logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        )


@main.command()
@click.option("--cases", default=300, show_default=True, help="How many cases to open.")
@click.option("--seed", default=2025, show_default=True, help="Seed of the synthetic cases.")
@click.option(
    "--region",
    metavar="CODE",
    default=None,
    help="Open every case in this 6-digit region, with its plugins' scenarios.",
)
@click.pass_context
def demo(ctx: click.Context, cases: int, seed: int, region: str | None) -> None:
    """Open synthetic cases and drive each along a legal path through the linkage."""
    from mediation_flow.demo import SCENARIOS, run_demo

    console = Console()
    engine = _engine(ctx)
    where = f" in region {region}" if region else ""
    console.print(
        f"[bold]mediation_flow demo[/]: {cases} cases{where} (seed {seed}) on {engine.url}"
    )
    if region:
        serving = [
            p.name
            for p in engine.plugins
            if not p.regions or any(region.startswith(r) for r in p.regions)
        ]
        console.print(f"plugins for {region}: {', '.join(serving) or 'none (national flow)'}")
    started = time.perf_counter()
    with Progress(
        TextColumn("simulated days"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("days", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = run_demo(engine, cases=cases, seed=seed, region=region, progress=progress)
    elapsed = time.perf_counter() - started

    summary = Table(title="案件与通道 Cases and channels")
    summary.add_column("channel")
    summary.add_column("通道")
    summary.add_column("cases that passed through", justify="right")
    for name in _CHANNEL_ORDER:
        summary.add_row(name, Channel(name).label_zh, str(result.channels.get(name, 0)))
    console.print(summary)

    outcomes = Table(title="结案方式 How the cases were resolved")
    outcomes.add_column("resolved at / 化解环节")
    outcomes.add_column("cases", justify="right")
    outcomes.add_column("share", justify="right")
    for stage, n in result.resolved_at.most_common():
        outcomes.add_row(stage, str(n), f"{n / max(result.cases, 1):.0%}")
    console.print(outcomes)

    scenarios = Table(title="场景 Scenarios")
    scenarios.add_column("scenario")
    scenarios.add_column("描述")
    scenarios.add_column("cases", justify="right")
    known = {**SCENARIOS, **(engine.demo_scenarios(region) if region else {})}
    for name, n in sorted(result.scenarios.items(), key=lambda kv: -kv[1]):
        scenarios.add_row(name, known[name].description, str(n))
    console.print(scenarios)

    if result.sample_case is not None:
        _print_path(
            console, engine, result.sample_case, title="一个案件的路径 The path of one case"
        )
        _print_paperwork(ctx, console, engine, result.sample_case)
    rate = result.transitions / elapsed if elapsed else 0.0
    console.print(
        f"{result.cases} cases, {result.transitions} transitions fired by officers, "
        f"{result.expiries} expiries applied by tick, in {elapsed:.1f} s "
        f"({rate:.0f} transitions/s). Final states: "
        + ", ".join(f"{s} {n}" for s, n in result.final_states.most_common())
    )
    if result.errors:
        for line in result.errors:
            console.print(f"[red]error[/] {line}")
        raise SystemExit(1)


def _print_paperwork(ctx: click.Context, console: Console, engine: Engine, case_id: int) -> None:
    """The sample case's numbers, its look-up view, a document, and a handoff to a second
    database and back into it."""
    case = engine.get(case_id)
    console.print("[bold]文书与对接 Paperwork and docking[/]")
    console.print(f"  serial 查询码: {case.serial}")
    for number in case.numbers:
        console.print(f"  {number.label}: {number.number}")
    console.print("  " + engine.lookup(case.serial).to_text().replace("\n", "\n  "))
    template = "acceptance_notice" if case.number("arbitration") else "service_receipt"
    moment = case.updated_at
    document = engine.render_document(case_id, template, format="docx", at=moment)
    console.print(
        f"  {document.title} ({template}.docx): {len(document.content)} bytes, "
        f"sha256 {document.sha256[:16]}"
    )
    obj = ctx.ensure_object(dict)
    plugins = [_load_plugin(spec) for spec in obj.get("plugins", ())]
    sender = obj.get("org") or "一站式调处中心（演示）"
    package = engine.export_handoff(
        case_id, from_org=sender, to_org="诉调对接中心（演示）", at=moment
    )
    # The demo's sender has no key: the receiver accepts that one sender's unsigned packages.
    demo_receiver = HandoffSettings(unsigned_from={sender})
    with Engine("sqlite://", plugins=plugins, handoff=demo_receiver) as receiver:
        received = receiver.import_handoff(package.to_bytes(), at=moment)
        again = receiver.import_handoff(package.to_bytes(), at=moment)
        copy = receiver.get(received.case_id)
        ok = receiver.verify(received.case_id).ok
    console.print(
        f"  handoff 移交: {len(package.to_bytes())} bytes, digest {package.digest[:16]}; "
        f"imported into a second database: {received.outcome}, {copy.state_label}, "
        f"{received.new_events} events, chain {'verified' if ok else 'BROKEN'}; "
        f"imported again: {again.outcome}"
    )


def _plain(value: object) -> str:
    """Stored text shown on the terminal: Rich markup escaped (a party named ``张三[/]`` is
    shown, not interpreted) and control characters shown as escapes (no terminal sequences)."""
    text = "".join(
        ch if ch.isprintable() else ascii(ch)[1:-1]
        for ch in (value if isinstance(value, str) else str(value))
    )
    return escape(text)


def _print_path(console: Console, engine: Engine, case_id: int, *, title: str) -> None:
    flow = engine.flow_for(engine.get(case_id).region)
    path = Table(title=f"{title}: case {case_id}")
    for col in ("#", "date", "trigger", "操作", "from", "to"):
        path.add_column(col)
    for event in engine.history(case_id):
        src = flow.state_map.get(event.source)
        dst = flow.state_map.get(event.dest)
        edge = flow.find(event.trigger, event.source, event.dest)
        if edge is not None:
            label = edge.label_zh
        elif event.trigger == "open_case":
            label = "登记"
        elif event.trigger == "early_warning":
            label = "预警"
        else:
            expired = event.data.get("expired_deadline", {}).get("kind", "")
            kind = flow.deadline_map.get(expired)
            label = f"{kind.label_zh}届满" if kind else event.trigger
        path.add_row(
            str(event.seq),
            event.at.astimezone(SHANGHAI).date().isoformat(),
            event.trigger,
            label,
            src.label_zh if src else "—",
            dst.label_zh if dst else event.dest,
        )
    console.print(path)


@main.command()
@click.option(
    "--at",
    "at_text",
    metavar="ISO",
    default=None,
    help="The moment to tick at (ISO 8601 with a UTC offset) [default: now].",
)
@click.option(
    "--every",
    type=float,
    default=None,
    metavar="SECONDS",
    help="Keep ticking every SECONDS until interrupted (a worker process).",
)
@click.pass_context
def tick(ctx: click.Context, at_text: str | None, every: float | None) -> None:
    """Apply the expiries that are due: automatic transitions and reminders.

    Any number of tick workers may run at once against PostgreSQL; each expiry happens once.
    """
    at = None
    if at_text is not None:
        try:
            at = datetime.fromisoformat(at_text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--at") from exc

    engine = _worker_engine(ctx) if every is not None else _eager_engine(ctx)

    def step() -> None:
        events = engine().tick(at)
        for event in events:
            click.echo(f"case {event.case_id}: {event.trigger} ({event.source} -> {event.dest})")
        click.echo(f"{len(events)} expiries applied")

    if every is None:
        try:
            step()
        except MediationFlowError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    ctx.exit(run_worker("tick", step, every=every))


@main.command()
@click.option(
    "--every",
    type=click.FloatRange(0.01),
    default=None,
    metavar="SECONDS",
    help="Keep delivering every SECONDS until stopped (a worker process).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 10000),
    default=100,
    show_default=True,
    help="Events posted to one subscription per round.",
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1),
    default=8,
    show_default=True,
    help="Failed posts of one event before it goes to the dead letters.",
)
@click.option(
    "--lease",
    "lease_seconds",
    type=click.FloatRange(1),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a worker holds a subscription before another may take it over.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for a webhook receiver.",
)
@click.option(
    "--redeliver",
    metavar="NAME",
    default=None,
    help="Post the dead letters of subscription NAME again, then exit.",
)
@click.pass_context
def deliver(
    ctx: click.Context,
    every: float | None,
    batch: int,
    max_attempts: int,
    lease_seconds: float,
    timeout: float,
    redeliver: str | None,
) -> None:
    """Post committed events to the subscribed webhooks, in order per case, signed with the
    handoff signing key (--signing-key); at least once, with retries and dead letters.

    Manage subscriptions with 'mediation-flow subscribe'. Any number of deliver workers may
    run at once; a subscription is served by one at a time.
    """
    from functools import partial

    from mediation_flow.outbox import post_json

    post = partial(post_json, timeout=timeout)
    if redeliver is not None:
        try:
            done = _engine(ctx).outbox.redeliver(redeliver, post)
        except MediationFlowError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{done} dead letters delivered")
        return

    engine = _worker_engine(ctx) if every is not None else _eager_engine(ctx)

    def step() -> None:
        for result in engine().outbox.deliver(
            post, batch=batch, max_attempts=max_attempts, lease_seconds=lease_seconds
        ):
            failed = f", failed: {result.error}" if result.failed else ""
            if result.delivered or result.failed or every is None:
                click.echo(f"{result.subscription}: {result.delivered} delivered{failed}")

    if every is None:
        try:
            step()
        except MediationFlowError as exc:
            raise click.ClickException(str(exc)) from exc
        return
    ctx.exit(run_worker("deliver", step, every=every))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=1,
    show_default=True,
    help="Server processes (uvicorn workers).",
)
@click.option(
    "--authenticator",
    metavar="MODULE:OBJECT",
    default=None,
    help="The host's authenticator: an object (or class) with "
    "authenticate(request) -> Actor | None.",
)
@click.option(
    "--token-secret-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Accept bearer tokens signed with this secret (at least 32 bytes; or "
    "$MEDIATION_FLOW_TOKEN_SECRET).",
)
@click.option(
    "--max-body",
    type=click.IntRange(1024),
    default=None,
    metavar="BYTES",
    help="Largest request body accepted [default: 2 MiB].",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    workers: int,
    authenticator: str | None,
    token_secret_file: str | None,
    max_body: int | None,
) -> None:
    """Run the HTTP service (needs the extra: pip install 'mediation-flow[server]').

    It refuses to start without an authenticator: --authenticator, or a token secret
    (--token-secret-file / $MEDIATION_FLOW_TOKEN_SECRET) for signed bearer tokens
    ('mediation-flow token' issues them). No header is trusted by default.
    """
    try:
        import uvicorn

        from mediation_flow.server.app import DEFAULT_MAX_BODY
        from mediation_flow.server.auth import HmacTokenAuthenticator
    except ImportError as exc:
        raise click.ClickException(
            f"the service needs its extra: pip install 'mediation-flow[server]' ({exc})"
        ) from exc
    if token_secret_file is not None:
        os.environ["MEDIATION_FLOW_TOKEN_SECRET"] = Path(token_secret_file).read_text().strip()
    secret = os.environ.get("MEDIATION_FLOW_TOKEN_SECRET")
    if authenticator is None and not secret:
        raise click.UsageError(
            "no authenticator: pass --authenticator MODULE:OBJECT (the host's), or a token "
            "secret (--token-secret-file, $MEDIATION_FLOW_TOKEN_SECRET); the service trusts no "
            "header by itself"
        )
    if authenticator is None:
        try:
            HmacTokenAuthenticator(secret or "")
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
    obj = ctx.ensure_object(dict)
    engine_config = {k: v for k, v in obj.items() if k != "engine"}
    engine_config["trusted"] = {k: str(v) for k, v in obj.get("trusted", {}).items()}
    engine_config["plugins"] = list(obj.get("plugins", ()))
    os.environ["MEDIATION_FLOW_SERVE_CONFIG"] = json.dumps(
        {
            "engine": engine_config,
            "authenticator": authenticator,
            "max_body": max_body or DEFAULT_MAX_BODY,
        }
    )
    # Check the configuration here, once, so that a mistake stops the start with a message.
    try:
        from mediation_flow.server.app import app_from_environment

        app_from_environment()
    except (MediationFlowError, ValueError, TypeError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    uvicorn.run(
        "mediation_flow.server.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


@main.command()
@click.option("--sub", "subject", required=True, help="The actor's id in the host system.")
@click.option(
    "--role", type=click.Choice([r.value for r in Role if r is not Role.system]), required=True
)
@click.option("--org", "org_id", default=None, help="The actor's organisation.")
@click.option("--region", default=None, help="The actor's region scope (a division prefix).")
@click.option(
    "--ttl", type=click.FloatRange(1), default=3600.0, show_default=True, metavar="SECONDS"
)
@click.option(
    "--secret-file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="The token secret [default: $MEDIATION_FLOW_TOKEN_SECRET].",
)
def token(
    subject: str,
    role: str,
    org_id: str | None,
    region: str | None,
    ttl: float,
    secret_file: str | None,
) -> None:
    """Issue a bearer token for the service's built-in authenticator (for scripts and tests;
    a host's login issues them with mediation_flow.server.issue_token)."""
    from mediation_flow.models import Actor
    from mediation_flow.server.auth import issue_token

    secret = (
        Path(secret_file).read_text().strip()
        if secret_file
        else os.environ.get("MEDIATION_FLOW_TOKEN_SECRET", "")
    )
    try:
        click.echo(issue_token(secret, Actor(subject, Role(role), org_id, region), ttl=ttl))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc


@main.command()
@click.argument("name")
@click.argument("url")
@click.option("--from-start", is_flag=True, help="Deliver every event since the first.")
@click.pass_context
def subscribe(ctx: click.Context, name: str, url: str, from_start: bool) -> None:
    """Post the events to URL (a webhook) from now on, as subscription NAME."""
    try:
        sub = _engine(ctx).outbox.subscribe(name, url, from_start=from_start)
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"subscription {sub.name}: {sub.url} after event {sub.cursor}")


@main.command()
@click.argument("name")
@click.pass_context
def unsubscribe(ctx: click.Context, name: str) -> None:
    """Stop posting to subscription NAME."""
    if not _engine(ctx).outbox.unsubscribe(name):
        raise click.ClickException(f"no subscription {name!r}")
    click.echo(f"unsubscribed {name}")


@main.command()
@click.pass_context
def subscriptions(ctx: click.Context) -> None:
    """List the webhook subscriptions: cursor, retry state and dead letters."""
    outbox = _engine(ctx).outbox
    dead: dict[str, int] = {}
    for letter in outbox.dead_letters():
        dead[letter["subscription"]] = dead.get(letter["subscription"], 0) + 1
    for sub in outbox.subscriptions():
        state = f"retrying ({sub.attempts}: {sub.last_error})" if sub.attempts else "ok"
        click.echo(
            f"{sub.name}\t{sub.url}\tafter event {sub.cursor}\t{state}\t"
            f"{dead.get(sub.name, 0)} dead letters"
        )


@main.command()
@click.argument("case_ids", type=int, nargs=-1)
@click.option("--all", "check_all", is_flag=True, help="Verify every case.")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="A checkpoint printed by 'mediation-flow checkpoint': the ledger must still hold it "
    "(with --all).",
)
@click.pass_context
def verify(
    ctx: click.Context, case_ids: tuple[int, ...], check_all: bool, checkpoint_file: str | None
) -> None:
    """Check the tamper-evident history of cases: hashes, chain, intake digest, replayed state,
    and with --all the ledger: each case against its last ledger entry, deleted cases, and with
    --checkpoint the ledger against a checkpoint kept outside the database.

    Exits 1 if any case has a problem, naming the case and the event (case 0: the ledger).
    """
    if not case_ids and not check_all:
        raise click.UsageError("give case ids, or --all")
    if checkpoint_file is not None and not check_all:
        raise click.UsageError("--checkpoint verifies the whole ledger: use it with --all")
    engine = _engine(ctx)
    try:
        checkpoint = None
        if checkpoint_file is not None:
            with open(checkpoint_file, "rb") as f:
                checkpoint = f.read(MAX_CHECKPOINT_BYTES + 1)
        failed = (
            engine.verify_all(checkpoint=checkpoint)
            if check_all
            else [v for v in map(engine.verify, case_ids) if not v.ok]
        )
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    for verification in failed:
        for problem in verification.problems:
            click.echo(f"case {verification.case_id}: {problem}")
    if failed:
        click.echo(f"{len(failed)} case(s) failed verification")
        raise SystemExit(1)
    click.echo("every case verified: hashes, chain, intake and state agree")


@main.command()
@click.pass_context
def checkpoint(ctx: click.Context) -> None:
    """Sequence the ledger and print a signed checkpoint (its size and head) as one line of
    JSON. Keep it outside the database (another system, a file, a notary); 'verify --all
    --checkpoint FILE' then shows any later change to what was written before it. Signed with
    --signing-key."""
    engine = _engine(ctx)
    try:
        made = engine.checkpoint()
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(made.to_json())


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "dot", "svg", "bpmn"]),
    default="mermaid",
    show_default=True,
    help="svg needs Graphviz's dot program.",
)
@click.option(
    "--region",
    metavar="CODE",
    default=None,
    help="The flow of this region, with its plugins' steps [default: national].",
)
@click.option(
    "--case",
    "case_id",
    type=int,
    default=None,
    help="Highlight the path this case took (its region's flow).",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.pass_context
def diagram(
    ctx: click.Context,
    fmt: str,
    region: str | None,
    case_id: int | None,
    lang: str,
    output: str | None,
) -> None:
    """Draw the flow: Mermaid, Graphviz DOT or SVG, or BPMN 2.0 with a lane per channel."""
    from mediation_flow import diagram as diagrams
    from mediation_flow.flow.national import national_flow

    engine = _engine(ctx)
    path = None
    try:
        if case_id is not None:
            region = engine.get(case_id).region
            path = engine.history(case_id)
        flow = engine.flow_for(region) if region else national_flow()
        source = diagrams.render(flow, "dot" if fmt == "svg" else fmt, lang=lang, path=path)
        data = diagrams.to_svg(source) if fmt == "svg" else source.encode("utf-8")
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    except RuntimeError as exc:  # no Graphviz
        raise click.ClickException(str(exc)) from exc
    if output:
        with open(output, "wb") as handle:
            handle.write(data)
        click.echo(f"wrote {output} ({len(data)} bytes)")
    else:
        click.echo(data.decode("utf-8"), nl=False)


@main.command()
@click.option("--region", metavar="PREFIX", default=None, help="A division-code prefix.")
@click.option(
    "--since",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Cases opened on or after this day.",
)
@click.option(
    "--until",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="Cases opened on or before this day.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "html"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of standard output.",
)
@click.pass_context
def report(
    ctx: click.Context,
    region: str | None,
    since: datetime | None,
    until: datetime | None,
    fmt: str,
    output: str | None,
) -> None:
    """Figures on the linkage: channels, outcomes, stages, deadlines, overdue items.

    The HTML report is one self-contained file with its charts; it works offline.
    """
    from mediation_flow import reports

    engine = _engine(ctx)
    try:
        result = engine.report(
            region=region,
            since=since.date() if since else None,
            until=until.date() if until else None,
        )
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    render = {
        "table": reports.to_table,
        "csv": reports.to_csv,
        "json": reports.to_json,
        "html": reports.to_html,
    }[fmt]
    text = render(result)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=not text.endswith("\n"))


@main.group("plugins", invoke_without_command=True)
@click.pass_context
def plugins_command(ctx: click.Context) -> None:
    """List the loaded plugins, the regions they serve, and any refused plugin with the reason
    (its regions do not start; the others do). ``plugins check`` runs the conformance kit."""
    if ctx.invoked_subcommand is not None:
        return
    console = Console()
    engine = _engine(ctx)
    if not engine.plugins:
        console.print("no plugins loaded: every region runs the national flow")
        return
    table = Table(title="plugins")
    for col in ("plugin", "regions", "hooks", "loaded from", "status"):
        table.add_column(col)
    for info in engine.plugins:
        table.add_row(
            info.name,
            ", ".join(info.regions) or "all",
            ", ".join(info.hooks),
            info.source,
            f"refused: {info.refused}" if info.refused else "in use",
        )
    console.print(table)


@plugins_command.command("check")
@click.argument("spec", metavar="MODULE:PLUGIN")
@click.option(
    "--region",
    "regions",
    multiple=True,
    metavar="CODE",
    help="A 6-digit division code to check (repeatable) [default: one per declared prefix].",
)
@click.option("--walks", default=60, show_default=True, help="Random walks per region.")
@click.option(
    "--case-walks",
    default=10,
    show_default=True,
    help="Random cases per region run beside a national one.",
)
def plugins_check(spec: str, regions: tuple[str, ...], walks: int, case_walks: int) -> None:
    """Check a plugin against the statutory floor, then by random walks over its regional flow
    beside the national one (mediation_flow.testing.check_plugin). Exit status 1 on a failure."""
    from mediation_flow.testing import check_plugin

    try:
        import hypothesis  # noqa: F401  (the random walks)
    except ImportError:
        raise click.ClickException(
            "the conformance kit needs hypothesis and pytest: "
            "pip install 'mediation-flow[plugin-dev]'"
        ) from None
    plugin = _load_plugin(spec)
    try:
        check_plugin(plugin, regions or None, walks=walks, case_walks=case_walks)
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    except AssertionError as exc:
        raise click.ClickException(f"a random walk failed: {exc}") from exc
    name = getattr(plugin, "name", spec)
    click.echo(
        f"{name}: passes the statutory floor, {walks} random walks and {case_walks} random "
        "cases per region"
    )


@main.group()
def db() -> None:
    """The database schema: upgrade, downgrade, current, stamp."""


def _store(ctx: click.Context) -> Any:
    from mediation_flow.storage.repository import Store

    return ctx.with_resource(_Disposing(Store(ctx.ensure_object(dict)["db"])))


class _Disposing:
    def __init__(self, store: Any) -> None:
        self.store = store

    def __enter__(self) -> Any:
        return self.store

    def __exit__(self, *exc: object) -> None:
        self.store.dispose()


@db.command("upgrade")
@click.argument("revision", default="head")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the schema up to REVISION (default: the newest)."""
    from mediation_flow.storage import schema

    store = _store(ctx)
    with store.migrating() as conn:
        schema.upgrade(conn, revision)
        click.echo(f"schema at {schema.current_revision(conn)} (head {schema.head_revision()})")


@db.command("downgrade")
@click.argument("revision")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the schema down to REVISION ('base' drops every mediation_flow table)."""
    from mediation_flow.storage import schema

    store = _store(ctx)
    with store.migrating() as conn:
        schema.downgrade(conn, revision)
        click.echo(f"schema at {schema.current_revision(conn) or 'base'}")


@db.command("current")
@click.pass_context
def db_current(ctx: click.Context) -> None:
    """Print the schema revision of the database and the one this release needs."""
    from mediation_flow.storage import schema

    store = _store(ctx)
    with store.reading() as conn:
        current = schema.current_revision(conn)
    head = schema.head_revision()
    state = "up to date" if current == head else "run 'mediation-flow db upgrade'"
    click.echo(f"database: {current or 'none'}; this release needs: {head} ({state})")


@db.command("stamp")
@click.argument("revision")
@click.pass_context
def db_stamp(ctx: click.Context, revision: str) -> None:
    """Record REVISION as the schema's revision without migrating (for a database whose tables
    already match it)."""
    from alembic import command

    from mediation_flow.storage import schema

    store = _store(ctx)
    with store.migrating() as conn:
        command.stamp(schema._config(conn), revision)
        click.echo(f"schema stamped at {schema.current_revision(conn)}")


@main.group()
def case() -> None:
    """Look at one case."""


@case.command("show")
@click.argument("case_id", type=int)
@click.pass_context
def case_show(ctx: click.Context, case_id: int) -> None:
    """Show a case: state, parties, claims, deadlines and its history."""
    console = Console()
    engine = _engine(ctx)
    try:
        c = engine.get(case_id)
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    channel = f"{c.channel.value} ({c.channel.label_zh})" if c.channel else "—"
    console.print(
        f"[bold]case {c.id}[/] region {c.region}: {c.state} {c.state_label}, "
        f"channel {channel}, version {c.version}"
        + (f", resolution {c.resolution.value}" if c.resolution else "")
    )
    console.print(
        f"  serial {_plain(c.serial)}"
        + "".join(f"; {_plain(n.label)} {_plain(n.number)}" for n in c.numbers)
    )
    if c.handed_over_to:
        console.print(
            f"  [bold]handed over to {_plain(c.handed_over_to)}[/] (案件已移交): nothing is "
            "fired here "
            "and its deadlines wait until it comes back (or: mediation-flow handoff reclaim)"
        )
    for p in c.parties:
        console.print(f"  {p.role.value} {p.kind.value}: {_plain(p.name)}")
    for cl in c.claims:
        console.print(f"  claim {cl.kind.value}: {cl.amount}")
    if c.limitation_expires_on:
        console.print(f"  limitation (仲裁时效) runs to {c.limitation_expires_on}")
    deadlines = Table(title="deadlines 期限")
    for col in ("kind", "期限", "party", "status", "starts", "due"):
        deadlines.add_column(col)
    kinds = engine.flow_for(c.region).deadline_map
    for d in engine.deadlines(case_id):
        label = kinds[d.kind].label_zh if d.kind in kinds else d.kind
        due = d.due.isoformat() + (" (provisional)" if d.provisional else "")
        deadlines.add_row(
            d.kind, label, d.party or "", d.status.value, d.starts_on.isoformat(), due
        )
    console.print(deadlines)
    _print_path(console, engine, case_id, title="history 历史")


@main.command()
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--region",
    metavar="CODE",
    default=None,
    help="The flow of this 6-digit region, with its plugins' additions.",
)
@click.pass_context
def states(ctx: click.Context, lang: str, region: str | None) -> None:
    """The flow as tables: its states, then its triggers."""
    from mediation_flow.flow.national import national_flow

    flow = _engine(ctx).flow_for(region) if region else national_flow()
    console = Console()
    table = Table(title=f"states of the {flow.name} flow")
    for col in ("state", "label", "channel", "terminal", "deadlines started on entry"):
        table.add_column(col)
    for s in flow.states:
        label = s.label_zh if lang == "zh" else s.label_en
        started = ", ".join(dict.fromkeys(op.kind for op in s.on_enter))
        table.add_row(
            s.id, label, s.channel.value if s.channel else "—", "yes" if s.terminal else "", started
        )
    console.print(table)
    triggers = Table(title="triggers")
    for col in ("trigger", "label", "from", "to", "guards"):
        triggers.add_column(col)
    for t in flow.transitions:
        label = t.label_zh if lang == "zh" else t.label_en
        triggers.add_row(
            t.trigger, label, ", ".join(t.sources), t.dest or "(stays)", ", ".join(t.guards)
        )
    console.print(triggers)


@main.command()
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print the view as JSON.")
@click.pass_context
def lookup(ctx: click.Context, reference: str, as_json: bool) -> None:
    """What a party sees of a case by its case number (案号) or serial: nothing personal."""
    try:
        view = _engine(ctx).lookup(reference)
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(view.to_json(), ensure_ascii=False, indent=2))
    else:
        click.echo(view.to_text())


@main.group()
def doc() -> None:
    """Legal documents rendered from templates (HTML or DOCX)."""


@doc.command("list")
@click.option("--region", metavar="CODE", default="110101", show_default=True)
@click.pass_context
def doc_list(ctx: click.Context, region: str) -> None:
    """The document templates of a region (its plugins may replace or add some)."""
    for info in _engine(ctx).document_templates(region):
        click.echo(f"{info.name}\t{info.title}\t{info.description}")


@doc.command("render")
@click.argument("case_id", type=int)
@click.argument("template")
@click.option("--format", "fmt", type=click.Choice(["html", "docx"]), default="html",
              show_default=True)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), default=None,
    help="Where to write the document [default: case-ID-TEMPLATE.FORMAT].",
)  # fmt: skip
@click.option(
    "--value", "values", multiple=True, metavar="KEY=VALUE",
    help="A value the template uses (repeatable); KEY[]=VALUE appends to a list.",
)  # fmt: skip
@click.pass_context
def doc_render(
    ctx: click.Context,
    case_id: int,
    template: str,
    fmt: str,
    output: str | None,
    values: tuple[str, ...],
) -> None:
    """Render document TEMPLATE of case CASE_ID (``mediation-flow doc list`` names them)."""
    given: dict[str, Any] = {}
    for spec in values:
        key, sep, value = spec.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{spec!r}: expected KEY=VALUE", param_hint="--value")
        if key.endswith("[]"):
            given.setdefault(key[:-2], []).append(value)
        else:
            given[key] = value
    try:
        document = _engine(ctx).render_document(case_id, template, format=fmt, values=given)
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    target = Path(output or document.filename)
    target.write_bytes(document.content)
    click.echo(f"{target} ({document.title}, {len(document.content)} bytes, "
               f"sha256 {document.sha256[:16]})")  # fmt: skip


@main.group()
def handoff() -> None:
    """Hand cases to another system and take them in (versioned JSON packages)."""


@handoff.command("export")
@click.argument("case_id", type=int)
@click.option("--to", "to_org", required=True, help="The receiving organisation.")
@click.option(
    "--copy",
    is_flag=True,
    help="Export a copy: the case keeps running here (by default it waits until it comes back).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Where to write the package [default: SERIAL.handoff.json].")  # fmt: skip
@click.pass_context
def handoff_export(
    ctx: click.Context, case_id: int, to_org: str, copy: bool, output: str | None
) -> None:
    """Hand case CASE_ID over to the organisation --to: write its package (needs --org)."""
    if not ctx.ensure_object(dict).get("org"):
        raise click.UsageError("name this system's organisation: --org ORG or $MEDIATION_FLOW_ORG")
    try:
        package = _engine(ctx).export_handoff(case_id, to_org=to_org, hold=not copy)
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    target = package.write(output or f"{package.serial}.handoff.json")
    signed = "signed" if package.data["signature"] else "unsigned"
    held = (
        "a copy; the case runs on here"
        if copy
        else f"the case waits here until {to_org} sends it back"
    )
    click.echo(f"{target}: case {package.serial}, {signed}, digest {package.digest[:16]} ({held})")


@handoff.command("reclaim")
@click.argument("case_id", type=int)
@click.pass_context
def handoff_reclaim(ctx: click.Context, case_id: int) -> None:
    """Take back case CASE_ID, handed over and not coming back: it runs here again."""
    try:
        case = _engine(ctx).reclaim(case_id)
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"case {case.id} runs here again ({case.state} {case.state_label})")


@handoff.command("import")
@click.argument("package", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def handoff_import(ctx: click.Context, package: str) -> None:
    """Take in the case of a handoff package file (checked before anything is written)."""
    try:
        result = _engine(ctx).import_handoff(Path(package))
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    signer = f", signed by {result.signed_by}" if result.signed_by else ", unsigned"
    click.echo(f"case {result.case_id}: {result.outcome} ({result.new_events} new events{signer})")


@handoff.command("keygen")
@click.argument("prefix", type=click.Path(dir_okay=False))
def handoff_keygen(prefix: str) -> None:
    """Write a new Ed25519 key pair: PREFIX.key (private, keep it) and PREFIX.pub (give it to
    the systems that receive your packages)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (key_path, pub_path):
        if path.exists():
            raise click.ClickException(f"{path} exists; choose another prefix")
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    # Created readable by its owner only, never briefly by others.
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    pub_path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    click.echo(f"{key_path} (private) and {pub_path} (public)")


@main.group()
def numbers() -> None:
    """Case numbers (案号)."""


@numbers.command("advance")
@click.argument("prefix")
@click.argument("year", type=int)
@click.argument("last", type=int)
@click.pass_context
def numbers_advance(ctx: click.Context, prefix: str, year: int, last: int) -> None:
    """Continue PREFIX's numbering of YEAR after LAST (an organisation that numbered its cases
    elsewhere until now); the next number issued is LAST + 1. Never moves a counter back."""
    try:
        counter = _engine(ctx).advance_numbering(prefix, year, to=last)
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    if counter > last:
        click.echo(f"{prefix} {year}: numbers up to {counter} were issued already; the next is "
                   f"{counter + 1}")  # fmt: skip
    else:
        click.echo(f"{prefix} {year}: the next number is {counter + 1}")


# The yearly calendar step lives in its own module (mediation_flow.cli_calendar).
from mediation_flow.cli_calendar import calendar as _calendar_commands  # noqa: E402

main.add_command(_calendar_commands)
