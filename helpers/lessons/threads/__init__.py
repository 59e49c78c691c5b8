"""Lesson 02, threads: the notebook's one import (``from helpers.lessons import threads``).

Introduced in 02_threads.ipynb. A map of the lesson, section by section:

    1. start, join, daemons        basics.py     thread_pool, threads_left, daemon_exit
    2. I/O-bound speed-up          speedup.py    io_speedup (chart: charts.py)
    3. a race on a counter         race.py       race, Counter, add_* (the code shown)
    4. a per-thread timeline       timeline.py   io_timeline
       exercises                   exercises.py  feedback_fetch_all, feedback_account,
                                                 feedback_capped_speedup, LedgerAccount
       pre-class check             check.py      check and its Rules

The threads themselves (``threading.Thread``, ``ThreadPoolExecutor``,
``multiprocessing.dummy``) are written in the notebook's cells; these modules measure, time
and draw.
"""

from __future__ import annotations

from . import check
from .basics import DaemonResult, daemon_exit, thread_pool, threads_left
from .charts import speedup_chart
from .exercises import (
    EXERCISES,
    LedgerAccount,
    feedback_account,
    feedback_capped_speedup,
    feedback_fetch_all,
)
from .race import (
    MAX_TIMES,
    VARIANTS,
    Counter,
    RaceResult,
    add_plain,
    add_with_call,
    add_with_io,
    add_with_io_locked,
    race,
)
from .speedup import MAX_THREADS, IOSpeedupResult, io_speedup
from .timeline import TimelineResult, io_timeline

__all__ = [
    "EXERCISES",
    "MAX_THREADS",
    "MAX_TIMES",
    "VARIANTS",
    "Counter",
    "DaemonResult",
    "IOSpeedupResult",
    "LedgerAccount",
    "RaceResult",
    "TimelineResult",
    "add_plain",
    "add_with_call",
    "add_with_io",
    "add_with_io_locked",
    "check",
    "daemon_exit",
    "feedback_account",
    "feedback_capped_speedup",
    "feedback_fetch_all",
    "io_speedup",
    "io_timeline",
    "race",
    "speedup_chart",
    "thread_pool",
    "threads_left",
]

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "threads-io-speedup": "io_speedup",
    "threads-timeline": "io_timeline",
    "threads-race": "race",
}
