"""Speed-up against workers, measured, with Amdahl's law for a serial part.

Introduced in 01_process_pool.ipynb (section 5). All pools start first; then each round runs
every worker count, alternating the order round by round so a busy moment hits them all
alike. A separate sampler process records per-core CPU use during the sweep.
"""

from __future__ import annotations

import functools
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.pool import Pool

from ...events import cpu_inside, task
from ...machine import require_workers
from ...machine import usable_cores as machine_cores
from ...probes import measure
from ...results import Result
from ...runner import progress, wait
from ...timing import alternating
from ...workloads import cpu
from . import charts as pool_charts
from .workers import DEFAULT_TIMEOUT, require_positive, started_pool


@dataclass
class SpeedupResult(Result):
    """Time for the same CPU-bound work on 1, 2, ... workers; optionally with a serial part."""

    workers: list[int] = field(default_factory=list)
    usable_cores: int = 1
    serial_share: float | None = None
    seconds: dict[int, list[float]] = field(default_factory=dict)
    amdahl_seconds: dict[int, list[float]] = field(default_factory=dict)
    spans: list[tuple[int, str, float, float]] = field(default_factory=list)

    def speedup(self, workers: int) -> float:
        """Time on 1 worker over time on `workers`: the median of the ratios round by round.

        Each round runs every worker count one after the other, so each ratio compares runs
        a moment apart, and a burst of other work on the machine spoils one ratio, not all.
        """
        return _paired(self.seconds[1], self.seconds[workers])

    def amdahl_speedup(self, workers: int) -> float:
        return _paired(self.amdahl_seconds[1], self.amdahl_seconds[workers])

    def amdahl_predicted(self, workers: int) -> float:
        """Amdahl's law: 1 / (s + (1 - s) / n), with n the cores the workers can really use."""
        s, n = self.serial_share or 0.0, min(workers, self.usable_cores)
        return 1 / (s + (1 - s) / n)

    def cores_by_time(self) -> dict[float, float]:
        """Sample time -> CPU, in cores, that the sweep's processes used (empty: not measured)."""
        by_time: dict[float, float] = defaultdict(float)
        for sample in self.measurement.samples if self.measurement is not None else []:
            by_time[sample.t] += sample.cpu / 100
        return by_time

    def _parallel(self, workers: int) -> list[tuple[float, float]]:
        """(start, end) of each all-parallel run on `workers`, perf_counter seconds."""
        return [(a, b) for w, run, a, b in self.spans if w == workers and run == "all parallel"]

    def cores_used(self, workers: int) -> float | None:
        """Mean CPU, in cores, that the sweep's processes got while `workers` ran all-parallel."""
        spans = self._parallel(workers)
        inside = [used for t, used in self.cores_by_time().items() for a, b in spans if a < t <= b]
        return statistics.mean(inside) if inside else None

    def cores_in_use(self, workers: int) -> float | None:
        """Median over rounds of the tasks' CPU seconds inside the span / the span's seconds.

        From the workers' own task events (cpu.spin records its thread's CPU time): about 2
        for 2 workers that really run in parallel, about 1 when they take turns on one core.
        A VM whose CPU speed swings moves the wall speed-up (1.2x to 1.9x here) but not this.
        Trap: task durations alone would count two tasks sharing one core as 2. None without
        task events. Lesson 01, section 5; the check judges it.
        """
        if self.measurement is None:
            return None
        tasks = self.measurement.tasks
        ratios = [cpu_inside(tasks, "spin", a, b) / (b - a) for a, b in self._parallel(workers)]
        return statistics.median(ratios) if ratios and any(ratios) else None

    def other_cores(self) -> float | None:
        """Mean CPU, in cores, that programs outside this sweep used while it ran."""
        m = self.measurement
        if m is None or not m.core_load:
            return None
        ours = self.cores_by_time()
        allowed = _allowed_cores(len(m.core_load[0][1]))  # only the cores this program may use
        return statistics.mean(
            max(0.0, sum(loads[i] for i in allowed) / 100 - ours.get(t, 0.0))
            for t, loads in m.core_load
        )

    def busy_note(self) -> str:
        """What else the machine was doing during the sweep, in a few words."""
        others = self.other_cores()
        if others is not None:
            cores = f"{self.usable_cores} usable core{'s' * (self.usable_cores > 1)}"
            return f"other programs used {others:.1f} of the {cores} on average"
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows has no load average
            return "other programs may have been using the cores"
        return f"the load average, this sweep included, was {load:.1f}"

    def plot(self):
        return pool_charts.speedup_overview(self)


def _allowed_cores(count: int) -> list[int]:
    """Indices of the logical cores this process may run on (all of them where unknown)."""
    try:
        allowed = sorted(i for i in os.sched_getaffinity(0) if i < count)
    except AttributeError:  # macOS, Windows: no affinity call in os
        allowed = []
    return allowed or list(range(count))


def _paired(baseline: list[float], other: list[float]) -> float:
    return statistics.median([b / o for b, o in zip(baseline, other, strict=True)])


def worker_counts(cores: int | None = None) -> list[int]:
    """Worker counts for a sweep: 1 to twice the usable cores (a spread of them past 8)."""
    cores = machine_cores() if cores is None else require_workers(cores, what="cores")
    if 2 * cores <= 8:
        return list(range(1, 2 * cores + 1))
    picks = {1, 2, cores // 2, cores, cores + cores // 2, 2 * cores}
    picks |= {2**k for k in range(1, 8) if 2**k < 2 * cores}
    return sorted(picks)


def map_spin(pool: Pool, tasks: list[int], timeout: float = DEFAULT_TIMEOUT) -> None:
    """The sweep's work by default: every task through pool.map, one task per message."""
    wait(pool.map_async(cpu.spin, tasks, chunksize=1), timeout)


def serial_then_map(pool: Pool, tasks: list[int], serial: int, timeout: float = DEFAULT_TIMEOUT) -> None:
    """The serial variant by default: `serial` tasks here, one after another, then the rest
    through pool.map (same-sized pieces, so a step costs the same in both parts)."""
    with task("serial part"):  # only this process can do it
        for steps in tasks[:serial]:
            cpu.count_steps(steps)
    wait(pool.map_async(cpu.spin, tasks[serial:], chunksize=1), timeout)


def speedup_sweep(
    workers: list[int] | None = None,
    *,
    work: Callable[[Pool], object] | None = None,
    work_with_serial_part: Callable[[Pool], object] | None = None,
    total_seconds: float = 0.8,
    serial_share: float | None = 0.25,
    repeats: int = 1,
    start_method: str | None = None,
    measure_cpu: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
) -> SpeedupResult:
    """Time work(pool) on a pool of each size; with serial_share, also work_with_serial_part.

    Lesson 01, section 5. work: a function of the pool that does the CPU-bound work (by
    default map_spin over total_seconds of one core, split into tasks). serial_share: the
    share of the work that runs in this process first (Amdahl's law), or None to skip that
    variant. measure_cpu: sample per-core CPU use. One worker is every speed-up's baseline.
    """
    counts = sorted({1, *map(require_workers, worker_counts() if workers is None else workers)})
    require_positive(total_seconds, "total_seconds")
    require_workers(repeats, what="repeats")
    if serial_share is not None and not 0 < serial_share < 1:
        raise ValueError(f"serial_share must be between 0 and 1 (or None), got {serial_share!r}")
    cores = machine_cores()
    tasks = [cpu.units_for(total_seconds / max(8 * cores, 2 * max(counts)))] * max(8 * cores, 2 * max(counts))
    if serial_share and work_with_serial_part is None:  # whole tasks: the share actually run
        serial = min(len(tasks) - 1, max(1, round(serial_share * len(tasks))))
        serial_share = serial / len(tasks)
        work_with_serial_part = functools.partial(serial_then_map, tasks=tasks, serial=serial, timeout=timeout)
    runs = {"all parallel": work or functools.partial(map_spin, tasks=tasks, timeout=timeout)}
    if serial_share:
        runs[f"{serial_share:.0%} serial"] = work_with_serial_part
    result = SpeedupResult(
        title=f"CPU-bound work on 1 to {max(counts)} workers",
        params={"total_seconds": total_seconds, "repeats": repeats},
        workers=counts,
        usable_cores=cores,
        serial_share=serial_share,
        seconds={w: [] for w in counts},
        amdahl_seconds={w: [] for w in counts} if serial_share else {},
    )
    expected = repeats * len(runs) * sum(total_seconds / min(w, cores) for w in counts)
    with ExitStack() as stack:
        m = stack.enter_context(measure(interval=0.1)) if measure_cpu else None
        pools = {w: stack.enter_context(started_pool(w, start_method=start_method)).pool for w in counts}
        plan = [(w, name) for w in alternating(counts, repeats) for name in runs]
        for w, name in progress(plan, desc="workers", expected_seconds=expected):
            start = time.perf_counter()
            runs[name](pools[w])
            times = result.seconds if name == "all parallel" else result.amdahl_seconds
            times[w].append(time.perf_counter() - start)
            result.spans.append((w, name, start, time.perf_counter()))
        del pools  # the pools end with the stack; no reference to them outlives it
    result.measurement = m
    result.rows = [_speedup_row(result, w) for w in counts]
    result.findings = _speedup_findings(result)
    return result


def _speedup_row(r: SpeedupResult, w: int) -> dict:
    row = {
        "workers": w,
        "median time (s)": statistics.median(r.seconds[w]),
        "speed-up": r.speedup(w),
        "ideal here": float(min(w, r.usable_cores)),
    }
    if r.serial_share:
        row[f"time with {r.serial_share:.0%} serial (s)"] = statistics.median(r.amdahl_seconds[w])
        row["its speed-up"] = r.amdahl_speedup(w)
        row["Amdahl predicts"] = r.amdahl_predicted(w)
    return row


def _speedup_findings(r: SpeedupResult) -> list[str]:
    cores, counts = r.usable_cores, r.workers
    findings = []
    if 2 in counts:
        s2 = r.speedup(2)
        text = f"With 2 workers the CPU-bound work ran {s2:.2f}x as fast as with 1."
        if cores < 2:
            text += (
                " This machine lets this program use 1 core: two workers take turns on it, so "
                "no speed-up can show here. With 2 or more usable cores you should see close "
                "to 2x; the reference results below were measured on such machines."
            )
        else:
            from .check import SPEEDUP  # here, not at the top: check.py imports this module

            at_once = r.cores_in_use(2)
            if at_once is None:
                text += " Wall time swings on a busy VM; the check judges the cores in use."
            else:
                verdict = "this run showed it." if SPEEDUP.holds(at_once) else (
                    f"this run fell short ({r.busy_note()}). Run it again on a quieter machine."
                )
                text += (
                    f" Their tasks kept {at_once:.2f} cores busy at once "
                    f"({SPEEDUP.op} {SPEEDUP.threshold:g} expected): {verdict}"
                )
        findings.append(text)
    best = max(counts, key=r.speedup)
    findings.append(
        f"The best speed-up was {r.speedup(best):.2f}x, at {best} worker{'s' * (best > 1)}; "
        f"the ideal on {cores} usable core{'s' * (cores > 1)} is {min(best, cores)}x."
    )
    beyond = [w for w in counts if w > cores]
    if beyond and cores in counts:
        w = max(beyond)
        text = f"{w} workers gave {r.speedup(w):.2f}x against {r.speedup(cores):.2f}x for {cores}"
        if r.speedup(w) > 1.15 * r.speedup(cores):
            text += (
                ": more workers than usable cores went faster here, which happens when other "
                f"programs compete for the cores ({r.busy_note()}): more processes win a "
                "bigger share of a busy machine. On a quiet machine, workers beyond the usable "
                "cores only take turns."
            )
        else:
            text += ": workers beyond the usable cores only take turns on them."
        findings.append(text)
    if r.serial_share:
        w = max(counts)
        predicted, measured = r.amdahl_predicted(w), r.amdahl_speedup(w)
        text = (
            f"With {r.serial_share:.0%} of the work serial, Amdahl's law caps the speed-up at "
            f"{predicted:.2f}x on {min(w, cores)} core{'s' * (min(w, cores) > 1)} "
            f"(and at {1 / r.serial_share:.0f}x on any number of cores); "
            f"measured {measured:.2f}x with {w} workers."
        )
        if measured > 1.1 * predicted:
            text += (
                " Above the cap: the runs were disturbed by other programs "
                f"({r.busy_note()}), so the one-worker baseline ran slow."
            )
        findings.append(text)
    return findings
