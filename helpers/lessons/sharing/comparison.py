"""Lesson 05, section 2: every sharing strategy through the same task, side by side.

Introduced in 05_sharing_memory.ipynb (claim C7). compare() gives each strategy of
helpers.lessons.sharing.stores the same job (workers read shared data, then write it) and
measures throughput, memory (PSS), start-up cost and whether the parent sees the writes.

    compare()                            for each strategy, under measure():
      store = Strategy.create(n)           parent fills 0..n-1
      Pool(initializer=work.attach)   ->   workers attach, meet at a barrier, then
      pool.starmap(work.read_and_write)    read all, read items, write items (MARK)
      parent checks a few written items    ... destroy(): nothing left behind

The body that runs the pool is run_strategy(); rows and findings are built afterwards.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass, field

from ...machine import (
    memory_budget_bytes,
    mp_context,
    require_size,
    require_workers,
    small_machine,
    start_method,
    usable_cores,
)
from ...probes import Measurement, measure
from ...results import Result
from ...runner import process_pool, wait
from ...servers.redis import find_redis_server
from ...units import MiB
from ...workloads import sharing as work
from . import charts
from . import stores as sharing

DEFAULT_STRATEGIES = ("fork", "array", "rawarray", "shared_memory", "memmap", "manager_list",
                      "manager_dict", "manager_namespace", "redis")
TIMEOUT = 120.0  # seconds for one strategy's workers; far above what any of them needs


def default_size_mb() -> int:
    """The lesson's data size in MiB: 16, or 10 on a small machine (HELPERS_SMALL, Binder)."""
    return 10 if small_machine() else 16


def require_seconds(seconds: object) -> float:
    """seconds as a float if it is a number in (0, 10], else ValueError saying what is allowed."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 10:
        raise ValueError(f"seconds per phase must be a number from 0 to 10, got {seconds!r}")
    return float(seconds)


def strategies() -> Result:
    """The strategies side by side: what each can share, its reach, its clean-up (no measurement)."""
    return Result(
        title="The sharing strategies in helpers.lessons.sharing.stores",
        params={"Redis server": find_redis_server() or "none found"},
        rows=sharing.describe(),
    )


@dataclass
class StrategyRun:
    """One strategy through the common task. Rates are per second, summed over workers."""

    name: str
    skipped: str = ""
    start_method: str = ""
    create_s: float = 0.0
    attach_s: float = 0.0
    bulk_mib_s: float | None = None
    reads_per_s: float | None = None
    writes_per_s: float | None = None
    writes_seen: int | None = None  # of the written items the parent looked at
    writes_checked: int = 0
    memory_bytes: int | None = None  # PSS growth beyond the reference run (the workers)
    measurement: Measurement | None = field(default=None, repr=False)

    @property
    def startup_s(self) -> float:
        return self.create_s + self.attach_s


@dataclass
class CompareResult(Result):
    """Each strategy's throughput, memory and start-up cost on the same task."""

    size_bytes: int = 0
    workers: int = 0
    runs: list[StrategyRun] = field(default_factory=list)
    # start method -> PSS growth of the same task on 8 KiB: the workers' own cost
    reference_bytes: dict[str, int] = field(default_factory=dict)

    def run(self, name: str) -> StrategyRun:
        """The run of strategy name (ValueError if it was not part of this comparison)."""
        for r in self.runs:
            if r.name == name:
                return r
        raise ValueError(f"{name!r} was not compared here; compared: {[r.name for r in self.runs]}")

    @property
    def measured(self) -> list[StrategyRun]:
        return [r for r in self.runs if not r.skipped]

    def ratio(self, fast: str, slow: str) -> float | None:
        """How many times fast's item reads per second exceed slow's (None if either was skipped)."""
        a, b = self.run(fast).reads_per_s, self.run(slow).reads_per_s
        return None if not a or not b else a / b

    def plot(self):
        return [self.plot_throughput(), self.plot_memory(), self.plot_startup()]

    def plot_throughput(self):
        return charts.throughput(self.measured, workers=self.workers)

    def plot_memory(self):
        return charts.memory(self.measured, self.size_bytes, workers=self.workers)

    def plot_startup(self):
        return charts.startup(self.measured)


REFERENCE_ITEMS = 1024  # the reference run: the same task on 8 KiB, to subtract the workers
HOLD = 0.2  # seconds the workers stay idle at the end, so the (low-priority) sampler sees them


def run_strategy(name: str, n: int, workers: int, seconds: float, write: bool, interval: float,
                 timeout: float, method: str) -> StrategyRun:
    """One strategy through the common task, in workers started by `method`."""
    cls = sharing.strategy(name)
    ctx = mp_context(method)
    barrier, lock = ctx.Barrier(workers), ctx.Lock()
    store = None
    try:
        with measure(interval=interval) as m:
            started = time.perf_counter()
            store = cls.create(n, ctx)
            create_s = time.perf_counter() - started
            with process_pool(workers, start_method=method, initializer=work.attach,
                              initargs=(name, store.handle(), barrier, lock)) as pool:
                tasks = [(seconds, seed, write, HOLD) for seed in range(workers)]
                outs = wait(pool.starmap_async(work.read_and_write, tasks), timeout)
        # after the measurement, so the parent's look does not count in the memory peak
        sample = [i for out in outs for i in out["written"]]
        seen = sum(v == work.MARK for v in store.get_many(sample)) if write else None
    finally:
        if store is not None:
            store.destroy()
    size = n * sharing.ITEM_BYTES
    return StrategyRun(
        name=name, start_method=method, create_s=create_s,
        attach_s=statistics.median(o["attach_s"] for o in outs),
        bulk_mib_s=size * workers / MiB / max(o["bulk_s"] for o in outs),
        reads_per_s=sum(o["reads"] / o["read_s"] for o in outs),
        writes_per_s=sum(o["writes"] / o["write_s"] for o in outs) if write else None,
        writes_seen=seen, writes_checked=len(sample), memory_bytes=_growth_while_working(m),
        measurement=m,
    )


def _growth_while_working(m: Measurement) -> int:
    """Peak PSS total while every worker held its store, idle, minus the total before the block.

    While processes run, one tick of the sampler is not one instant: it reads the processes
    one after another, and on a busy core (one core, or a machine shared with other work) it
    is preempted between them, so a tick can count a page in one process before the others
    mapped it, and again in them. In the workers' final idle hold the state is settled and
    the (low-priority) sampler gets its turn, so the peak is taken there; the whole span of
    the tasks is the fallback when no tick fell inside the hold.
    """
    metric = m.total_metric
    if not m.tasks:
        return m.growth(metric)
    holds = [t for t in m.tasks if t.task == "hold"]
    spans = [(max(t.start for t in holds), min(t.end for t in holds))] if holds else []
    spans.append((min(t.start for t in m.tasks), max(t.end for t in m.tasks)))
    for start, end in spans:
        during = [total for t, total in m.totals(metric) if start <= t <= end]
        if during:
            return max(during) - m.baseline(metric)
    return m.peak(metric) - m.baseline(metric)


def compare(size_mb: float | None = None,
            strategies: tuple[str, ...] | list[str] = DEFAULT_STRATEGIES, *, workers: int = 2,
            seconds: float = 0.3, write: bool = True, interval: float = 0.03,
            timeout: float = TIMEOUT) -> CompareResult:
    """Put each strategy through the same task: workers read shared data, then write it.

    size_mb: the data's size (default: default_size_mb(); past the memory budget raises
    ValueError). Each worker reads all the data once, then random items one at a time for
    `seconds`, then (if write) writes random items for `seconds`. Strategies that cannot run
    here (no fork, no Redis, over the memory budget) get a row that says why.
    """
    names = sharing.require_strategies(strategies)
    require_workers(workers)
    seconds = require_seconds(seconds)
    size_mb = default_size_mb() if size_mb is None else size_mb
    if isinstance(size_mb, bool) or not isinstance(size_mb, (int, float)) or size_mb <= 0:
        raise ValueError(f"size_mb must be a positive number of MiB, got {size_mb!r}")
    size = require_size(int(size_mb * MiB), what="the shared data")
    n = size // sharing.ITEM_BYTES
    if any(sharing.strategy(name).name == "value" for name in names):
        raise ValueError("'value' holds one number, not an array: compare it in lost_updates()")
    result = CompareResult(
        title=f"{workers} workers share {size / MiB:.0f} MiB: every strategy, the same task",
        params={"size_mb": size_mb, "strategies": names, "workers": workers, "seconds": seconds,
                "write": write},
        size_bytes=size,
        workers=workers,
    )
    budget = memory_budget_bytes()
    _start_helpers({sharing.strategy(name).start_method or start_method() for name in names})
    for name in names:
        cls = sharing.strategy(name)
        need = cls.footprint(size, workers)
        reason = cls.unavailable()
        if not reason and need > budget:
            reason = (f"needs about {need / MiB:.0f} MiB here, over this machine's memory budget "
                      f"of {budget / MiB:.0f} MiB: try a smaller size_mb")
        if reason:
            result.runs.append(StrategyRun(name=name, skipped=reason))
            continue
        method = cls.start_method or start_method()
        if method not in result.reference_bytes:
            reference = run_strategy("rawarray", REFERENCE_ITEMS, workers, seconds, write,
                                     interval, timeout, method)
            result.reference_bytes[method] = reference.memory_bytes
        run = run_strategy(name, n, workers, seconds, write, interval, timeout, method)
        run.memory_bytes = max(0, run.memory_bytes - result.reference_bytes[method])
        result.runs.append(run)
    result.rows = [_row(r, size) for r in result.runs]
    result.findings = _compare_findings(result)
    return result


def _start_helpers(methods: set[str]) -> None:
    """Start multiprocessing's own helper processes now, so no strategy's memory includes them.

    The resource tracker (shared_memory and named semaphores use it) and the forkserver are
    one process each per program; they would otherwise start inside whichever measurement
    needs them first, and count as that strategy's memory.
    """
    if sys.platform != "win32":
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    if "forkserver" in methods:
        from multiprocessing import forkserver

        forkserver.ensure_running()


_MEASURED = ("item reads/s", "item writes/s", "read all (MiB/s)", "parent sees writes",
             "memory (MiB)", "memory ÷ data", "start-up (ms)")


def _row(r: StrategyRun, size: int) -> dict:
    cls = sharing.strategy(r.name)
    if r.skipped:
        measured = dict.fromkeys(_MEASURED) | {"parent sees writes": f"skipped: {r.skipped}"}
    else:
        seen = "n/a" if r.writes_seen is None else f"{r.writes_seen} of {r.writes_checked}"
        values = (r.reads_per_s, r.writes_per_s, r.bulk_mib_s, seen, r.memory_bytes / MiB,
                  r.memory_bytes / size, r.startup_s * 1000)
        measured = dict(zip(_MEASURED, values, strict=True))
    return {"strategy": r.name, **measured, "can share": cls.shares,
            "across machines": cls.across_machines, "clean-up": cls.cleanup}


def _compare_findings(result: CompareResult) -> list[str]:
    runs = result.measured
    if not runs:
        return ["No strategy could run here: see the table for why."]
    fastest = max(runs, key=lambda r: r.reads_per_s)
    slowest = min(runs, key=lambda r: r.reads_per_s)
    times = fastest.reads_per_s / slowest.reads_per_s
    findings = [
        f"Item reads: {fastest.name} did {fastest.reads_per_s:,.0f} per second, "
        f"{times:,.{1 if times < 10 else 0}f}x as many as {slowest.name} "
        f"({slowest.reads_per_s:,.0f} per second)."
    ]
    findings += [
        f"{r.name}: the parent saw none of the {r.writes_checked} writes it checked; "
        "each worker wrote to its own copy."
        for r in runs
        if r.writes_seen == 0
    ]
    one_copy = [r.name for r in runs if r.memory_bytes / result.size_bytes < 1.5]
    many = [r for r in runs if r.memory_bytes / result.size_bytes >= 1.5]
    if one_copy:
        names = ", ".join(one_copy)
        findings.append(f"About one copy of the data in memory (PSS, under 1.5x): {names}.")
    if many:
        worst = max(many, key=lambda r: r.memory_bytes)
        findings.append(
            f"More than one copy: {', '.join(r.name for r in many)}; the most was {worst.name} with "
            f"{worst.memory_bytes / MiB:.0f} MiB, {worst.memory_bytes / result.size_bytes:.1f}x the data."
        )
    slow_start = max(runs, key=lambda r: r.startup_s)
    findings.append(
        f"Slowest start-up: {slow_start.name}, {slow_start.startup_s * 1000:.0f} ms to create the data "
        "and attach the workers."
    )
    findings += [f"{r.name} was skipped: {r.skipped}" for r in result.runs if r.skipped]
    if usable_cores() < 2:
        findings.append(
            "With 1 usable core the workers took turns, so the rates are those of one process at a time."
        )
    return findings


