"""Benchmark: transitions per second with 1, 2 and 4 worker processes, SQLite and PostgreSQL.

For each backend and worker count W, N cases are opened (not timed), then W processes (spawned,
each with its own Engine) fire the seven triggers of ``bench_engine.py`` on their own disjoint
share of the cases, round-robin within the share, from a common start signal to the last finish.
SQLite is a file in WAL mode in a temporary directory; PostgreSQL gets a fresh schema per phase,
dropped afterwards. ``--shared`` adds a contended mode: every worker on every case, in the same
order, each firing the next legal trigger and counting the conflicts. Read the ratios within one
run (speed-up against the fewest workers on the same backend): machines are shared and noisy.

Run ``python benchmarks/bench_workers.py --help``; see ``benchmarks/README.md``. Not part of the
test suite.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import platform
import queue
import signal
import sqlite3
import statistics
import sys
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import sqlalchemy
from bench_engine import OPENED_AT, STEPS, make_intake, workspace
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from mediation_flow import Engine, configure_json_logging
from mediation_flow.errors import (
    ConcurrentUpdate,
    DatabaseBusy,
    GuardFailed,
    IllegalTransition,
    InvalidData,
)
from mediation_flow.storage.tables import metadata

if TYPE_CHECKING:
    from multiprocessing.context import SpawnContext, SpawnProcess
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

    import psycopg

DEFAULT_PG_URL = os.environ.get(
    "MEDIATION_FLOW_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DISJOINT, SHARED = "disjoint", "shared"
#: Disjoint mode: attempts of one command (ConcurrentUpdate / DatabaseBusy) before its case is
#: given up. With disjoint shares no attempt should ever fail.
RETRIES = 5
#: PostgreSQL: a statement stuck on a lock fails after this instead of hanging the run.
STATEMENT_TIMEOUT_MS = 60_000
#: Seconds the workers get to start (import, connect, warm up) and to report after the cap.
STARTUP_TIMEOUT = 180.0
REPORT_GRACE = 120.0

CASES = metadata.tables["mf_case"]
EVENTS = metadata.tables["mf_event"]
#: Where each state sits in the seven steps: the index of the step it is the source of.
STEP_OF_STATE = {step.source: i for i, step in enumerate(STEPS)} | {STEPS[-1].dest: len(STEPS)}

T = TypeVar("T")


# --- measurements of a process --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sched:
    """Seconds a process spent on a CPU and waiting for one (in a run queue); Linux's
    ``/proc/PID/schedstat``. The rest of its wall time it was off-CPU: waiting on a socket,
    a lock, the disk, or for work."""

    cpu: float
    runq: float

    @classmethod
    def read(cls, pid: int | str = "self") -> Sched | None:
        try:
            on_cpu, waiting, _ = Path(f"/proc/{pid}/schedstat").read_text().split()
        except (OSError, ValueError):
            return None
        return cls(int(on_cpu) / 1e9, int(waiting) / 1e9)

    def __sub__(self, other: Sched) -> Sched:
        return Sched(self.cpu - other.cpu, self.runq - other.runq)

    def __add__(self, other: Sched) -> Sched:
        return Sched(self.cpu + other.cpu, self.runq + other.runq)


@dataclass(frozen=True, slots=True)
class MachineCpu:
    """The machine's CPU counters (``/proc/stat``, in clock ticks): all, busy and stolen."""

    total: int
    busy: int
    steal: int

    @classmethod
    def read(cls) -> MachineCpu | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(x) for x in f.readline().split()[1:9]]
        except (OSError, ValueError):
            return None
        user, nice, system, _idle, _iowait, irq, softirq, steal = fields
        return cls(sum(fields), user + nice + system + irq + softirq, steal)


# --- the workers ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Counts:
    transitions: int = 0  # fires that were committed
    attempts: int = 0
    conflicts: int = 0  # ConcurrentUpdate: the case changed between the read and the write
    busy: int = 0  # DatabaseBusy: SQLite stayed locked past the busy timeout
    stale: int = 0  # shared mode: the case had moved on before the worker read it
    torn: int = 0  # shared mode: a guard refused on a case that had moved on (see run_shared)
    given_up: int = 0  # disjoint mode: cases dropped after RETRIES failed attempts

    def __add__(self, other: Counts) -> Counts:
        return Counts(*(getattr(self, f) + getattr(other, f) for f in Counts.__dataclass_fields__))


@dataclass(frozen=True, slots=True)
class Job:
    index: int
    url: str
    mode: str
    cases: tuple[int, ...]
    warmup_case: int
    cap: float


@dataclass(frozen=True, slots=True)
class Ready:
    index: int


@dataclass(frozen=True, slots=True)
class Report:
    index: int
    counts: Counts
    started: float  # time.monotonic(): system-wide on Linux and macOS
    finished: float
    capped: bool
    cpu: float  # time.process_time() over the run
    sched: Sched | None


@dataclass(frozen=True, slots=True)
class Failure:
    index: int
    error: str


def worker_engine(url: str) -> Engine:
    """A worker's engine: no entry-point plugins (the seven steps follow the national flow) and
    the schema already there. (On PostgreSQL the statement timeout is in the URL's ``options``:
    ``Engine(statement_timeout_ms=...)`` replaces the URL's ``options``, search_path included.)"""
    # No case numbers, so that the figures stay those of the transitions alone (all cases are
    # in one region, so numbers would queue on one counter: bench_paperwork.py measures that).
    return Engine(
        url,
        clock=lambda: OPENED_AT,
        entry_points=False,
        create_schema=False,
        national_numbering=False,
    )


def fire_all(engine: Engine, case_id: int) -> None:
    for step in STEPS:
        engine.fire(case_id, step.trigger, data=step.data, at=step.at)


def run_disjoint(engine: Engine, cases: Sequence[int], deadline: float) -> tuple[Counts, bool]:
    """The seven steps round-robin over this worker's own cases (step 1 on each, then step 2
    ...), as in ``bench_engine``. A failed attempt is counted and retried."""
    counts = Counts()
    live = list(cases)
    for step in STEPS:
        for case_id in tuple(live):
            if time.monotonic() >= deadline:
                return counts, True
            for _ in range(RETRIES):
                counts.attempts += 1
                try:
                    engine.fire(case_id, step.trigger, data=step.data, at=step.at)
                except ConcurrentUpdate:
                    counts.conflicts += 1
                except DatabaseBusy:
                    counts.busy += 1
                else:
                    counts.transitions += 1
                    break
            else:
                counts.given_up += 1
                live.remove(case_id)
    return counts, False


def run_shared(engine: Engine, cases: Sequence[int], deadline: float) -> tuple[Counts, bool]:
    """Every worker passes over all the cases in the same order, firing on each the step it
    believes comes next, until every case is done. Losing a race shows as ``ConcurrentUpdate``
    (another worker wrote the case between this one's read and write: nothing written) or as a
    stale attempt (the case had already moved on when this worker read it). A third way is
    counted as ``torn``: a guard refuses on a case another worker has just changed, because the
    command read the case row and its deadlines from different commits (PostgreSQL, READ
    COMMITTED: each statement sees the latest commit)."""
    counts = Counts()
    position = dict.fromkeys(cases, 0)
    pending = list(cases)
    while pending:
        still: list[int] = []
        for case_id in pending:
            if time.monotonic() >= deadline:
                return counts, True
            step = STEPS[position[case_id]]
            counts.attempts += 1
            try:
                engine.fire(case_id, step.trigger, data=step.data, at=step.at)
            except ConcurrentUpdate:
                counts.conflicts += 1
                position[case_id] += 1  # most likely the winner fired the same step
            except IllegalTransition as exc:
                counts.stale += 1
                position[case_id] = STEP_OF_STATE[exc.state]
            except InvalidData as exc:
                # An older step's `at` falls before the case's last event: it moved on further.
                if exc.field != "at":
                    raise
                counts.stale += 1
                position[case_id] = STEP_OF_STATE[engine.get(case_id).state]
            except GuardFailed:
                now = STEP_OF_STATE[engine.get(case_id).state]
                if now == position[case_id]:
                    raise  # a real refusal: the workload no longer fits the flow
                counts.torn += 1
                position[case_id] = now
            except DatabaseBusy:
                counts.busy += 1
            else:
                counts.transitions += 1
                position[case_id] += 1
            if position[case_id] < len(STEPS):
                still.append(case_id)
        pending = still
    return counts, False


def worker(jobs: Queue[Job], results: Queue[object], go: Event, release: Event) -> None:
    """A worker process: take a job, warm up on a case of its own, say ready, wait for the
    start signal, run, report; then keep its connection until the parent has read the server's
    counters."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops its workers itself
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole process
    configure_json_logging(sink)  # as bench_engine: rendered for real, into the null device
    index = -1
    try:
        job = jobs.get(timeout=STARTUP_TIMEOUT)
        index = job.index
        with worker_engine(job.url) as engine:
            # Connect, fill SQLAlchemy's statement cache, build the flow machine: not timed.
            fire_all(engine, job.warmup_case)
            gc.collect()
            results.put(Ready(index))
            if not go.wait(timeout=STARTUP_TIMEOUT):
                raise TimeoutError("no start signal")
            started, cpu, sched = time.monotonic(), time.process_time(), Sched.read()
            run = run_shared if job.mode == SHARED else run_disjoint
            counts, capped = run(engine, job.cases, started + job.cap)
            finished, cpu = time.monotonic(), time.process_time() - cpu
            after = Sched.read()
            used = after - sched if after is not None and sched is not None else None
            results.put(Report(index, counts, started, finished, capped, cpu, used))
            release.wait(timeout=STARTUP_TIMEOUT)
    except Exception:
        results.put(Failure(index, traceback.format_exc()))
    finally:
        sink.close()


# --- databases ------------------------------------------------------------------------------------


def sa_url(url: str) -> str:
    """``url`` with the psycopg 3 driver for PostgreSQL, as the engine does."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_url(url: str) -> str:
    """``url`` as psycopg takes it (no SQLAlchemy driver name)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def prepare(url: str, n: int, warmups: int) -> tuple[list[int], list[int]]:
    """Create the schema and open ``n`` cases, then one warm-up case per worker (not timed)."""
    intake = make_intake()
    with Engine(url, clock=lambda: OPENED_AT, entry_points=False) as engine:
        ids = [engine.open_case(intake, at=OPENED_AT).id for _ in range(n + warmups)]
    return ids[:n], ids[n:]


def check_writes(url: str, ids: Sequence[int], counts: Counts, complete: bool) -> str | None:
    """None if the database holds exactly the transitions the workers counted (one event each,
    besides the opening event) and, for a complete run, every case is done; else what differs."""
    sa = create_engine(sa_url(url))
    try:
        with sa.connect() as conn:
            events = conn.execute(
                select(func.count())
                .select_from(EVENTS)
                # Early-warning alerts recorded at intake are events, not transitions.
                .where(EVENTS.c.case_id.in_(ids), EVENTS.c.trigger != "early_warning")
            ).scalar_one()
            done = conn.execute(
                select(func.count())
                .select_from(CASES)
                .where(CASES.c.id.in_(ids), CASES.c.state == STEPS[-1].dest)
            ).scalar_one()
    finally:
        sa.dispose()
    if events != len(ids) + counts.transitions:
        return f"{events - len(ids)} transitions stored, workers counted {counts.transitions}"
    if complete and counts.given_up == 0 and done != len(ids):
        return f"{len(ids) - done} of {len(ids)} cases not done"
    return None


@dataclass(slots=True)
class Postgres:
    """The PostgreSQL side: an admin connection (schemas, pg_stat_activity) on the server."""

    base_url: str
    admin: psycopg.Connection[tuple[Any, ...]]
    local: bool  # the server's processes are visible in this machine's /proc
    schemas: list[str] = field(default_factory=list)  # created and not dropped yet

    @classmethod
    def connect(cls, base_url: str) -> Postgres:
        import psycopg

        admin = psycopg.connect(libpq_url(base_url), autocommit=True, connect_timeout=5)
        pid = admin.execute("SELECT pg_backend_pid()").fetchone()
        comm = Path(f"/proc/{pid[0] if pid else 0}/comm")
        local = comm.exists() and comm.read_text().strip() == "postgres"
        return cls(base_url, admin, local)

    def setting(self, name: str) -> str:
        row = self.admin.execute("SELECT current_setting(%s)", (name,)).fetchone()
        return str(row[0]) if row else "?"

    @contextmanager
    def database(self) -> Iterator[str]:
        """A fresh schema (dropped afterwards) and the URL of it; the URL's application name
        is the schema's name, which tells this phase's server processes apart."""
        schema = f"bench_{uuid.uuid4().hex[:12]}"
        self.admin.execute(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        sep = "&" if "?" in self.base_url else "?"
        options = f"-csearch_path%3D{schema}%20-cstatement_timeout%3D{STATEMENT_TIMEOUT_MS}"
        try:
            yield f"{self.base_url}{sep}options={options}&application_name={schema}"
        finally:
            self.drop(schema)

    def drop(self, schema: str) -> None:
        try:
            self.admin.execute("SET lock_timeout = '30s'")
            self.admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.schemas.remove(schema)
        except Exception as exc:
            print(f"WARNING: could not drop schema {schema}: {exc}", file=sys.stderr)

    def close(self) -> None:
        for schema in tuple(self.schemas):
            self.drop(schema)
        self.admin.close()

    def server_pids(self, url: str) -> list[int]:
        name = make_url(url).query.get("application_name")
        rows = self.admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (name,)
        ).fetchall()
        return [int(r[0]) for r in rows]

    def sample(self, url: str, into: Counter[str]) -> None:
        """One look at what the phase's server processes are doing."""
        name = make_url(url).query.get("application_name")
        rows = self.admin.execute(
            "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE application_name = %s",
            (name,),
        ).fetchall()
        for state, kind, event in rows:
            if state != "active":
                into["client"] += 1  # idle (in transaction): waiting for the Python worker
            elif kind is None:
                into["cpu"] += 1  # running, or runnable and waiting for a core
            else:
                into[f"{kind}:{event}"] += 1


@dataclass(frozen=True, slots=True)
class Backend:
    name: str
    database: Callable[[], AbstractContextManager[str]]
    postgres: Postgres | None = None


def sqlite_backend(root: Path) -> Backend:
    @contextmanager
    def database() -> Iterator[str]:
        path = root / f"workers-{uuid.uuid4().hex[:8]}.db"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    return Backend("sqlite", database)


# --- a phase --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    backend: str
    mode: str
    workers: int
    sweep: int
    cases: int
    counts: Counts
    seconds: float  # from the start signal to the last finish
    first_finish: float  # seconds from the start signal to the first worker's finish
    capped: bool
    check: str | None
    client_busy: float  # the workers' own run times, summed
    client_cpu: float
    client: Sched | None  # summed over the workers
    server: Sched | None  # summed over the PostgreSQL server processes of the workers
    machine_cores: float | None  # cores busy on the whole machine during the phase
    steal: float | None  # share of the machine's CPU time stolen by the hypervisor
    samples: Counter[str]

    @property
    def rate(self) -> float:
        return self.counts.transitions / self.seconds

    @property
    def cpu(self) -> float | None:
        """CPU seconds of the workers and (PostgreSQL) their server processes; None if the
        server's are unknown."""
        client = self.client.cpu if self.client is not None else self.client_cpu
        if self.server is not None:
            return client + self.server.cpu
        return client if self.backend == "sqlite" else None

    @property
    def cores(self) -> float | None:
        """Cores these processes used on average over the phase."""
        cpu = self.cpu
        return cpu / self.seconds if cpu is not None else None

    @property
    def cpu_ms(self) -> float | None:
        """Their CPU per transition, in milliseconds."""
        cpu = self.cpu
        return cpu / self.counts.transitions * 1000 if cpu and self.counts.transitions else None


def collect(
    results: Queue[object],
    procs: Sequence[SpawnProcess],
    kind: type[T],
    timeout: float,
    idle: Callable[[], None] = lambda: None,
    poll: float = 0.2,
) -> list[T]:
    """``len(procs)`` messages of ``kind`` from the workers; a worker's failure or death
    raises. ``idle`` runs between polls of the queue (every ``poll`` seconds at most)."""
    deadline = time.monotonic() + timeout
    got: list[T] = []
    while len(got) < len(procs):
        idle()
        try:
            message = results.get(timeout=poll)
        except queue.Empty:
            dead = [p for p in procs if p.exitcode is not None]
            if dead:
                raise RuntimeError(
                    f"worker process {dead[0].pid} exited with {dead[0].exitcode}"
                ) from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"workers did not report within {timeout:.0f} s") from None
            continue
        if isinstance(message, Failure):
            raise RuntimeError(f"worker {message.index} failed:\n{message.error}")
        if not isinstance(message, kind):
            raise RuntimeError(f"unexpected message from a worker: {message!r}")
        got.append(message)
    return got


def sum_sched(values: Sequence[Sched | None]) -> Sched | None:
    if not values or any(v is None for v in values):
        return None
    total = Sched(0.0, 0.0)
    for v in values:
        assert v is not None
        total = total + v
    return total


def run_phase(
    ctx: SpawnContext,
    backend: Backend,
    mode: str,
    workers: int,
    n: int,
    cap: float,
    sample_ms: float,
    sweep: int,
) -> Phase:
    jobs: Queue[Job] = ctx.Queue()
    results: Queue[object] = ctx.Queue()
    go, release = ctx.Event(), ctx.Event()
    procs = [
        ctx.Process(target=worker, args=(jobs, results, go, release), daemon=True)
        for _ in range(workers)
    ]
    with backend.database() as url:
        try:
            for p in procs:
                p.start()  # they import while the cases are opened
            ids, warmups = prepare(url, n, workers)
            for i in range(workers):
                share = ids[i::workers] if mode == DISJOINT else ids
                jobs.put(Job(i, url, mode, tuple(share), warmups[i], cap))
            collect(results, procs, Ready, STARTUP_TIMEOUT)

            pg = backend.postgres
            pids = pg.server_pids(url) if pg is not None and pg.local else []
            server_before = [Sched.read(pid) for pid in pids]
            samples: Counter[str] = Counter()
            idle: Callable[[], None] = lambda: None  # noqa: E731
            poll = 0.2
            if pg is not None and sample_ms > 0:
                idle, poll = (lambda: pg.sample(url, samples)), sample_ms / 1000
            machine_before = MachineCpu.read()
            started = time.monotonic()
            go.set()
            reports = collect(results, procs, Report, cap + REPORT_GRACE, idle, poll)
            machine_after = MachineCpu.read()
            server_after = [Sched.read(pid) for pid in pids]
            release.set()
            for p in procs:
                p.join(timeout=30)
        finally:
            release.set()
            for p in procs:
                if p.is_alive():
                    p.terminate()
                    p.join(timeout=10)
        counts = sum((r.counts for r in reports), Counts())
        capped = any(r.capped for r in reports)
        check = check_writes(url, ids, counts, complete=not capped)
    finished = [r.finished - started for r in reports]
    server: Sched | None = None
    if pids and len(pids) == workers:
        server = sum_sched(
            [
                a - b if a is not None and b is not None else None
                for a, b in zip(server_after, server_before, strict=True)
            ]
        )
    machine_cores = steal = None
    if machine_before is not None and machine_after is not None:
        total = machine_after.total - machine_before.total
        if total > 0:
            cores = os.cpu_count() or 1
            machine_cores = (machine_after.busy - machine_before.busy) / total * cores
            steal = (machine_after.steal - machine_before.steal) / total
    return Phase(
        backend=backend.name,
        mode=mode,
        workers=workers,
        sweep=sweep,
        cases=n,
        counts=counts,
        seconds=max(finished),
        first_finish=min(finished),
        capped=capped,
        check=check,
        client_busy=sum(r.finished - r.started for r in reports),
        client_cpu=sum(r.cpu for r in reports),
        client=sum_sched([r.sched for r in reports]),
        server=server,
        machine_cores=machine_cores,
        steal=steal,
        samples=samples,
    )


# --- output ---------------------------------------------------------------------------------------


def ms(seconds: float, transitions: int) -> str:
    return f"{seconds / transitions * 1000:.2f}"


def detail_header(out: TextIO) -> None:
    print(
        "\nPer phase: where the time went, in ms per transition summed over the processes "
        "(Linux /proc). `latency` = the workers' run time per transition; `cl`/`sv` = the "
        "workers / their PostgreSQL server processes, on a CPU (`cpu`) or runnable but waiting "
        "for one (`runq`); `rest` = the remainder (locks, disk flushes, wake-ups; slightly "
        "negative when server work overlaps the client's). `busy` = cores in use on the machine, "
        "`ours` = by these workers and their server processes, `others` = the rest (other "
        "programs, PostgreSQL's background processes, this script's sampler).",
        file=out,
    )
    print(
        f"{'backend':<10} {'mode':<8} {'W':>2} {'tx':>6} {'s':>6} {'tx/s':>6} {'1st done':>8}"
        f" {'latency':>7} {'cl cpu':>6} {'cl runq':>7} {'sv cpu':>6} {'sv runq':>7} {'rest':>6}"
        f" {'busy':>5} {'ours':>5} {'others':>6} {'steal':>5}",
        file=out,
    )


def detail_row(phase: Phase, out: TextIO) -> None:
    tx = max(phase.counts.transitions, 1)
    latency = phase.client_busy
    client = phase.client or Sched(phase.client_cpu, 0.0)
    parts = [client.cpu, client.runq]
    cells = [ms(client.cpu, tx), ms(client.runq, tx) if phase.client else "?"]
    ours = phase.cpu
    if phase.server is not None:
        parts += [phase.server.cpu, phase.server.runq]
        cells += [ms(phase.server.cpu, tx), ms(phase.server.runq, tx)]
    else:
        cells += ["-", "-"] if phase.backend == "sqlite" else ["?", "?"]
    rest = ms(latency - sum(parts), tx)
    busy = mine = others = "?"
    if ours is not None:
        mine = f"{ours / phase.seconds:.2f}"
    if phase.machine_cores is not None:
        busy = f"{phase.machine_cores:.2f}"
        if ours is not None:
            others = f"{phase.machine_cores - ours / phase.seconds:.2f}"
    steal = f"{phase.steal:.0%}" if phase.steal is not None else "?"
    print(
        f"{phase.backend:<10} {phase.mode:<8} {phase.workers:>2} {phase.counts.transitions:>6}"
        f" {phase.seconds:>6.2f} {phase.rate:>6.0f} {phase.first_finish / phase.seconds:>8.0%}"
        f" {ms(latency, tx):>7} {cells[0]:>6} {cells[1]:>7} {cells[2]:>6} {cells[3]:>7}"
        f" {rest:>6} {busy:>5} {mine:>5} {others:>6} {steal:>5}"
        + (" CAPPED" if phase.capped else "")
        + (f" CHECK FAILED: {phase.check}" if phase.check else ""),
        file=out,
    )
    if phase.samples:
        total = sum(phase.samples.values())
        shares = ", ".join(
            f"{name} {count / total:.0%}" for name, count in phase.samples.most_common(6)
        )
        print(f"{'':<10} pg_stat_activity ({total} samples): {shares}", file=out)


def median_of(values: Sequence[float | None], fmt: str) -> str:
    known = [v for v in values if v is not None]
    return format(statistics.median(known), fmt) if len(known) == len(values) else "?"


def summary(phases: Sequence[Phase], worker_counts: Sequence[int], out: TextIO) -> None:
    """Median tx/s per (backend, mode, W) over the sweeps, and the median of the sweeps'
    speed-ups against the fewest workers, disjoint mode, same backend and sweep. Beside them the
    cores these processes used and their CPU per transition: tx/s = cores / CPU per
    transition, which tells a speed-up bought with a larger share of a busy machine from one
    that uses the CPU better."""
    base = {
        (p.backend, p.sweep): p.rate
        for p in phases
        if p.mode == DISJOINT and p.workers == worker_counts[0]
    }
    sweeps = len({p.sweep for p in phases})
    print(
        f"\n{'backend':<10} {'mode':<8} {'workers':>7} {'tx/s':>7} {'speed-up':>8}"
        + (f" {'range':>11}" if sweeps > 1 else "")
        + f" {'cores':>5} {'cpu ms/tx':>9}"
        f" {'conflicts':>9} {'busy':>5} {'stale':>6} {'torn':>5} {'attempts':>8} {'check':>6}",
        file=out,
    )
    keys = dict.fromkeys((p.backend, p.mode, p.workers) for p in phases)
    for backend, mode, workers in keys:
        group = [p for p in phases if (p.backend, p.mode, p.workers) == (backend, mode, workers)]
        ups = [p.rate / base[(p.backend, p.sweep)] for p in group if (backend, p.sweep) in base]
        counts = sum((p.counts for p in group), Counts())
        up = f"{statistics.median(ups):.2f}" if ups else "?"
        spread = f"{min(ups):.2f}-{max(ups):.2f}" if ups else "?"
        check = "ok" if all(p.check is None for p in group) else "FAILED"
        stale, torn = (counts.stale, counts.torn) if mode == SHARED else ("-", "-")
        print(
            f"{backend:<10} {mode:<8} {workers:>7} "
            f"{statistics.median(p.rate for p in group):>7.0f} {up:>8}"
            + (f" {spread:>11}" if sweeps > 1 else "")
            + f" {median_of([p.cores for p in group], '.2f'):>5}"
            f" {median_of([p.cpu_ms for p in group], '.2f'):>9}"
            f" {counts.conflicts:>9} {counts.busy:>5}"
            f" {stale:>6} {torn:>5} {counts.attempts:>8} {check:>6}",
            file=out,
        )


def machine_facts(pg: Postgres | None, out: TextIO) -> None:
    model = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                "?",
            )
    except OSError:
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    print(
        f"Machine: {os.cpu_count()} cores ({usable} usable), {model}; load average {load}",
        file=out,
    )
    versions = (
        f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, "
        f"SQLite {sqlite3.sqlite_version}"
    )
    if pg is not None:
        import psycopg

        versions += (
            f", psycopg {psycopg.__version__}, PostgreSQL {pg.setting('server_version')} "
            f"(synchronous_commit={pg.setting('synchronous_commit')}, "
            f"fsync={pg.setting('fsync')}"
            + ("" if pg.local else "; server not on this machine: no server CPU figures")
            + ")"
        )
    print(versions, file=out)


# --- main -----------------------------------------------------------------------------------------


def worker_counts(text: str) -> tuple[int, ...]:
    counts = sorted({int(x) for x in text.split(",") if x.strip()})
    if not counts or counts[0] < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of worker counts >= 1")
    return tuple(counts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--cases", type=int, default=300, help="cases per phase (default 300)")
    parser.add_argument(
        "--workers",
        type=worker_counts,
        default=(1, 2, 4),
        help="worker counts, comma-separated (default 1,2,4)",
    )
    parser.add_argument(
        "--seconds-cap",
        type=float,
        default=60.0,
        help="stop a phase's workers after this many seconds and rate what they did (default 60)",
    )
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help=f"PostgreSQL server (default $MEDIATION_FLOW_PG_URL or {DEFAULT_PG_URL})",
    )
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated, among sqlite and postgresql (default both)",
    )
    parser.add_argument(
        "--shared",
        action="store_true",
        help="add the contended mode: every worker on every case (W > 1)",
    )
    parser.add_argument(
        "--shared-cases",
        type=int,
        default=100,
        help="cases per shared-mode phase (default 100: W workers fire up to W times each step)",
    )
    parser.add_argument(
        "--repeat", type=int, default=1, help="sweeps over the worker counts (default 1)"
    )
    parser.add_argument(
        "--sample-ms",
        type=float,
        default=50.0,
        help="PostgreSQL: sample pg_stat_activity every MS during a phase (default 50; 0: off)",
    )
    args = parser.parse_args(argv)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not backends or set(backends) - {"sqlite", "postgresql"}:
        parser.error("--backends takes sqlite and/or postgresql")
    if args.cases < max(args.workers) or args.shared_cases < 1 or args.repeat < 1:
        parser.error("--cases must be at least the largest worker count, --repeat at least 1")
    if args.seconds_cap <= 0:
        parser.error("--seconds-cap must be positive")
    n: int = args.cases
    counts: tuple[int, ...] = args.workers

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # unwinds: workers stopped, files and schemas removed

    signal.signal(signal.SIGTERM, stop)
    # As bench_engine: the engine's per-fire structlog event is rendered as JSON, into the null
    # device (here in each worker process, and in this one for the cases it opens).
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - open for the whole run
    configure_json_logging(sink)
    out = sys.stdout
    begun = time.monotonic()
    pg: Postgres | None = None
    phases: list[Phase] = []
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
        print("mediation_flow: transitions per second with worker processes", file=out)
        machine_facts(pg, out)
        print(
            f"{n} cases x {len(STEPS)} triggers per phase ({n * len(STEPS)} transitions), as "
            "bench_engine; each worker is a spawned process with its own Engine, warmed up on a "
            "case of its own, timed from a common start signal to the last finish. "
            f"Disjoint mode: worker i of W takes cases i, i+W, ... . SQLite: a file in WAL mode "
            "(synchronous=NORMAL); PostgreSQL: a fresh schema per phase. Logging: JSON into "
            "os.devnull, as bench_engine.",
            file=out,
        )
        if args.shared:
            print(
                f"Shared mode: {args.shared_cases} cases; every worker passes over all of them in "
                "the same order, firing the step it believes is next (the worst case: they chase "
                "the same case). Speed-up against disjoint mode with the fewest workers.",
                file=out,
            )
        ctx = multiprocessing.get_context("spawn")
        with workspace() as root:
            chosen: list[Backend] = []
            for name in backends:
                if name == "sqlite":
                    chosen.append(sqlite_backend(root))
                elif pg is not None:
                    chosen.append(Backend(name, pg.database, pg))
            detail_header(out)
            for sweep in range(args.repeat):
                order = counts if sweep % 2 == 0 else tuple(reversed(counts))
                for backend in chosen:
                    plan = [(DISJOINT, w) for w in order]
                    if args.shared:
                        plan += [(SHARED, w) for w in order if w > 1]
                    for mode, w in plan:
                        size = n if mode == DISJOINT else args.shared_cases
                        phase = run_phase(
                            ctx, backend, mode, w, size, args.seconds_cap, args.sample_ms, sweep
                        )
                        phases.append(phase)
                        detail_row(phase, out)
                        out.flush()
        summary(phases, counts, out)
        busy_sqlite = [
            p for p in phases if p.backend == "sqlite" and p.counts.busy and p.mode == DISJOINT
        ]
        if busy_sqlite:
            print(
                "SQLite reported DatabaseBusy with "
                + ", ".join(sorted({f"W={p.workers}" for p in busy_sqlite}))
                + ": its single writer is the known limit (writers queue on the busy timeout).",
                file=out,
            )
        torn = [p for p in phases if p.counts.torn]
        if torn:
            print(
                f"torn: {sum(p.counts.torn for p in torn)} commands ("
                + ", ".join(sorted({f"{p.backend} W={p.workers}" for p in torn}))
                + ") were refused by a guard on a case another worker had just changed: the "
                "engine read the case row and its deadlines from different commits (READ "
                "COMMITTED), so the command failed with GuardFailed, not ConcurrentUpdate "
                "(nothing was written).",
                file=out,
            )
        print(
            "Reading: compare speed-ups within one backend (one run, same machine load); with "
            f"{os.cpu_count()} cores, more workers than cores can only overlap waits, not add "
            "CPU; tx/s = 1000 x cores / (cpu ms/tx): a speed-up comes from using more cores (on a "
            "busy machine, maybe taken from other programs: see `others`) or less CPU per "
            "transition. Errors in disjoint mode should be 0; in shared mode conflicts, stale "
            "and torn attempts are races lost and detected, and `check` says no transition was "
            "lost or doubled.",
            file=out,
        )
        print(f"Run took {time.monotonic() - begun:.0f} s.", file=out)
    finally:
        if pg is not None:
            pg.close()
        sink.close()
    return 1 if any(p.check for p in phases) else 0


if __name__ == "__main__":
    raise SystemExit(main())
