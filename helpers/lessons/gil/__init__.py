"""Lesson 03, GIL contention: the notebook's one import (``from helpers.lessons import gil``).

Introduced in 03_gil_contention.ipynb. A map of the lesson, section by section:

    section                               module        what the notebook calls
    1 sequential, threads, processes      threads.py    compare(), threads_vs_processes()
                                          charts.py     (result.plot_speedup(), plot_timelines())
    2 who holds the interpreter           handoff.py    handoff(), find_turns()
      the same turns, seen by py-spy      profilers.py  py_spy_gil_share()
    3 the switch interval's trade-off     switching.py  switch_interval_sweep()
    4 the convoy effect                   switching.py  convoy()
    5 C code that releases the GIL        release.py    gil_release()
    6 free-threaded CPython               reference.py  free_threading()
    7 subinterpreters: one GIL each       interpreters.py  compare_models()
    8 our figures beside published ones   cited.py      published_comparison(), plot_published()
    exercises                             exercises.py  feedback_hash_threads(),
                                                        feedback_switch_interval(),
                                                        feedback_median_turn()
    pre-class check                       check.py      check(), tool_agreement(), the Rules
"""

from __future__ import annotations

from ...workloads.gil import running_threads, steps_for, work
from .check import (
    CONVOY,
    CONVOY_FALLS,
    PROCESSES,
    PY_SPY,
    SHA256,
    THREADS,
    THREADS_EFFECT,
    THREADS_NO_GIL,
    check,
    tool_agreement,
)
from .cited import CITATIONS, plot_published, published_comparison
from .exercises import (
    EXERCISES,
    feedback_hash_threads,
    feedback_median_turn,
    feedback_switch_interval,
)
from .handoff import HandoffResult, find_turns, handoff
from .interpreters import compare_models
from .profilers import py_spy_gil_share
from .reference import RECORD_COMMAND, free_threaded_dir, free_threading, load_references
from .release import gil_release
from .switching import convoy, switch_interval_sweep
from .threads import ThreadsVsProcessesResult, compare, threads_vs_processes

__all__ = [
    "compare_models",
    "CITATIONS",
    "CONVOY",
    "CONVOY_FALLS",
    "EXERCISES",
    "PROCESSES",
    "PY_SPY",
    "RECORD_COMMAND",
    "SHA256",
    "THREADS",
    "THREADS_EFFECT",
    "THREADS_NO_GIL",
    "HandoffResult",
    "ThreadsVsProcessesResult",
    "check",
    "compare",
    "convoy",
    "feedback_hash_threads",
    "feedback_median_turn",
    "feedback_switch_interval",
    "find_turns",
    "free_threaded_dir",
    "free_threading",
    "gil_release",
    "handoff",
    "load_references",
    "plot_published",
    "published_comparison",
    "py_spy_gil_share",
    "running_threads",
    "steps_for",
    "switch_interval_sweep",
    "threads_vs_processes",
    "tool_agreement",
    "work",
]

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "gil-threads-vs-processes": "threads_vs_processes",
    "gil-handoff": "handoff",
    "gil-py-spy": "py_spy_gil_share",
    "gil-switch-interval": "switch_interval_sweep",
    "gil-convoy": "convoy",
    "gil-release": "gil_release",
    "gil-interpreters": "compare_models",
}
