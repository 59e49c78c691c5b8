"""Experiments that show the instruments are honest: lesson 00 and the "instruments" check.

Introduced in 00_start_here.ipynb. shared_buffer() is the reference case for counting
memory: a parent fills a buffer, forked workers read it. Summed RSS counts the shared pages
once per process; PSS splits them, so its growth matches the system's own drop.
"""

from __future__ import annotations

import os
import signal
import statistics
import time
from dataclasses import dataclass

from ...course.check import Effect, at_least, at_most, report_only
from ...machine import require_size, require_workers, start_methods
from ...probes import Measurement, measure, sampler_process
from ...results import Result
from ...runner import process_pool
from ...units import MiB
from ...workloads import cpu, memory


@dataclass
class SharedBufferResult(Result):
    """Memory of a parent and forked workers that all read one numpy buffer."""

    workers: int = 0
    size_bytes: int = 0

    @property
    def rss_overcount(self) -> float:
        """Growth of the summed RSS against the system's drop: how often shared pages were counted."""
        m = self.measurement
        return m.growth("rss") / max(m.system_drop, 1)

    @property
    def total_error(self) -> float:
        """Growth of the PSS (or USS) total against the system's drop, as a signed fraction."""
        m = self.measurement
        return m.growth(m.total_metric) / max(m.system_drop, 1) - 1

    @property
    def memory_profiler_overcount(self) -> float | None:
        mp = self.measurement.memory_profiler
        return (
            None
            if mp is None
            else mp.include_children_growth / max(self.measurement.system_drop, 1)
        )

    def plot(self):
        return self.measurement.plot(title=self.title)


def shared_buffer(
    workers: int = 4, size_mb: int = 200, hold: float = 0.5, interval: float = 0.05
) -> SharedBufferResult:
    """A parent allocates size_mb of numpy data inside the block; forked workers read it all.

    Uses the fork start method on purpose, whatever the course's setting: only forked
    workers share the parent's pages, and sharing is what this experiment measures.
    """
    import numpy as np

    require_workers(workers)
    size = require_size(int(size_mb * MiB), what="the shared buffer")
    if "fork" not in start_methods():
        raise RuntimeError("this experiment needs the fork start method, which this platform lacks")
    with measure(interval=interval, memory_profiler=True) as m:
        memory.inherited = np.ones(size // 8)  # touched: every page is really allocated
        try:
            with process_pool(workers, start_method="fork") as pool:
                pool.map(memory.sum_inherited, [hold] * workers, chunksize=1)
        finally:
            memory.inherited = None
    result = SharedBufferResult(
        title=f"{workers} forked workers read a {size_mb} MiB buffer",
        params={"workers": workers, "size_mb": size_mb, "hold": hold},
        measurement=m,
        workers=workers,
        size_bytes=size,
    )
    metric = m.total_metric
    result.rows = [
        {"count": "system drop (ground truth)", "MiB": m.system_drop / MiB},
        {"count": f"growth of the {metric.upper()} total", "MiB": m.growth(metric) / MiB},
        {"count": "growth of the USS total", "MiB": m.growth("uss") / MiB},
        {"count": "growth of the RSS total", "MiB": m.growth("rss") / MiB},
    ]
    if m.memory_profiler is not None:
        result.rows.append(
            {
                "count": "memory_profiler include_children growth",
                "MiB": m.memory_profiler.include_children_growth / MiB,
            }
        )
    result.findings = [
        f"The system lost {m.system_drop / MiB:.0f} MiB; the {metric.upper()} total grew by "
        f"{m.growth(metric) / MiB:.0f} MiB ({result.total_error:+.0%}).",
        f"Summed RSS grew by {m.growth('rss') / MiB:.0f} MiB, {result.rss_overcount:.1f}x the real "
        f"cost: each of the {workers + 1} processes counts the shared pages as its own.",
    ]
    return result


def _busy(seconds: float) -> float:
    """Run the CPU-bound loop for about `seconds`; return the wall time it took."""
    steps = cpu.units_for(seconds)
    start = time.perf_counter()
    cpu.count_steps(steps)
    return time.perf_counter() - start


def sampler_overhead(
    seconds: float = 2.0, repeats: int = 3, interval: float = 0.05, slice_seconds: float = 0.1
) -> float:
    """How much the sampler slows a CPU-bound loop in this process (0.01 = 1%).

    One sampler runs throughout; the loop runs in short slices, alternately with the sampler
    paused (SIGSTOP) and sampling, so both halves see the same machine a moment apart and
    drifts in CPU speed cancel. Each repeat gives sum(sampled) / sum(paused); the result is
    the median over repeats. Where signals cannot pause a process (Windows), whole runs are
    paired instead, which is noisier.
    """
    cpu.calibrate()
    steps = cpu.units_for(slice_seconds)
    slices = max(2, round(seconds / slice_seconds))
    ratios = []
    for _ in range(repeats):
        if not hasattr(signal, "SIGSTOP"):
            bare = _busy(seconds)
            with measure(interval=interval):
                sampled = _busy(seconds)
            ratios.append(sampled / bare)
            continue
        paused = sampled = 0.0
        with sampler_process(interval) as sampler:
            for i in range(slices):
                for running in (True, False) if i % 2 else (False, True):
                    os.kill(sampler.pid, signal.SIGCONT if running else signal.SIGSTOP)
                    start = time.perf_counter()
                    cpu.count_steps(steps)
                    took = time.perf_counter() - start
                    if running:
                        sampled += took
                    else:
                        paused += took
            os.kill(sampler.pid, signal.SIGCONT)
        ratios.append(sampled / paused)
    return statistics.median(ratios) - 1


def check_effects(quick: bool = True) -> list[Effect]:
    """The instruments section of python -m helpers check."""
    effects: list[Effect] = []
    lesson = "instruments"
    if "fork" in start_methods():
        r = shared_buffer(workers=4, size_mb=100 if quick else 200, hold=0.4)
        m: Measurement = r.measurement
        metric = m.total_metric.upper()
        effects.append(
            at_most(
                lesson,
                f"{metric} total vs ground truth (error)",
                abs(r.total_error) * 100,
                20,
                unit="%",
            )
        )
        effects.append(
            at_least(lesson, "summed RSS overcount (4 workers + parent)", r.rss_overcount, 3.0)
        )
        effects.append(
            report_only(
                lesson,
                "memory_profiler include_children overcount",
                r.memory_profiler_overcount,
                unit="x",
            )
        )
    else:
        effects.append(
            Effect(
                lesson,
                "memory counting with shared pages",
                "needs fork",
                None,
                "",
                None,
                "this platform has no fork start method",
            )
        )
    overhead = sampler_overhead(seconds=1.0 if quick else 2.0, repeats=3)
    # on one core the sampler takes its CPU time from the loop it measures: shown, not judged
    effects.append(
        at_most(lesson, "sampler overhead on a CPU-bound run", overhead * 100, 3.0, unit="%", cores=2)
    )
    return effects

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "shared-buffer": "shared_buffer",
}
