"""Chunksize, measured: many tiny tasks, and what each message costs a worker.

Introduced in 01_process_pool.ipynb (section 4). The chunksizes are timed alternately, round
by round, on one pool whose workers are ready before the clock starts; medians are reported.
A second run of short tasks records when each task ran, so the gaps between tasks, the
per-message overhead, can be drawn.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from itertools import groupby, pairwise

from ...events import TaskEvent
from ...machine import require_workers
from ...results import Result
from ...runner import progress, wait
from ...timing import alternating
from ...workloads import cpu
from . import charts as pool_charts
from .workers import (
    DEFAULT_TIMEOUT,
    map_seconds,
    pool_default_chunksize,
    require_positive,
    started_pool,
)

_TINY_TASK_GUESS = 60e-6  # seconds per tiny task at chunksize 1, only to decide on a progress bar


@dataclass
class ChunksizeResult(Result):
    """Time for many tiny tasks against chunksize, and timelines of short tasks."""

    workers: int = 2
    tasks: int = 0
    seconds: dict[int, list[float]] = field(default_factory=dict)  # chunksize -> runs
    default_chunksize: int = 1
    timelines: dict[int, list[TaskEvent]] = field(default_factory=dict)  # chunksize -> tasks
    timeline_origins: dict[int, float] = field(default_factory=dict)
    timeline_walls: dict[int, float] = field(default_factory=dict)
    timeline_parent_cpu: dict[int, float] = field(default_factory=dict)  # this process's CPU s

    @property
    def chunksizes(self) -> list[int]:
        return sorted(self.seconds)

    def median(self, chunksize: int) -> float:
        """Median seconds for all the tiny tasks at this chunksize."""
        return statistics.median(self.seconds[chunksize])

    @property
    def best_chunksize(self) -> int:
        return min(self.chunksizes, key=self.median)

    @property
    def gain(self) -> float:
        """Time at chunksize 1 over time at the best chunksize (how much chunking saved)."""
        return self.median(1) / self.median(self.best_chunksize)

    def consecutive(self, chunksize: int) -> list[tuple[TaskEvent, TaskEvent]]:
        """Pairs of tasks that one worker ran one after the other, in the timeline run."""
        events = sorted(self.timelines[chunksize], key=lambda e: (e.pid, e.start))
        return [pair for _, lane in groupby(events, key=lambda e: e.pid) for pair in pairwise(lane)]

    def median_gap(self, chunksize: int) -> float:
        """Median seconds a worker spent between two tasks in the timeline run (NaN: none)."""
        gaps = [later.start - earlier.end for earlier, later in self.consecutive(chunksize)]
        return statistics.median(gaps) if gaps else math.nan

    def paused_share(self, chunksize: int) -> float:
        """Share of the tasks' wall time in the timeline run when they had no core (0 to 1)."""
        events = self.timelines[chunksize]
        wall = sum(e.duration for e in events)
        return max(0.0, wall - sum(e.cpu for e in events)) / wall if wall else 0.0

    def plot(self):
        return ([self.plot_timeline()] if self.timelines else []) + [self.plot_curve()]

    def plot_curve(self):
        return pool_charts.chunksize_curve(self)

    def plot_timeline(self):
        return pool_charts.chunk_timelines(self)


def default_chunksizes(tasks: int, workers: int) -> list[int]:
    """Powers of 4 from 1 up to one chunk per worker, plus Pool.map's own default."""
    sizes = {4**k for k in range(12) if 4**k <= tasks // workers}
    sizes |= {1, max(1, tasks // workers), pool_default_chunksize(tasks, workers)}
    return sorted(sizes)


def chunksize_sweep(
    tasks: int = 10_000,
    chunksizes: list[int] | None = None,
    *,
    workers: int = 2,
    repeats: int = 3,
    timeline_tasks: int = 200,
    timeline_task_seconds: float = 0.00005,
    start_method: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ChunksizeResult:
    """Map `tasks` tiny tasks (x + 1) at each chunksize, alternating chunksizes round by round.

    Then, unless timeline_tasks is 0, run short tasks (timeline_task_seconds each) at
    chunksize 1 and at Pool.map's default chunksize, recording when each task ran.
    """
    require_workers(tasks, what="tasks")
    require_workers(workers)
    require_workers(repeats, what="repeats")
    asked = default_chunksizes(tasks, workers) if chunksizes is None else chunksizes
    sizes = sorted({1, *(require_workers(s, what="chunksize") for s in asked)})  # 1: the baseline
    items = list(range(tasks))
    result = _new_result(tasks, workers, {size: [] for size in sizes}, repeats=repeats)
    expected = repeats * tasks * _TINY_TASK_GUESS * 1.5
    with started_pool(workers, start_method=start_method, timeout=timeout) as started:
        pool = started.pool
        rounds = alternating(sizes, repeats)
        for size in progress(rounds, total=repeats * len(sizes), desc="chunksizes", expected_seconds=expected):
            result.seconds[size].append(map_seconds(pool, cpu.increment, items, size, timeout))
        if timeline_tasks:
            require_workers(timeline_tasks, what="timeline_tasks")
            require_positive(timeline_task_seconds, "timeline_task_seconds")
            record_timelines(result, pool, timeline_tasks, timeline_task_seconds, timeout)
    return _finish(result)


def chunksize_result(
    seconds: dict[int, float | list[float]],
    *,
    tasks: int,
    workers: int,
    timelines: dict[int, list[tuple[int, float, float, float]]] | None = None,
) -> ChunksizeResult:
    """Table, findings and charts for chunksize timings a notebook cell took itself.

    seconds: chunksize -> seconds (or a list of runs) for all `tasks`; it must hold
    chunksize 1. timelines: chunksize -> what pool.map(cpu.spin_timed, ...) returned.
    Lesson 01, section 4.
    """
    if 1 not in seconds:
        raise ValueError("seconds must hold chunksize 1, the baseline every finding compares with")
    runs = {int(k): list(v) if isinstance(v, list) else [v] for k, v in sorted(seconds.items())}
    result = _new_result(tasks, workers, runs)
    for size, done in (timelines or {}).items():
        result.timelines[size] = events = _task_events(done)
        result.timeline_origins[size] = min(e.start for e in events)
        result.timeline_walls[size] = max(e.end for e in events) - result.timeline_origins[size]
    return _finish(result)


def _new_result(tasks: int, workers: int, seconds: dict, **params) -> ChunksizeResult:
    return ChunksizeResult(
        title=f"{tasks:,} tiny tasks on {workers} workers: time against chunksize",
        params={"tasks": tasks, "workers": workers, **params},
        workers=workers,
        tasks=tasks,
        seconds=seconds,
        default_chunksize=pool_default_chunksize(tasks, workers),
    )


def _task_events(done: list[tuple[int, float, float, float]]) -> list[TaskEvent]:
    """TaskEvents from what cpu.spin_timed returned: (pid, start, end, CPU seconds)."""
    return [TaskEvent("spin", pid, "MainThread", a, b, used) for pid, a, b, used in done]


def _finish(result: ChunksizeResult) -> ChunksizeResult:
    """Fill in the table and the findings from the timings."""
    result.rows = [
        {
            "chunksize": size,
            "messages each way": math.ceil(result.tasks / size),
            "median time (ms)": result.median(size) * 1000,
            "per task (µs)": result.median(size) / result.tasks * 1e6,
            "vs chunksize 1": result.median(1) / result.median(size),
            "note": _note(result, size),
        }
        for size in result.chunksizes
    ]
    result.findings = chunksize_findings(result)
    return result


def _note(result: ChunksizeResult, size: int) -> str:
    notes = {"Pool.map's default": result.default_chunksize, "fastest": result.best_chunksize}
    return ", ".join(note for note, chunk in notes.items() if chunk == size)


def record_timelines(result: ChunksizeResult, pool, tasks: int, seconds: float, timeout) -> None:
    """Short tasks at chunksize 1 and at Pool.map's default; each task times itself."""
    steps = cpu.units_for(seconds)
    for size in (1, max(2, pool_default_chunksize(tasks, result.workers))):
        origin, parent_cpu = time.perf_counter(), time.process_time()
        done = wait(pool.map_async(cpu.spin_timed, [steps] * tasks, chunksize=size), timeout)
        result.timeline_walls[size] = time.perf_counter() - origin
        result.timeline_parent_cpu[size] = time.process_time() - parent_cpu
        result.timeline_origins[size] = origin
        result.timelines[size] = _task_events(done)


def _us(seconds: float) -> str:
    micro = seconds * 1e6
    return f"{micro:.1f} µs" if micro < 10 else f"{micro:.0f} µs"


def chunksize_findings(r: ChunksizeResult) -> list[str]:
    best, one = r.best_chunksize, r.median(1)
    findings = [
        f"{r.tasks:,} tiny tasks took {one * 1000:.0f} ms with chunksize 1 "
        f"({one / r.tasks * 1e6:.0f} µs per task) and {r.median(best) * 1000:.0f} ms with "
        f"chunksize {best} ({r.median(best) / r.tasks * 1e6:.1f} µs per task): "
        f"{r.gain:.0f}x faster.",
    ]
    if r.default_chunksize in r.seconds:
        findings.append(
            f"Pool.map's own default here is chunksize {r.default_chunksize} "
            f"(tasks / (4 × workers)): {r.median(r.default_chunksize) * 1000:.0f} ms, "
            f"{one / r.median(r.default_chunksize):.0f}x faster than chunksize 1."
        )
    largest = max(r.chunksizes)
    if largest != best and r.median(largest) > 1.5 * r.median(best):
        findings.append(
            f"The largest chunksize ({largest}) was {r.median(largest) / r.median(best):.1f}x "
            "slower than the best: with very few chunks, one worker can still be busy with "
            "the last big one while the other has nothing left to do."
        )
    if r.timelines:
        one_chunk, big = sorted(r.timelines)
        findings.append(
            f"In the timelines, a worker spent a median of {_us(r.median_gap(one_chunk))} "
            f"between two tasks with chunksize 1, and {_us(r.median_gap(big))} with "
            f"chunksize {big}, where most tasks follow another from the same message."
        )
    if r.timelines and one_chunk in r.timeline_parent_cpu:
        findings.append(
            f"This process spent {r.timeline_parent_cpu[one_chunk] * 1000:.1f} ms of CPU "
            f"sending the {len(r.timelines[one_chunk])} tasks and collecting their results "
            f"one by one, and {r.timeline_parent_cpu[big] * 1000:.1f} ms in chunks of {big}. "
            f"The tasks' own work was {r.paused_share(one_chunk):.0%} paused with chunksize 1 "
            f"and {r.paused_share(big):.0%} with chunksize {big}: when this process and the "
            f"workers want more cores than the {r.machine['usable_cores']} usable here, the "
            "message handling takes cores from the workers."
        )
    return findings
