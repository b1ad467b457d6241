"""CPU time per transition of the engine and of the hand-written transitions + ORM baseline,
on bench_engine.py's 7-step workload, in one process: the steadiest figure on a shared machine
(other programs take wall time, not this process's CPU time).

To compare two versions of the library in the same run, alternate processes, each importing
one version (the benchmark scripts of the newer tree for both)::

    for i in 1 2 3; do
        PYTHONPATH=/path/to/older/tree python benchmarks/bench_cpu.py --label before
        python benchmarks/bench_cpu.py --label after
    done
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_engine as bench


def per_transition(run: Callable[[], int]) -> tuple[float, float]:
    """CPU and wall microseconds per transition of ``run``."""
    gc.collect()
    cpu, wall = time.process_time(), time.perf_counter()
    done = run()
    return (time.process_time() - cpu) / done * 1e6, (time.perf_counter() - wall) / done * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--label", default="")
    args = parser.parse_args(argv)
    import mediation_flow

    with bench.workspace() as root:
        ids = bench.prepare(root / "engine.db", args.cases)
        with bench.make_engine(root / "engine.db") as engine:
            engine_cpu, engine_wall = per_transition(lambda: bench.engine_run(engine, ids))
        sa, orm_ids = bench.orm_prepare(root / "orm.db", args.cases)
        try:
            orm_cpu, orm_wall = per_transition(lambda: bench.orm_run(sa, orm_ids))
        finally:
            sa.dispose()
    print(
        f"{args.label or Path(mediation_flow.__file__).parent}: engine {engine_cpu:.0f} us/tx "
        f"CPU ({engine_wall:.0f} wall), ORM {orm_cpu:.0f} us/tx CPU ({orm_wall:.0f} wall); "
        f"engine rate / ORM rate: {orm_cpu / engine_cpu:.3f} by CPU, "
        f"{orm_wall / engine_wall:.3f} by wall; open_case {bench.OPEN_SECONDS[-1] * 1000:.2f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
