"""``mediation-flow calendar``: the yearly operator step.

- ``calendar import FILE``: read the State Council's holiday notice (its text pasted into a
  file, or the JSON form), show what was understood, store it and re-date the provisional
  deadlines (``--dry-run`` only shows);
- ``calendar status [--json]``: which years are official, registered or predicted, how many open
  deadlines are provisional, and what to do;
- ``calendar settle``: re-date after a package upgrade that brought a year's notice.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from mediation_flow.calendar import check_notice, checked_schedule
from mediation_flow.errors import MediationFlowError
from mediation_flow.holiday_notice import read_schedule

__all__ = ["calendar"]

_MAX_FILE = 1_000_000


@click.group()
def calendar() -> None:
    """The holiday calendar: register a year's notice, see what is predicted."""


def _engine(ctx: click.Context):  # type: ignore[no-untyped-def]
    from mediation_flow.cli import _engine as engine_of

    return engine_of(ctx)


@calendar.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--year", type=int, default=None, help="The notice's year [default: from its title].")
@click.option("--dry-run", is_flag=True, help="Show what was understood; store nothing.")
@click.option(
    "--replace",
    is_flag=True,
    help="Replace the notice of a year that is already official (an amended notice).",
)
@click.pass_context
def calendar_import(
    ctx: click.Context, path: Path, year: int | None, dry_run: bool, replace: bool
) -> None:
    """Register the State Council's holiday notice for a year from PATH.

    PATH holds the notice's text as published (国务院办公厅关于YYYY年部分节假日安排的通知,
    pasted as it is) or the JSON form {"year", "holidays", "workdays", "source"}. The notice is
    checked line by line (weekdays, day counts, make-up days on weekends); a line that fails is
    named and nothing is stored; so is a notice that leaves a statutory holiday a working day
    (a lost line). A year already official (registered, or in the chinese-calendar package) is
    replaced only with --replace.
    """
    if path.stat().st_size > _MAX_FILE:
        raise click.ClickException(f"{path} is larger than {_MAX_FILE:,} bytes; not a notice")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path} is not UTF-8 text: save the notice as UTF-8") from exc
    try:
        notice = read_schedule(text, year=year)
        check_notice(checked_schedule(notice.year, notice.holidays, notice.workdays))
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    except ValueError as exc:  # the checks every registration makes, shown before storing
        raise click.ClickException(f"{path}: {exc}") from exc
    click.echo(notice.summary())
    if dry_run:
        click.echo("dry run: nothing stored")
        return
    engine = _engine(ctx)
    try:
        events = engine.register_holiday_schedule(
            notice.year,
            holidays=notice.holidays,
            workdays=notice.workdays,
            source=notice.source,
            replace=replace,
        )
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    moved = sum(len(e.data["deadlines"]) for e in events)
    click.echo(f"stored {notice.year}; {moved} deadline(s) of {len(events)} case(s) re-dated")
    for event in events:
        for entry in event.data["deadlines"]:
            if entry.get("held"):
                click.echo(
                    f"  case {event.case_id}: {entry['kind']} kept {entry['new_due']}: the "
                    f"official date {entry['official_due']} has passed (an official decides)",
                    err=True,
                )


@calendar.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def calendar_status(ctx: click.Context, as_json: bool) -> None:
    """Which years are official (package or registered) and which predicted; provisional
    deadlines; a warning from 1 November while the next year is predicted."""
    try:
        status = _engine(ctx).calendar_status()
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(status.as_json(), ensure_ascii=False, indent=2))
        return
    for year in status.years:
        click.echo(f"{year.year}  {year.basis.value:<10}  {year.basis.label_zh}  {year.source}")
    click.echo(f"open provisional deadlines: {status.provisional_deadlines}")
    for warning in status.warnings:
        click.echo(f"warning: {warning}", err=True)


@calendar.command("settle")
@click.pass_context
def calendar_settle(ctx: click.Context) -> None:
    """Re-date the provisional deadlines on the calendar as it is now (after upgrading
    chinese-calendar to a release that carries a new year, say)."""
    try:
        events = _engine(ctx).settle_calendar()
    except MediationFlowError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(events)} case(s) re-dated")
