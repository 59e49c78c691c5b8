"""Which thread ran which request, when: lesson 02, section 4.

Introduced in 02_threads.ipynb, section 4. Each request made by ``helpers.workloads.io.fetch``
is recorded as a task event (its thread, start and end); the chart draws one row per thread.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ...machine import require_workers
from ...probes import measure
from ...results import Result
from ...runner import DEFAULT_TIMEOUT
from ...servers.http import require_delay, slow_server
from ...workloads import io
from .basics import thread_pool


@dataclass
class TimelineResult(Result):
    """The task events of one run: which thread ran which request, when (seconds). Lesson 02, section 4."""

    @property
    def span(self) -> float:
        """Seconds from the first request's start to the last one's end (0.0 if none ran)."""
        fetches = [t for t in self.measurement.tasks if t.task == "fetch"]
        return max(t.end for t in fetches) - min(t.start for t in fetches) if fetches else 0.0

    def plot(self):
        from ... import charts as plots

        m = self.measurement
        return plots.timeline(m.tasks, origin=m.start, title=self.title)


def io_timeline(threads: int = 8, tasks: int = 24, delay: float = 0.05) -> TimelineResult:
    """Fetch `tasks` URLs over `threads` threads under measure(), recording each request.

    Trap: more than 16 rows make an unreadable chart, so threads is capped at 16.
    Lesson 02, section 4.
    """
    require_workers(threads, what="threads")
    require_workers(tasks, what="tasks")
    delay = require_delay(delay)
    if threads > 16:
        raise ValueError(f"threads must be at most 16 for a readable timeline, got {threads}")
    timeout = delay + DEFAULT_TIMEOUT
    with slow_server(delay) as server:
        urls = [server.url] * tasks
        with thread_pool(2) as pool:  # warm-up outside the measurement
            list(pool.map(io.fetch, urls[:2], timeout=timeout))
        with measure(interval=0.05) as m, thread_pool(threads) as pool:
            list(pool.map(io.fetch, urls, timeout=timeout))
    return timeline_result(m, threads, tasks, delay)


def timeline_result(m, threads: int, tasks: int, delay: float) -> TimelineResult:
    """The Result of io_timeline: requests per thread, and how little CPU the waits used. Lesson 02, section 4."""
    fetches = [t for t in m.tasks if t.task == "fetch"]
    per_thread = Counter(t.thread for t in fetches)
    result = TimelineResult(
        title=f"{tasks} requests of {delay * 1000:.0f} ms over {threads} threads",
        params={"threads": threads, "tasks": tasks, "delay": delay},
        measurement=m,
        rows=[{"thread": name, "requests": count} for name, count in sorted(per_thread.items())],
    )
    if fetches:
        span, busy = result.span, sum(t.cpu for t in fetches)
        result.findings = [
            f"{len(fetches)} requests ran on {len(per_thread)} threads in {span:.2f} s; "
            f"one after another they would take about {sum(t.duration for t in fetches):.2f} s.",
            f"The threads used {busy * 1000:.0f} ms of CPU in all, "
            f"{busy / span:.0%} of one core: they spent their time waiting, not computing.",
        ]
    return result
