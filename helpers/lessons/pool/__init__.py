"""Lesson 01, process pools measured: everything the notebook calls, and the "pool" check.

Introduced in 01_process_pool.ipynb. The work is split by theme, and gathered here so a
notebook needs one import (``from helpers.lessons import pool as experiments``):

    pool_basics    1, 3  the __main__ guard; map, imap, imap_unordered and starmap
    pool_chunks    4     chunksize: many tiny tasks, and the gaps between tasks
    pool_speedup   5     speed-up against workers, with Amdahl's law and per-core CPU
    pool_startup   6     what starting a pool costs under fork, spawn and forkserver
    pool_pitfalls  7     a function defined in the notebook, caught safely under every method
    pool_executor  8     ProcessPoolExecutor beside Pool
    pool_explorer  9, 10 the interactive explorer and the exercise checks
    pool_workers         starting a pool and waiting for its workers; timing a map
    pool_charts          the charts
"""

from __future__ import annotations

from ...course.check import Effect, at_least, report_only
from .basics import GuardResult, StylesResult, guard_demo, iteration_styles, script_text
from .chunks import ChunksizeResult, chunksize_sweep
from .executor import ApiResult, pool_vs_executor, process_executor
from .pitfalls import PitfallResult, in_notebook_function
from .playground import (
    Explorer,
    check_amdahl,
    check_chunksize_choice,
    check_collected_errors,
    explore_once,
    explorer,
)
from .speedup import SpeedupResult, speedup_sweep, worker_counts
from .startup import StartupResult, startup_cost
from .workers import pool_default_chunksize, started_pool

__all__ = [
    "ApiResult",
    "ChunksizeResult",
    "Explorer",
    "GuardResult",
    "PitfallResult",
    "SpeedupResult",
    "StartupResult",
    "StylesResult",
    "check",
    "check_amdahl",
    "check_chunksize_choice",
    "check_collected_errors",
    "chunksize_sweep",
    "explore_once",
    "explorer",
    "guard_demo",
    "in_notebook_function",
    "iteration_styles",
    "pool_default_chunksize",
    "pool_vs_executor",
    "process_executor",
    "reference_results",
    "script_text",
    "speedup_sweep",
    "started_pool",
    "startup_cost",
    "worker_counts",
]

LESSON = "pool"
SPEEDUP_EFFECT = "speed-up at 2 workers, CPU-bound"
CHUNKSIZE_EFFECT = "tiny tasks: time at chunksize 1 / best chunksize"
SPEEDUP_AT_LEAST = 1.6
CHUNKSIZE_AT_LEAST = 10.0


def reference_results(effect: str | None = None):
    """This lesson's figures as recorded on known machines (data/reference/), as a table."""
    from ...course import reference

    return reference.show(LESSON, effect)


def check_effects(quick: bool = True) -> list[Effect]:
    """The "pool" section of python -m helpers check: speed-up at 2 workers, chunksize effect."""
    speed = speedup_sweep(
        [1, 2],
        total_seconds=0.4 if quick else 1.0,
        serial_share=None,
        repeats=5 if quick else 9,
        measure_cpu=True,  # to say, if it falls short, how busy the machine was
    )
    s2 = speed.speedup(2)
    chunks = chunksize_sweep(
        5000 if quick else 20_000, [1, 16, 128, 1024], repeats=3, timeline_tasks=0
    )
    return [
        at_least(
            LESSON,
            SPEEDUP_EFFECT,
            s2,
            SPEEDUP_AT_LEAST,
            cores=2,
            why="" if s2 >= SPEEDUP_AT_LEAST else speed.busy_note(),
        ),
        at_least(LESSON, CHUNKSIZE_EFFECT, chunks.gain, CHUNKSIZE_AT_LEAST),
        report_only(
            LESSON,
            "cost of one tiny task at chunksize 1",
            chunks.median(1) / chunks.tasks * 1e6,
            unit=" µs",
        ),
    ]

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "pool-styles": "iteration_styles",
    "pool-chunksize": "chunksize_sweep",
    "pool-speedup": "speedup_sweep",
    "pool-startup": "startup_cost",
    "pool-vs-executor": "pool_vs_executor",
}
