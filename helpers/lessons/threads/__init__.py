"""Lesson 02, threads: the notebook's one import (``from helpers.lessons import threads``).

Introduced in 02_threads.ipynb. A map of the lesson, section by section:

    1. start, join, daemons        basics.py     thread_pool, threads_left, daemon_exit
    2. I/O-bound speed-up          speedup.py    io_speedup (chart: charts.py)
    3. a race on a counter         race.py       race, add_with_call, add_with_io (shown)
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
from .basics import daemon_exit, thread_pool, threads_left
from .exercises import (
    EXERCISES,
    LedgerAccount,
    feedback_account,
    feedback_capped_speedup,
    feedback_fetch_all,
)
from .race import MAX_TIMES, add_with_call, add_with_io, race
from .speedup import io_speedup
from .timeline import io_timeline

__all__ = [  # grouped by section, as in the map above
    "thread_pool", "threads_left", "daemon_exit", "io_speedup",
    "race", "MAX_TIMES", "add_with_call", "add_with_io", "io_timeline",
    "EXERCISES", "LedgerAccount", "feedback_account", "feedback_capped_speedup",
    "feedback_fetch_all", "check",
]

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "threads-io-speedup": "io_speedup",
    "threads-timeline": "io_timeline",
    "threads-race": "race",
}
