"""Lesson 01, process pools measured: the notebook's one import (``from helpers.lessons import pool``).

Introduced in 01_process_pool.ipynb. The notebook's cells hold the Pool code; these modules
time, trace and draw it. Section -> module:

    1  the __main__ guard                     basics      guard_demo, script_text
    2  errors in apply_async; fork and threads forking   fork_warning
    3  map, imap, imap_unordered, starmap     basics      iteration_styles
    4  chunksize; viztracer's view of it      chunks      chunksize_sweep, chunksize_result
                                              tracing     trace_chunksize
    5  speed-up against workers, Amdahl       speedup     speedup_sweep, worker_counts
    6  start-up cost per start method         startup     startup_cost, forkserver_sentence
    7  a function defined in the notebook     pitfalls    in_notebook_function
    8  ProcessPoolExecutor beside Pool        executor    pool_vs_executor, process_executor
    9  the explorer widget                    playground  explorer
       exercises                              exercises   feedback_*
       the pre-class check                    check       check, tool_agreement (Rules)
       pools whose workers are all ready      workers     started_pool
"""

from __future__ import annotations

from . import check
from .basics import guard_demo, iteration_styles, script_text
from .check import CHUNKSIZE, LESSON, SPEEDUP
from .chunks import chunksize_result, chunksize_sweep
from .executor import pool_vs_executor, process_executor
from .exercises import (
    EXERCISES,
    feedback_amdahl,
    feedback_chunksize,
    feedback_errors,
    feedback_parallel,
    parallel_tasks,
)
from .fork_warning import fork_with_threads
from .pitfalls import in_notebook_function
from .playground import explore_once, explorer
from .speedup import SpeedupResult, speedup_sweep, worker_counts
from .startup import forkserver_sentence, startup_cost
from .tracing import trace_chunksize
from .workers import pool_default_chunksize, started_pool


def reference_results(effect: str | None = None):
    """This lesson's figures as recorded on known machines (data/reference/), as a table."""
    from ...course import reference

    return reference.show(LESSON, effect)


# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "pool-styles": "iteration_styles",
    "pool-chunksize": "chunksize_sweep",
    "pool-speedup": "speedup_sweep",
    "pool-startup": "startup_cost",
    "pool-vs-executor": "pool_vs_executor",
    "pool-viztracer": "trace_chunksize",
    "pool-fork-warning": "fork_with_threads",
}

__all__ = [
    "CHUNKSIZE",
    "EXERCISES",
    "LESSON",
    "SPEEDUP",
    "SpeedupResult",
    "check",
    "chunksize_result",
    "chunksize_sweep",
    "explore_once",
    "explorer",
    "feedback_amdahl",
    "feedback_chunksize",
    "feedback_errors",
    "feedback_parallel",
    "fork_with_threads",
    "forkserver_sentence",
    "guard_demo",
    "in_notebook_function",
    "iteration_styles",
    "parallel_tasks",
    "pool_default_chunksize",
    "pool_vs_executor",
    "process_executor",
    "reference_results",
    "script_text",
    "speedup_sweep",
    "started_pool",
    "startup_cost",
    "trace_chunksize",
    "worker_counts",
]
