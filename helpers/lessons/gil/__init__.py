"""Lesson 03, GIL contention: the experiments, the "gil" check section and the exercise checks.

Introduced in 03_gil_contention.ipynb. The experiments live in small modules by section
and are gathered here, so the notebook needs one import (``from helpers.lessons import gil``):

    gil_threads    1    threads_vs_processes()
    gil_handoff    2    handoff()
    gil_switching  3-4  switch_interval_sweep(), convoy()
    gil_release    5    gil_release()
    gil_reference  6    free_threading(), load_references()
    gil_cited      7    CITATIONS, published_comparison(), plot_published()
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass

from ...course.check import Effect, at_least, at_most, report_only
from ...machine import gil_enabled, usable_cores
from ...workloads.gil import running_threads
from .cited import CITATIONS, Citation, plot_published, published_comparison
from .handoff import HandoffResult, find_turns, handoff
from .reference import (
    HOW_TO_GET,
    RECORD_COMMAND,
    THREADS_EFFECT,
    FreeThreadingStatus,
    free_threaded_build,
    free_threaded_dir,
    free_threading,
    load_references,
)
from .release import GilReleaseResult, gil_release
from .switching import ConvoyResult, SwitchIntervalResult, convoy, switch_interval_sweep
from .threads import ThreadsVsProcessesResult, threads_vs_processes

__all__ = [
    "CITATIONS",
    "Citation",
    "Feedback",
    "HOW_TO_GET",
    "RECORD_COMMAND",
    "THREADS_EFFECT",
    "ConvoyResult",
    "FreeThreadingStatus",
    "GilReleaseResult",
    "HandoffResult",
    "SwitchIntervalResult",
    "ThreadsVsProcessesResult",
    "check",
    "check_interval_choice",
    "check_median_turn",
    "check_scaling_guess",
    "convoy",
    "find_turns",
    "free_threaded_build",
    "free_threaded_dir",
    "free_threading",
    "gil_release",
    "handoff",
    "load_references",
    "plot_published",
    "published_comparison",
    "running_threads",
    "switch_interval_sweep",
    "threads_vs_processes",
]

PROCESSES_EFFECT = "CPU-bound processes: speed-up of 2 processes over sequential"
SHA256_EFFECT = "sha256 of 1 MiB buffers: speed-up of 2 threads"
CONVOY_EFFECT = "convoy: sleeper's median wake-up delay beside a CPU-bound thread / alone (5 ms)"
CONVOY_FALLS_EFFECT = "convoy: that delay at a 0.5 ms switch interval / at 5 ms"
TURN_EFFECT = "hand-off: median turn of 2 CPU-bound threads (switch interval 5 ms)"


def check_effects(quick: bool = True) -> list[Effect]:
    """The "gil" section of python -m helpers check (about 8 s quick, 15 s full)."""
    lesson = "gil"
    effects: list[Effect] = []
    tvp = threads_vs_processes(
        workers=2, task_seconds=0.2 if quick else 0.4, repeats=3 if quick else 5
    )
    if gil_enabled():
        effects.append(at_most(lesson, THREADS_EFFECT, tvp.speedup("threads"), 1.2, cores=2))
    else:  # free-threaded: the same measurement, the opposite expectation
        effects.append(at_least(lesson, THREADS_EFFECT, tvp.speedup("threads"), 1.6, cores=2))
    effects.append(at_least(lesson, PROCESSES_EFFECT, tvp.speedup("processes"), 1.6, cores=2))
    sha = gil_release(kinds=("sha256",), threads=(1, 2), seconds=0.1, repeats=5 if quick else 9)
    effects.append(at_least(lesson, SHA256_EFFECT, sha.speedup("sha256", 2), 1.5, cores=2))
    turns = handoff(threads=2, seconds=0.2, interval=0.005)
    effects.append(
        report_only(
            lesson,
            TURN_EFFECT,
            turns.median_turn * 1e3,
            unit=" ms",
            expected="about 5 ms with the GIL",
        )
    )
    cv = convoy(cpu_threads=(0, 1), intervals=(0.0005, 0.005), samples=15, rounds=3 if quick else 6)
    slowdown = cv.slowdown(1, 0.005)
    falls = cv.median(1, 0.0005) / cv.median(1, 0.005)
    if gil_enabled():
        # the convoy is a GIL effect, not a parallel one: it shows on one core as well
        effects.append(at_least(lesson, CONVOY_EFFECT, slowdown, 5.0))
        effects.append(at_most(lesson, CONVOY_FALLS_EFFECT, falls, 0.5))
    else:
        why = "free-threaded build: no GIL to wait for, so no convoy is expected"
        effects.append(report_only(lesson, CONVOY_EFFECT, slowdown, unit="x", why=why))
        effects.append(report_only(lesson, CONVOY_FALLS_EFFECT, falls, unit="x", why=why))
    return effects


# -- exercise checks: they give feedback and never raise on an unsolved exercise ----------


@dataclass(frozen=True)
class Feedback:
    """What an exercise check found: ok, and the lines to show the learner."""

    ok: bool
    lines: tuple[str, ...]

    def __repr__(self) -> str:  # what the notebook shows
        return "\n".join(self.lines)

    def __bool__(self) -> bool:
        return self.ok


def check_interval_choice(interval: float, target_ms: float = 1.0, samples: int = 30) -> Feedback:
    """Exercise 1: does a sleeper beside one CPU-bound thread wake within target_ms (median)?"""
    from ...workloads.gil import busy_threads, switch_interval, wakeup_delays

    try:
        with switch_interval(interval), busy_threads(1):
            delay = statistics.median(wakeup_delays(samples)) * 1e3
    except ValueError as exc:
        return Feedback(False, (f"Not a valid switch interval: {exc}",))
    if delay <= target_ms:
        return Feedback(
            True,
            (
                f"Yes: at {interval * 1e3:g} ms the sleeper woke {delay:.2f} ms late (median), "
                f"within {target_ms:g} ms.",
            ),
        )
    return Feedback(
        False,
        (
            f"Not yet: at {interval * 1e3:g} ms the sleeper woke {delay:.2f} ms late (median), "
            f"more than {target_ms:g} ms.",
            "Hint: a waiting thread asks for the GIL after one switch interval.",
        ),
    )


def check_scaling_guess(guess: dict[str, bool | None], result: GilReleaseResult) -> Feedback:
    """Exercise 2: which kinds of work scale on threads? The rule, with this run's figures."""
    answered = {k: v for k, v in guess.items() if v is not None}
    if not answered:
        return Feedback(False, ("Not answered yet: set each kind to True (scales) or False.",))
    unknown = [k for k in answered if k not in result.kinds]
    if unknown:
        return Feedback(
            False, (f"Unknown kinds {unknown}; this run measured: {', '.join(result.kinds)}.",)
        )
    # the key is a fact about the interpreter; this run's measurement is shown beside it
    expected = {k: k != "pure Python" or not gil_enabled() for k in result.kinds}
    right = all(answered.get(k) == expected[k] for k in result.kinds)
    lines, disagree = [], []
    for k in result.kinds:
        mark = "?" if k not in answered else ("right" if answered[k] == expected[k] else "wrong")
        seen = result.speedup(k, max(result.thread_counts))
        if result.scales(k) != expected[k]:
            disagree.append(k)
        lines.append(f"{k:12} your answer: {answered.get(k)!s:5}  measured {seen:.2f}x  -> {mark}")
    if usable_cores() < 2:
        lines.append("(One usable core: no kind can speed up here; with 2 cores the answer shows.)")
    elif disagree:
        lines.append(
            f"(This run's measurement of {', '.join(disagree)} disagrees with the answer: "
            "the machine was probably busy. Run section 5 again.)"
        )
    lines.append("All right." if right else "Not all right yet.")
    return Feedback(right, tuple(lines))


def check_median_turn(
    func: Callable[[list[list[float]]], float | None], result: HandoffResult
) -> Feedback:
    """Exercise 3: does func(stamps per thread) find the median turn (ms) the helper found?"""
    stamps = [list(p.stamps) for p in result.progress]
    try:
        answer = func(stamps)
    except Exception as exc:  # the learner's code: report, do not stop the notebook
        return Feedback(False, (f"Your function raised {type(exc).__name__}: {exc}",))
    if answer is None:
        return Feedback(False, ("Not answered yet: your function returned None.",))
    expected = result.median_turn * 1e3
    if math.isfinite(expected) and abs(answer - expected) <= max(0.15 * expected, 0.2):
        return Feedback(True, (f"Yes: {answer:.2f} ms; the helper found {expected:.2f} ms.",))
    return Feedback(
        False,
        (
            f"Not yet: {answer:.2f} ms, but the helper found {expected:.2f} ms.",
            "Hint: merge all stamps in time order and cut where the thread changes.",
        ),
    )

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "gil-threads-vs-processes": "threads_vs_processes",
    "gil-handoff": "handoff",
    "gil-switch-interval": "switch_interval_sweep",
    "gil-convoy": "convoy",
    "gil-release": "gil_release",
}
