"""Benchmark: the paperwork features: case numbers, handoff packages and progress look-up.

Four figures, each a ratio of two things measured in the same run (machines are shared and noisy,
absolute times are not comparable between runs):

1. **numbering**: ``accept_arbitration`` on an engine that issues the arbitration case number
   (the default) against one that does not (``national_numbering=False``), on a SQLite file and on
   PostgreSQL; the commands alternate one by one over cases in the same database;
2. **contention** (PostgreSQL): W worker processes accepting arbitrations at once, all under one
   prefix (one counter row, held from the increment to the commit) against each under its own;
   afterwards every prefix's numbers must run 1, 2, 3, ... with no gap and no duplicate, or the
   run fails;
3. **handoff**: ``export_handoff`` + ``import_handoff`` of a ten-event case into a second database
   against ``Engine.export`` (the plain JSON export), and how the import's time splits between
   reading the file, JSON Schema validation, the digest, the chain verification and the write;
4. **lookup**: ``Engine.lookup`` by serial and by case number against ``Engine.get``.

Run ``python benchmarks/bench_paperwork.py --help``; see ``benchmarks/README.md``. Not part of
the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import multiprocessing
import os
import pstats
import re
import signal
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

import jsonschema
from bench_engine import OPENED_AT, STEPS, at, count_statements, make_intake, workspace
from bench_workers import (
    DEFAULT_PG_URL,
    STARTUP_TIMEOUT,
    Backend,
    Failure,
    Postgres,
    Ready,
    collect,
    machine_facts,
    sa_url,
    sqlite_backend,
)
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine as SAEngine

from mediation_flow import Engine, HandoffSettings, NumberingRule, configure_json_logging
from mediation_flow.audit import verify_case
from mediation_flow.handoff import check_numbers, load_package, parse_package, schema

if TYPE_CHECKING:
    from multiprocessing.context import SpawnContext, SpawnProcess
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

    from mediation_flow import Case

CENTRE = "芙蓉区劳动争议一站式调处中心"
COURT = "芙蓉区人民法院诉调对接中心"
STEP = {step.trigger: step for step in STEPS}
APPLY, ACCEPT = STEP["apply_arbitration"], STEP["accept_arbitration"]


def _handoff_steps() -> tuple[tuple[str, dict[str, Any], datetime], ...]:
    """The handoff's case: bench_engine's seven steps with an arbitration mediation that failed
    in between: ten events with the opening, three case numbers (union mediation, arbitration,
    first instance)."""
    steps = []
    for step in STEPS:
        steps.append((step.trigger, step.data, step.at))
        if step.trigger == ACCEPT.trigger:
            steps.append(("start_arbitration_mediation", {}, at(3, 6, 11)))
            steps.append(("fail_arbitration_mediation", {}, at(3, 6, 15)))
    return tuple(steps)


HANDOFF_STEPS = _handoff_steps()
HANDOFF_AT = at(3, 11)
#: The prefix(es) of the contention phases: one for all, or one per worker process.
SHARED_PREFIX = "P"
SAME, OWN = "same", "own"
SEQ = re.compile(r"第(\d+)号$")


class CheckFailed(Exception):
    """The database does not hold what the benchmark wrote: duplicates, gaps, a failed import."""


def clock() -> datetime:
    return OPENED_AT


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn(*args, **kwargs)
    return time.perf_counter() - started, value


def to_arbitration_received(engine: Engine) -> int:
    """Open a case and apply for arbitration (no mediation first): ready to be accepted. (The
    engines that prepare cases run without early-warning rules, ``early_warning=[]``: the rules
    run at intake and at tick only, never at ``accept_arbitration``; without them intake is
    cheaper and adds no alert events.)"""
    case = engine.open_case(make_intake(), at=OPENED_AT)
    engine.fire(case.id, APPLY.trigger, data=APPLY.data, at=APPLY.at)
    return case.id


def accept(engine: Engine, case_id: int) -> Case:
    return engine.fire(case_id, ACCEPT.trigger, data=ACCEPT.data, at=ACCEPT.at)


def sa_engine_of(engine: Engine) -> SAEngine | None:
    """The engine's SQLAlchemy engine (private: None if that changes) for statement counts."""
    store = getattr(engine, "_store", None)
    found = getattr(store, "engine", None)
    return found if isinstance(found, SAEngine) else None


def statements(engine: Engine, run: Callable[[], object]) -> str:
    """SELECT/INSERT/UPDATE statements one call issues, as ``sel/ins/upd``."""
    sa = sa_engine_of(engine)
    if sa is None:
        return "?"
    counts = count_statements(sa, run)
    return f"{counts['SELECT']}/{counts['INSERT']}/{counts['UPDATE']}"


def seq_of(number: str) -> int:
    match = SEQ.search(number)
    if match is None:
        raise CheckFailed(f"{number!r} does not end in 第N号")
    return int(match.group(1))


def check_numbers_table(url: str, expected: int, acceptances: int | None = None) -> dict[str, int]:
    """Every prefix's numbers run 1..n (no gap, no duplicate), every number string is unique, the
    counter row says n, and there are ``expected`` numbers in all, for as many accepted
    arbitrations (or ``acceptances``, where some were accepted without a number); raise
    ``CheckFailed`` otherwise. Returns the count per prefix."""
    sa = create_engine(sa_url(url))
    try:
        with sa.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT prefix, year, count(*), count(DISTINCT seq), min(seq), max(seq), "
                    "count(DISTINCT number), count(DISTINCT case_id) FROM mf_case_number "
                    "GROUP BY prefix, year ORDER BY prefix, year"
                )
            ).all()
            counters = dict(conn.execute(text("SELECT prefix, last FROM mf_number_counter")).all())
            distinct = conn.execute(text("SELECT count(DISTINCT number) FROM mf_case_number"))
            distinct_numbers = int(distinct.scalar_one())
            accepted = int(
                conn.execute(
                    text("SELECT count(*) FROM mf_event WHERE trigger = :t"), {"t": ACCEPT.trigger}
                ).scalar_one()
            )
    finally:
        sa.dispose()
    problems = []
    per_prefix: dict[str, int] = {}
    for prefix, year, n, seqs, low, high, numbers, case_ids in rows:
        per_prefix[prefix] = n
        if not (n == seqs == numbers == case_ids == high and low == 1):
            problems.append(
                f"{prefix} {year}: {n} numbers, {seqs} distinct seqs from {low} to {high}, "
                f"{numbers} distinct numbers, {case_ids} cases (gap or duplicate)"
            )
        if counters.get(prefix) != n:
            problems.append(f"{prefix}: counter at {counters.get(prefix)}, {n} numbers issued")
    total = sum(per_prefix.values())
    if distinct_numbers != total:
        problems.append(f"{total} numbers but {distinct_numbers} distinct number strings")
    acceptances = expected if acceptances is None else acceptances
    if total != expected or accepted != acceptances:
        problems.append(
            f"{total} numbers and {accepted} acceptances, expected {expected} and {acceptances}"
        )
    if problems:
        raise CheckFailed("case numbers: " + "; ".join(problems))
    return per_prefix


def stored_numbers(url: str) -> set[str]:
    sa = create_engine(sa_url(url))
    try:
        with sa.connect() as conn:
            return set(conn.execute(text("SELECT number FROM mf_case_number")).scalars())
    finally:
        sa.dispose()


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


# --- 1. numbering on and off ---------------------------------------------------------------------


@dataclass(slots=True)
class NumberingResult:
    backend: str
    on: list[float] = field(default_factory=list)  # seconds per command, all rounds
    off: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # per round: sum(on) / sum(off)
    audit: tuple[str, str] = ("?", "?")


def numbering_phase(backend: Backend, n: int, repeat: int) -> NumberingResult:
    """2 x n x repeat cases in arbitration_received, in one database; per round, n of them
    accepted by an engine that numbers and n by one that does not, one command each in turn
    (which goes first alternates)."""
    result = NumberingResult(backend.name)
    with backend.database() as url, ExitStack() as stack:
        on = stack.enter_context(Engine(url, entry_points=False, clock=clock, early_warning=[]))
        off = stack.enter_context(
            Engine(
                url,
                entry_points=False,
                clock=clock,
                early_warning=[],
                create_schema=False,
                national_numbering=False,
            )
        )
        ids = [to_arbitration_received(off) for _ in range(2 * n * repeat + 4)]
        # Warm up both (connections, statement caches, the flow machine), then count statements.
        accept(on, ids.pop())
        accept(off, ids.pop())
        audit_on, audit_off = ids.pop(), ids.pop()
        result.audit = (
            statements(on, lambda: accept(on, audit_on)),
            statements(off, lambda: accept(off, audit_off)),
        )
        issued: list[str] = []
        for r in range(repeat):
            chunk = ids[2 * n * r : 2 * n * (r + 1)]
            sums = {True: 0.0, False: 0.0}
            gc.collect()
            for i in range(n):
                first_on = (i + r) % 2 == 0
                for numbered in (first_on, not first_on):
                    engine = on if numbered else off
                    seconds, case = timed(accept, engine, chunk[2 * i + (not numbered)])
                    sums[numbered] += seconds
                    (result.on if numbered else result.off).append(seconds)
                    number = case.number("arbitration")
                    if numbered != (number is not None):
                        raise CheckFailed(f"case {case.id}: numbered={numbered}, got {number!r}")
                    if number:
                        issued.append(number)
            result.ratios.append(sums[True] / sums[False])
        if sorted(seq_of(x) for x in issued) != list(range(3, len(issued) + 3)):
            raise CheckFailed("numbering phase: the numbers issued are not 3, 4, 5, ...")
        # + the warm-up and the counted command of each engine
        check_numbers_table(url, len(issued) + 2, acceptances=2 * len(issued) + 4)
    return result


# --- 2. contention on the counter (PostgreSQL) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssueJob:
    index: int
    url: str
    cases: int
    prefix: str


@dataclass(frozen=True, slots=True)
class IssueReport:
    index: int
    numbers: tuple[str, ...]
    started: float  # time.monotonic(): system-wide
    finished: float
    cpu: float


def issuer(jobs: Queue[IssueJob | None], results: Queue[object], go: Event) -> None:
    """A worker process, for the whole section: per job, open its cases and bring them to
    arbitration_received, accept one to warm up, say ready; on the start signal accept the
    others and report the numbers; then close the engine and wait for the next job (None: stop)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers itself
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole process
    configure_json_logging(sink)
    index = -1
    try:
        while (job := jobs.get(timeout=STARTUP_TIMEOUT * 10)) is not None:
            index = job.index
            rule = NumberingRule("arbitration", "仲裁案号", (ACCEPT.trigger,), job.prefix)
            with Engine(
                job.url,
                entry_points=False,
                create_schema=False,
                clock=clock,
                numbering=[rule],
                early_warning=[],
            ) as engine:
                ids = [to_arbitration_received(engine) for _ in range(job.cases + 1)]
                accept(engine, ids.pop())  # warm-up: its number counts in the check
                gc.collect()
                results.put(Ready(index))
                if not go.wait(timeout=STARTUP_TIMEOUT):
                    raise TimeoutError("no start signal")
                started, cpu = time.monotonic(), time.process_time()
                numbers = []
                for case_id in ids:
                    number = accept(engine, case_id).number("arbitration")
                    if number is None:
                        raise CheckFailed(f"case {case_id} was accepted without a number")
                    numbers.append(number)
                finished, cpu = time.monotonic(), time.process_time() - cpu
            results.put(IssueReport(index, tuple(numbers), started, finished, cpu))
    except Exception:
        results.put(Failure(index, traceback.format_exc()))
    finally:
        sink.close()


@dataclass(frozen=True, slots=True)
class ContentionPhase:
    sweep: int
    mode: str
    workers: int
    numbers: int
    seconds: float
    cpu: float  # the workers' CPU (not the server's)
    samples: Counter[str]

    @property
    def rate(self) -> float:
        return self.numbers / self.seconds


@dataclass(frozen=True, slots=True)
class Pool:
    """The worker processes of the contention section, started once (spawning and importing
    take seconds per process); a phase with W workers hands out W jobs."""

    procs: list[SpawnProcess]
    jobs: Queue[IssueJob | None]
    results: Queue[object]
    go: Event


@contextmanager
def pool(ctx: SpawnContext, size: int) -> Iterator[Pool]:
    jobs: Queue[IssueJob | None] = ctx.Queue()
    results: Queue[object] = ctx.Queue()
    go = ctx.Event()
    procs = [ctx.Process(target=issuer, args=(jobs, results, go), daemon=True) for _ in range(size)]
    try:
        for p in procs:
            p.start()
        yield Pool(procs, jobs, results, go)
        for _ in procs:
            jobs.put(None)
        for p in procs:
            p.join(timeout=30)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=10)


def contention_phase(
    workers: Pool, pg: Postgres, sweep: int, mode: str, w: int, n: int, sample_ms: float
) -> ContentionPhase:
    """One PostgreSQL schema; W of the pool's processes each open their share of n cases (in
    parallel, not timed), then accept them all from a common start signal to the last finish.
    Afterwards the numbers are checked: gap-free and unique per prefix, as many as accepted."""
    # Each of the W jobs goes to a different process: a process that took a job waits for the
    # start signal, which comes only when W processes have said they are ready.
    busy = workers.procs[:w]  # for collect: how many messages to wait for
    with pg.database() as url:
        Engine(url, entry_points=False, clock=clock).close()  # the schema
        share = [n // w + (i < n % w) for i in range(w)]
        for i, cases in enumerate(share):
            prefix = SHARED_PREFIX if mode == SAME else f"{SHARED_PREFIX}{i}"
            workers.jobs.put(IssueJob(i, url, cases, prefix))
        collect(workers.results, busy, Ready, STARTUP_TIMEOUT)
        samples: Counter[str] = Counter()
        idle: Callable[[], None] = lambda: None  # noqa: E731
        poll = 0.2
        if sample_ms > 0:
            idle, poll = (lambda: pg.sample(url, samples)), sample_ms / 1000
        started = time.monotonic()
        workers.go.set()
        try:
            reports = collect(workers.results, busy, IssueReport, STARTUP_TIMEOUT, idle, poll)
        finally:
            workers.go.clear()
        numbers = [x for r in reports for x in r.numbers]
        if len(set(numbers)) != len(numbers):
            duplicates = [x for x, c in Counter(numbers).items() if c > 1]
            raise CheckFailed(f"{mode} W={w}: duplicate numbers issued: {duplicates[:5]}")
        per_prefix = check_numbers_table(url, n + w)
        missing = set(numbers) - stored_numbers(url)
        if missing:
            raise CheckFailed(
                f"{mode} W={w}: numbers reported but not stored: {sorted(missing)[:5]}"
            )
        expected = {SHARED_PREFIX: n + w} if mode == SAME else {
            f"{SHARED_PREFIX}{i}": cases + 1 for i, cases in enumerate(share)
        }  # fmt: skip
        if per_prefix != expected:
            raise CheckFailed(f"{mode} W={w}: numbers per prefix {per_prefix}, not {expected}")
    seconds = max(r.finished for r in reports) - started
    cpu = sum(r.cpu for r in reports)
    return ContentionPhase(sweep, mode, w, len(numbers), seconds, cpu, samples)


# --- 3. handoff, 4. lookup -----------------------------------------------------------------------


def handoff_case(engine: Engine) -> int:
    """A case with ten events, three case numbers and one rendered document (not timed)."""
    case_id = engine.open_case(make_intake(), at=OPENED_AT).id
    for trigger, data, when in HANDOFF_STEPS:
        engine.fire(case_id, trigger, data=data, at=when)
    engine.render_document(case_id, "acceptance_notice", format="html", at=at(3, 10, 16))
    return case_id


def validate(data: dict[str, Any]) -> None:
    """The JSON Schema validation, as ``parse_package`` does it."""
    validator = jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(dict(data)))
    if error is not None:
        raise CheckFailed(f"the package does not match its schema: {error.message}")


#: The parts of the handoff measured per case, in the order of the table.
BASE, EXPORT, BYTES, IMPORT = "export", "export_handoff", "to_bytes", "import_handoff"
LOAD, PARSE, SCHEMA, SEALS, VERIFY, NUMBERS = (
    "load",
    "parse",
    "schema",
    "seals",
    "verify",
    "numbers",
)
GET, BY_SERIAL, BY_NUMBER = "get", "lookup(serial)", "lookup(number)"


@dataclass(slots=True)
class PaperworkResult:
    backend: str
    package_bytes: int = 0
    shape: tuple[int, int, int] = (0, 0, 0)  # events, case numbers, documents of a package
    # Per round: mean seconds per case of each part.
    handoff: list[dict[str, float]] = field(default_factory=list)
    lookup: list[dict[str, float]] = field(default_factory=list)
    audit: dict[str, str] = field(default_factory=dict)
    packages: list[bytes] = field(default_factory=list)


def settings(org: str, sign: Any) -> HandoffSettings:
    if sign is None:
        return HandoffSettings(org_id=org)
    if org == CENTRE:
        return HandoffSettings(org_id=org, signing_key=sign)
    return HandoffSettings(
        org_id=org, trusted_keys={CENTRE: sign.public_key()}, require_signature=True
    )


def handoff_round(
    sender: Engine, receiver: Engine, case_ids: Sequence[int], result: PaperworkResult
) -> dict[str, float]:
    """Per case: the plain export, the handoff's export and file, its import into the second
    database, then each check of the import again on its own. Means per case."""
    sums: Counter[str] = Counter()
    gc.collect()
    for case_id in case_ids:
        sums[BASE] += timed(sender.export, case_id)[0]
        seconds, package = timed(sender.export_handoff, case_id, to_org=COURT, at=HANDOFF_AT)
        sums[EXPORT] += seconds
        seconds, raw = timed(package.to_bytes)
        sums[BYTES] += seconds
        seconds, imported = timed(receiver.import_handoff, raw, at=HANDOFF_AT)
        sums[IMPORT] += seconds
        if imported.outcome != "created" or imported.new_events != len(HANDOFF_STEPS) + 1:
            raise CheckFailed(f"case {case_id}: import said {imported}")
        result.packages.append(raw)
        # The import's checks again, one by one (the write is the remainder).
        seconds, (data, _) = timed(load_package, raw)
        sums[LOAD] += seconds
        sums[SCHEMA] += timed(validate, data)[0]
        seconds, contents = timed(parse_package, data)
        sums[PARSE] += seconds
        sums[SEALS] += timed(receiver.handoff.check_seals, data)[0]
        case = contents.case
        seconds, verification = timed(
            verify_case,
            receiver.flow_for(case["region"]),
            0,
            case["state"],
            contents.head,
            contents.events,
            contents.parties,
            contents.claims,
            chain_id=contents.chain_id,
        )
        sums[VERIFY] += seconds
        if not verification.ok:
            raise CheckFailed(f"case {case_id}: {verification.problems}")
        sums[NUMBERS] += timed(check_numbers, contents)[0]
    return {k: v / len(case_ids) for k, v in sums.items()}


def lookup_round(engine: Engine, refs: Sequence[tuple[int, str, str]], r: int) -> dict[str, float]:
    """get, lookup by serial and lookup by case number on each case, in turn (the order rotates
    from case to case). Means per call."""
    sums: Counter[str] = Counter()
    calls: tuple[tuple[str, Callable[[int, str, str], Any]], ...] = (
        (GET, lambda cid, serial, number: engine.get(cid)),
        (BY_SERIAL, lambda cid, serial, number: engine.lookup(serial)),
        (BY_NUMBER, lambda cid, serial, number: engine.lookup(number)),
    )
    gc.collect()
    for i, (case_id, serial, number) in enumerate(refs):
        views = {}
        for k in range(3):
            name, call = calls[(i + r + k) % 3]
            seconds, views[name] = timed(call, case_id, serial, number)
            sums[name] += seconds
        if views[BY_SERIAL] != views[BY_NUMBER] or views[BY_SERIAL].stage_key != views[GET].state:
            raise CheckFailed(f"case {case_id}: the look-ups disagree")
    return {k: v / len(refs) for k, v in sums.items()}


def paperwork_phase(backend: Backend, k: int, repeat: int, sign: Any) -> PaperworkResult:
    """A sender database with k x repeat ten-event cases and an empty receiver; per round, k
    cases handed over; then the look-ups on the sender's cases."""
    result = PaperworkResult(backend.name)
    with ExitStack() as stack:
        sender_url = stack.enter_context(backend.database())
        receiver_url = stack.enter_context(backend.database())
        sender = stack.enter_context(
            # No early-warning rules: from the third case of the same employer on, the repeat
            # employer rule would add an alert event, and every package should be alike.
            Engine(
                sender_url,
                entry_points=False,
                clock=clock,
                handoff=settings(CENTRE, sign),
                early_warning=[],
            )
        )
        receiver = stack.enter_context(
            Engine(receiver_url, entry_points=False, clock=clock, handoff=settings(COURT, sign))
        )
        ids = [handoff_case(sender) for _ in range(k * repeat + 2)]
        warm, spare = ids.pop(), ids.pop()
        handoff_round(sender, receiver, [warm], result)  # warm-up: connections, caches
        result.packages.clear()
        for r in range(repeat):
            result.handoff.append(handoff_round(sender, receiver, ids[k * r : k * (r + 1)], result))
        result.package_bytes = round(statistics.mean(len(p) for p in result.packages))
        shape = json.loads(result.packages[0])
        result.shape = (
            len(shape["history"]),
            len(shape["case"]["attributes"].get("case_numbers", [])),
            len(shape["documents"]),
        )
        packages: list[bytes] = []
        result.audit = {
            BASE: statements(sender, lambda: sender.export(spare)),
            EXPORT: statements(
                sender,
                lambda: packages.append(
                    sender.export_handoff(spare, to_org=COURT, at=HANDOFF_AT).to_bytes()
                ),
            ),
        }
        result.audit[IMPORT] = statements(
            receiver, lambda: receiver.import_handoff(packages[0], at=HANDOFF_AT)
        )
        for raw in result.packages[:3]:
            # The same stage, numbers and next deadline on both sides (the sender's view also
            # says where the case went).
            serial = json.loads(raw)["case"]["serial"]
            mine, theirs = (
                (v.stage_key, v.since, v.numbers, v.next_deadline)
                for v in (receiver.lookup(serial), sender.lookup(serial))
            )
            if mine != theirs:
                raise CheckFailed(f"{serial}: the receiver's view {mine} is not the sender's")
        if verified := receiver.verify_all():
            raise CheckFailed(f"the imported cases do not verify: {verified[:2]}")

        refs = []
        for case_id in [warm, *ids]:
            case = sender.get(case_id)
            number = case.number("arbitration")
            if number is None:
                raise CheckFailed(f"case {case_id} has no arbitration number")
            refs.append((case_id, case.serial, number))
        lookup_round(sender, refs[:1], 0)  # warm-up
        for r in range(repeat):
            result.lookup.append(lookup_round(sender, refs, r))
        case_id, serial, number = refs[0]
        result.audit |= {
            GET: statements(sender, lambda: sender.get(case_id)),
            BY_SERIAL: statements(sender, lambda: sender.lookup(serial)),
            BY_NUMBER: statements(sender, lambda: sender.lookup(number)),
        }
    return result


# --- profile -------------------------------------------------------------------------------------

AREAS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    (
        "jsonschema + referencing (schema validation)",
        lambda f: "jsonschema" in f or "referenc" in f,
    ),
    ("SQLAlchemy", lambda f: "sqlalchemy" in f),
    ("database driver (sqlite3 / psycopg)", lambda f: "sqlite3" in f or "psycopg" in f),
    ("mediation_flow", lambda f: "mediation_flow" in f),
    ("json / hashlib / cryptography", lambda f: "json" in f or "hashlib" in f or "crypto" in f),
)


def profile_imports(packages: Sequence[bytes], url: str, sign: Any, out: TextIO) -> None:
    """cProfile of importing the packages into a fresh database: top functions by cumulative
    time and own time by area (builtins counted for their callers)."""
    with Engine(url, entry_points=False, clock=clock, handoff=settings(COURT, sign)) as receiver:
        receiver.import_handoff(packages[0], at=HANDOFF_AT)  # warm-up
        profiler = cProfile.Profile()
        profiler.enable()
        for raw in packages[1:]:
            receiver.import_handoff(raw, at=HANDOFF_AT)
        profiler.disable()
    stats = pstats.Stats(profiler)
    raw_stats: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in raw_stats.values())
    count = len(packages) - 1
    print(
        f"\nProfile of {count} imports (SQLite receiver; {total:.2f} s own time under cProfile), "
        "top 12 by cumulative time:",
        file=out,
    )
    print(f"{'ncalls':>8} {'cumtime':>8} {'ms/import':>9}  function", file=out)
    ranked = sorted(raw_stats.items(), key=lambda item: item[1][3], reverse=True)
    for (filename, line, function), (_, calls, _, ct, _) in ranked[:12]:
        where = filename.rpartition("site-packages/")[2].rpartition("/work/main/")[2]
        label = f"{where}:{line}({function})" if filename != "~" else function
        print(f"{calls:>8} {ct:>8.3f} {ct / count * 1000:>9.2f}  {label}", file=out)

    def area(key: Any) -> str:
        return next((name for name, match in AREAS if match(key[0] + key[2])), "other")

    totals: Counter[str] = Counter()
    for key, (_, _, tt, _, callers) in raw_stats.items():
        if key[0] == "~" and callers:
            for caller, caller_stats in callers.items():
                totals[area(caller)] += caller_stats[2]
        else:
            totals[area(key)] += tt
    print("Own time by area:", file=out)
    for name, seconds in totals.most_common():
        print(f"  {name:<46} {seconds:>6.3f} s {seconds / total:>6.1%}", file=out)


# --- output --------------------------------------------------------------------------------------


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}"


def print_numbering(results: Sequence[NumberingResult], out: TextIO) -> None:
    print(
        f"\n1. Case numbers: accept_arbitration numbered vs not (one command each in turn; "
        f"median us per command; ratio = median of the rounds' time ratios)\n"
        f"{'backend':<10} {'commands':>8} {'numbered':>9} {'plain':>7} {'extra':>6} "
        f"{'ratio':>6} {'range':>9}  statements sel/ins/upd numbered, plain",
        file=out,
    )
    for r in results:
        on, off = median(r.on), median(r.off)
        print(
            f"{r.backend:<10} {len(r.on):>4}+{len(r.off):<4}{us(on):>8} {us(off):>7} "
            f"{us(on - off):>6} {median(r.ratios):>6.2f} {spread(r.ratios):>9}  "
            f"{r.audit[0]}, {r.audit[1]}",
            file=out,
        )


def contention_plan(counts: Sequence[int], sweeps: int) -> list[tuple[int, str, int]]:
    """(sweep, mode, W) of each phase: W=1 in one mode (one process: its prefix is its own
    anyway), any other W in both, which mode goes first alternating between sweeps."""
    plan = []
    for sweep in range(sweeps):
        modes = (OWN, SAME) if sweep % 2 == 0 else (SAME, OWN)
        for w in counts:
            plan += [(sweep, mode, w) for mode in ((SAME,) if w == 1 else modes)]
    return plan


def print_contention(phases: Sequence[ContentionPhase], out: TextIO) -> None:
    """Each phase (vs W=1 and same/own within its sweep), then per W the median of the sweeps'
    same/own ratios."""
    print(
        "\n2. Contention (PostgreSQL): W processes accepting arbitrations at once, one prefix for "
        "all (same) or one each (own); numbers checked gap-free and unique per prefix\n"
        f"{'sweep':>5} {'mode':<5} {'W':>2} {'numbers':>7} {'s':>6} {'numbers/s':>9} "
        f"{'vs W=1':>6} {'same/own':>8} {'cl cpu ms':>9}  pg_stat_activity of the workers' "
        "server processes",
        file=out,
    )
    ratios: dict[int, list[float]] = {}
    for p in phases:
        group = [q for q in phases if q.sweep == p.sweep]
        base = min(group, key=lambda q: q.workers).rate
        own = next((q.rate for q in group if q.mode == OWN and q.workers == p.workers), None)
        ratio = ""
        if p.mode == SAME and own is not None:
            ratios.setdefault(p.workers, []).append(p.rate / own)
            ratio = f"{p.rate / own:.2f}"
        total = sum(p.samples.values())
        shares = ", ".join(f"{k} {v / total:.0%}" for k, v in p.samples.most_common(4))
        print(
            f"{p.sweep + 1:>5} {p.mode:<5} {p.workers:>2} {p.numbers:>7} {p.seconds:>6.2f} "
            f"{p.rate:>9.0f} {p.rate / base:>6.2f} {ratio:>8} {p.cpu / p.numbers * 1000:>9.2f}  "
            f"{shares or '-'}",
            file=out,
        )
    for w, values in ratios.items():
        print(
            f"same/own at W={w}: {median(values):.2f}"
            + (
                f" (median of {len(values)} sweeps, range {spread(values)})"
                if len(values) > 1
                else ""
            ),
            file=out,
        )


def medians(rounds: Sequence[dict[str, float]]) -> dict[str, float]:
    return {key: median([r[key] for r in rounds]) for key in rounds[0]}


def print_handoff(results: Sequence[PaperworkResult], out: TextIO) -> None:
    first = results[0]
    events, numbers, documents = first.shape
    print(
        f"\n3. Handoff: a case of {events} events, {numbers} case numbers, {documents} document(s) "
        f"(package {first.package_bytes / 1000:.1f} kB) exported and imported into a second "
        "database of the same backend, against Engine.export; median over the rounds of the mean "
        "ms per case",
        file=out,
    )
    rows: list[tuple[str, Callable[[dict[str, float]], float]]] = [
        ("export (baseline: Engine.export)", lambda m: m[BASE]),
        ("export_handoff", lambda m: m[EXPORT]),
        ("to_bytes (the file)", lambda m: m[BYTES]),
        ("import_handoff", lambda m: m[IMPORT]),
        ("  load (JSON, canonical form)", lambda m: m[LOAD]),
        ("  parse_package", lambda m: m[PARSE]),
        ("    of which JSON Schema validation", lambda m: m[SCHEMA]),
        ("  digest (+ signature)", lambda m: m[SEALS]),
        ("  chain verification + replay", lambda m: m[VERIFY]),
        ("  case numbers", lambda m: m[NUMBERS]),
        (
            "  write and the rest (remainder)",
            lambda m: m[IMPORT] - m[LOAD] - m[PARSE] - m[SEALS] - m[VERIFY] - m[NUMBERS],
        ),
    ]
    mids = [medians(r.handoff) for r in results]
    print(f"{'':<34}" + "".join(f" {r.backend:>10} {'share':>6}" for r in results), file=out)
    for label, value in rows:
        cells = ""
        for m in mids:
            share = f"{value(m) / m[IMPORT]:.0%}" if label.startswith("  ") else ""
            cells += f" {value(m) * 1000:>10.2f} {share:>6}"
        print(f"{label:<34}{cells}", file=out)
    for r in results:
        whole = [(h[EXPORT] + h[BYTES] + h[IMPORT]) / h[BASE] for h in r.handoff]
        export = [h[EXPORT] / h[BASE] for h in r.handoff]
        schema_share = [h[SCHEMA] / h[IMPORT] for h in r.handoff]
        print(
            f"{r.backend}: ratio (export_handoff + to_bytes + import_handoff) / export "
            f"{median(whole):.2f} (range {spread(whole)}); export_handoff / export "
            f"{median(export):.2f}; schema validation {median(schema_share):.0%} of the import; "
            f"statements sel/ins/upd: export {r.audit[BASE]}, export_handoff {r.audit[EXPORT]}, "
            f"import_handoff {r.audit[IMPORT]}",
            file=out,
        )


def print_lookup(results: Sequence[PaperworkResult], out: TextIO) -> None:
    print(
        "\n4. Look-up: on the handoff's sender (ten-event cases), each call in turn on each case; "
        "median over the rounds of the mean us per call",
        file=out,
    )
    print(
        f"{'backend':<10} {'get':>6} {'by serial':>9} {'by number':>9} {'ratio serial':>12} "
        f"{'ratio number':>12}  statements sel/ins/upd get, serial, number",
        file=out,
    )
    for r in results:
        m = medians(r.lookup)
        serial = [x[BY_SERIAL] / x[GET] for x in r.lookup]
        number = [x[BY_NUMBER] / x[GET] for x in r.lookup]
        print(
            f"{r.backend:<10} {us(m[GET]):>6} {us(m[BY_SERIAL]):>9} {us(m[BY_NUMBER]):>9} "
            f"{median(serial):>5.2f} {spread(serial):>6} {median(number):>5.2f} "
            f"{spread(number):>6}  {r.audit[GET]}, {r.audit[BY_SERIAL]}, {r.audit[BY_NUMBER]}",
            file=out,
        )


# --- main ----------------------------------------------------------------------------------------


def counts_list(value: str) -> tuple[int, ...]:
    counts = sorted({int(x) for x in value.split(",") if x.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of worker counts >= 1")
    return tuple(counts)


SECTIONS = ("numbering", "contention", "handoff")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--cases", type=int, default=100, help="1: commands per side and round (default 100)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="rounds of 1, 3 and 4 (default 3)")
    parser.add_argument(
        "--numbers",
        type=int,
        default=400,
        help="2: numbers issued per contention phase, over all workers (default 400)",
    )
    parser.add_argument(
        "--workers", type=counts_list, default=(1, 2, 4), help="2: worker counts (default 1,2,4)"
    )
    parser.add_argument(
        "--contention-repeat",
        type=int,
        default=1,
        help="2: sweeps over the worker counts; the order of the modes alternates (default 1)",
    )
    parser.add_argument(
        "--handoff-cases", type=int, default=20, help="3: cases handed over per round (default 20)"
    )
    parser.add_argument("--sign", action="store_true", help="3: sign the packages (Ed25519)")
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help="comma-separated among numbering, contention, handoff (handoff includes the "
        "look-ups; default all)",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated, among sqlite and postgresql (default both)",
    )
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help=f"PostgreSQL server (default $MEDIATION_FLOW_PG_URL or {DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--sample-ms",
        type=float,
        default=20.0,
        help="2: sample pg_stat_activity every MS (default 20; 0: off)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="3: cProfile of the imports (SQLite receiver)"
    )
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if not backends or set(backends) - {"sqlite", "postgresql"}:
        parser.error("--backends takes sqlite and/or postgresql")
    if not sections or set(sections) - set(SECTIONS):
        parser.error(f"--sections takes {', '.join(SECTIONS)}")
    if min(
        args.cases, args.repeat, args.handoff_cases, args.contention_repeat
    ) < 1 or args.numbers < max(args.workers):
        parser.error("sizes must be at least 1, --numbers at least the largest worker count")

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds: workers stopped, files and schemas removed

    signal.signal(signal.SIGTERM, stop)
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole run
    configure_json_logging(sink)  # as bench_engine: rendered as JSON, into the null device
    out = sys.stdout
    begun = time.monotonic()
    pg: Postgres | None = None
    sign = None
    if args.sign:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        sign = Ed25519PrivateKey.generate()
    try:
        if "postgresql" in backends:
            try:
                pg = Postgres.connect(args.pg_url)
            except Exception as exc:
                print(
                    f"PostgreSQL not reachable at {args.pg_url} ({type(exc).__name__}: {exc}); "
                    "pass --backends sqlite to run without it",
                    file=sys.stderr,
                )
                return 2
        print("mediation_flow: case numbers, handoff packages, look-up", file=out)
        machine_facts(pg, out)
        print(
            "SQLite: a file in WAL mode (synchronous=NORMAL); PostgreSQL: a fresh schema per "
            "database. Logging: JSON into os.devnull, as bench_engine. Every figure is a ratio "
            "of two things measured in this run.",
            file=out,
        )
        with workspace() as root:
            chosen: list[Backend] = []
            for name in backends:
                if name == "sqlite":
                    chosen.append(sqlite_backend(root))
                elif pg is not None:
                    chosen.append(Backend(name, pg.database, pg))
            if "numbering" in sections:
                started = time.monotonic()
                numbering = [numbering_phase(b, args.cases, args.repeat) for b in chosen]
                print_numbering(numbering, out)
                print(f"(section 1 took {time.monotonic() - started:.0f} s)", file=out)
                out.flush()
            if "contention" in sections and pg is not None:
                ctx = multiprocessing.get_context("spawn")
                plan = contention_plan(args.workers, args.contention_repeat)
                started = time.monotonic()
                with pool(ctx, max(args.workers)) as workers:
                    phases = [
                        contention_phase(workers, pg, sweep, mode, w, args.numbers, args.sample_ms)
                        for sweep, mode, w in plan
                    ]
                print_contention(phases, out)
                print(f"(section 2 took {time.monotonic() - started:.0f} s)", file=out)
                out.flush()
            if "handoff" in sections:
                started = time.monotonic()
                paperwork = [
                    paperwork_phase(b, args.handoff_cases, args.repeat, sign) for b in chosen
                ]
                print_handoff(paperwork, out)
                print_lookup(paperwork, out)
                print(f"(sections 3 and 4 took {time.monotonic() - started:.0f} s)", file=out)
                if args.profile:
                    profile_imports(
                        paperwork[0].packages, f"sqlite:///{root / 'profile.db'}", sign, out
                    )
        print(f"\nRun took {time.monotonic() - begun:.0f} s.", file=out)
    except CheckFailed as exc:
        print(f"\nCHECK FAILED: {exc}", file=out)
        return 1
    finally:
        if pg is not None:
            pg.close()
        sink.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
