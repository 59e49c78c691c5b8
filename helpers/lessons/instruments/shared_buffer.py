"""Counting shared memory: a buffer that forked workers read: lesson 00, section 3.

Introduced in 00_start_here.ipynb, section 3, and the reference case of the "instruments"
check. A parent fills a buffer, forked workers read it. Summed RSS counts the shared pages
once per process; PSS splits them, so its growth matches the system's own drop.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...machine import require_size, require_workers, start_methods
from ...probes import measure
from ...results import Result
from ...runner import process_pool
from ...units import MiB
from ...workloads import memory


@dataclass
class SharedBufferResult(Result):
    """Memory of a parent and forked workers that all read one numpy buffer. Lesson 00, section 3."""

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
        """memory_profiler's include_children growth against the system's drop (None if not run)."""
        m = self.measurement
        mp = m.memory_profiler
        return None if mp is None else mp.include_children_growth / max(m.system_drop, 1)


def shared_buffer(
    workers: int = 4, size_mb: int = 200, hold: float = 0.5, interval: float = 0.05
) -> SharedBufferResult:
    """A parent allocates size_mb of numpy data inside the block; forked workers read it all.

    Uses the fork start method on purpose, whatever the course's setting: only forked
    workers share the parent's pages, and sharing is what this experiment measures. Sizes in
    MiB; the trap it shows: summed RSS counts the shared pages once per process.
    Lesson 00, section 3.
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
    params = {"workers": workers, "size_mb": size_mb, "hold": hold}
    title = f"{workers} forked workers read a {size_mb} MiB buffer"
    return _described(SharedBufferResult(title, params, measurement=m))


def _described(result: SharedBufferResult) -> SharedBufferResult:
    """The run's table and findings: each way of counting against the ground truth."""
    m, workers = result.measurement, result.params["workers"]
    metric = m.total_metric
    result.rows = [
        {"count": "system drop (ground truth)", "MiB": m.system_drop / MiB},
        {"count": f"growth of the {metric.upper()} total", "MiB": m.growth(metric) / MiB},
        {"count": "growth of the USS total", "MiB": m.growth("uss") / MiB},
        {"count": "growth of the RSS total", "MiB": m.growth("rss") / MiB},
    ]
    if m.memory_profiler is not None:
        growth = m.memory_profiler.include_children_growth / MiB
        result.rows.append({"count": "memory_profiler include_children growth", "MiB": growth})
    result.findings = [
        f"The system lost {m.system_drop / MiB:.0f} MiB; the {metric.upper()} total grew by "
        f"{m.growth(metric) / MiB:.0f} MiB ({result.total_error:+.0%}).",
        f"Summed RSS grew by {m.growth('rss') / MiB:.0f} MiB, {result.rss_overcount:.1f}x the real "
        f"cost: each of the {workers + 1} processes counts the shared pages as its own.",
    ]
    return result
