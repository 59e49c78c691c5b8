"""Lesson 01's section of ``python -m helpers check``: its effects, each named once, with its threshold.

The notebook's findings, the exercises, the decision guide (helpers.course.guide) and the
tests import these Rules; data/reference/*.json records their effect names.
"""

from __future__ import annotations

from ...course.check import Effect, Rule, report_only
from .chunks import chunksize_sweep
from .speedup import speedup_sweep
from .tracing import trace_chunksize, viztracer_missing

LESSON = "pool"

SPEEDUP = Rule(LESSON, "2 workers: cores in use, CPU-bound", ">=", 1.6, cores=2)
"""Tasks' CPU seconds / wall seconds while 2 workers run CPU-bound pure Python (section 5): ~1.9.

Judged on the workers' own task events rather than on the wall speed-up (time on 1 worker /
time on 2), which this course's 2-core VM moved between 1.2x and 1.9x from one run to the
next as its CPU speed swung; the wall speed-up is reported beside it (WALL_SPEEDUP)."""
WALL_SPEEDUP = "speed-up at 2 workers, CPU-bound (wall time)"

CHUNKSIZE = Rule(LESSON, "tiny tasks: time at chunksize 1 / best chunksize", ">=", 10.0)
"""How much batching tiny tasks into chunks saves (section 4); measured 30-100x here."""

TINY_TASK_COST = Rule(LESSON, "cost of one tiny task at chunksize 1", "<=", 1000.0, unit=" µs")
"""One task's round trip to a worker and back, in µs (section 4): tens of µs, far below 1 ms."""

VIZTRACER_TASKS = Rule(LESSON, "viztracer task count vs the course's", "<=", 0, unit=" tasks")
"""|tasks viztracer traced - tasks the course's timeline recorded| in one run (section 4)."""

VIZTRACER_DURATION = Rule(
    LESSON, "viztracer median task duration vs the course's", "<=", 25.0, unit=" %"
)
"""|median task in viztracer's trace / the course's - 1| in percent, same run (section 4)."""


def check(quick: bool = True) -> list[Effect]:
    """The "pool" section: the speed-up at 2 workers and the chunksize effect.

    quick: shorter runs (a few seconds in all). If the speed-up falls short, the Effect says
    how busy the machine was, measured by the sampler during the sweep.
    """
    speed = speedup_sweep(
        [1, 2],
        total_seconds=0.4 if quick else 1.0,
        serial_share=None,
        repeats=5 if quick else 9,
        measure_cpu=True,
    )
    at_once = speed.cores_in_use(2)
    chunks = chunksize_sweep(5000 if quick else 20_000, [1, 16, 128, 1024], repeats=3, timeline_tasks=0)
    return [
        SPEEDUP.judge(
            at_once, "" if at_once is None or SPEEDUP.holds(at_once) else speed.busy_note()
        ),
        report_only(LESSON, WALL_SPEEDUP, speed.speedup(2), unit="x"),
        CHUNKSIZE.judge(chunks.gain),
        TINY_TASK_COST.judge(chunks.median(1) / chunks.tasks * 1e6),
    ]


def tool_agreement(quick: bool = True) -> list[Effect]:
    """viztracer against the course's task timeline, on the same traced run of section 4.

    Called by the instruments lesson's check. Where viztracer cannot run, the rows read
    "not applicable here" and say why.
    """
    missing = viztracer_missing()
    if missing:
        why = f"not applicable here: {missing}"
        return [VIZTRACER_TASKS.judge(None, why), VIZTRACER_DURATION.judge(None, why)]
    traced = trace_chunksize(tasks=100 if quick else 400)
    return [
        VIZTRACER_TASKS.judge(abs(traced.count_difference)),
        VIZTRACER_DURATION.judge(traced.duration_difference()),
    ]


__all__ = [
    "CHUNKSIZE",
    "LESSON",
    "SPEEDUP",
    "WALL_SPEEDUP",
    "TINY_TASK_COST",
    "VIZTRACER_DURATION",
    "VIZTRACER_TASKS",
    "check",
    "tool_agreement",
]
