"""The "instruments" section of ``python -m helpers check``: lesson 00's effects, each named once.

Introduced in 00_start_here.ipynb (sections 2 to 4). The check, the notebook and the tests
import these Rules; data/reference/*.json records their names: keep them stable.

The section also reports how the course's instruments agree with py-spy and viztracer, as
measured by the lessons that run those tools (TOOL_ROWS).
"""

from __future__ import annotations

import importlib

from ...course.check import Effect, Rule, report_only
from ...machine import start_methods
from ...pages import rollup
from .overhead import sampler_overhead
from .shared_buffer import shared_buffer
from .views import instant_views

LESSON = "instruments"

# Section 3: 4 forked workers read a parent's buffer. The PSS total's growth against the
# system's drop in available memory (|error|, %), and summed RSS against that drop (x).
TOTAL_VS_GROUND_TRUTH = Rule(LESSON, "PSS total vs ground truth (error)", "<=", 20, unit="%")
RSS_OVERCOUNT = Rule(LESSON, "summed RSS overcount (4 workers + parent)", ">=", 3.0)
MEMORY_PROFILER = "memory_profiler include_children overcount"  # reported: it sums RSS too
# Section 2: how much the sampler slows a CPU-bound loop (%), judged where it has a core of
# its own (on one core it takes its CPU time from the loop it measures).
SAMPLER_OVERHEAD = Rule(LESSON, "sampler overhead on a CPU-bound run", "<=", 3.0, unit="%", cores=2)
# Section 4: the worst gap, over a pool's workers at one instant, between the sampler's PSS
# and /proc/PID/smaps_rollup's (%).
ROLLUP_VS_SAMPLER = Rule(LESSON, "smaps_rollup PSS vs the course's sampler", "<=", 5.0, unit="%")
# The tools' rows, measured by other lessons: (package, their check's function, what it compares)
TOOL_ROWS = (
    ("gil", "py-spy GIL share vs the course's (lesson 03)"),
    ("pool", "viztracer task count vs the course's (lesson 01)"),
)


def check(quick: bool = True) -> list[Effect]:
    """Memory counting with shared pages, the sampler's cost and its agreement with the tools. Lesson 00 (the pre-class check)."""
    effects = shared_pages(quick)
    overhead = sampler_overhead(seconds=1.0 if quick else 2.0, repeats=3)
    effects.append(SAMPLER_OVERHEAD.judge(overhead * 100))
    if rollup() is None:
        effects.append(ROLLUP_VS_SAMPLER.judge(None, "not applicable here: no /proc/PID/smaps_rollup (Linux only)"))
    else:
        effects.append(ROLLUP_VS_SAMPLER.judge(instant_views(workers=3, mib_each=20 if quick else 40).worst_pss_gap))
    return effects + tool_agreement(quick)


def shared_pages(quick: bool) -> list[Effect]:
    """Section 3's effects: PSS against the ground truth, summed RSS's overcount. Lesson 00 (the pre-class check)."""
    if "fork" not in start_methods():
        return [TOTAL_VS_GROUND_TRUTH.judge(None, "not applicable here: no fork start method")]
    r = shared_buffer(workers=4, size_mb=100 if quick else 200, hold=0.4)
    why = "" if r.measurement.pss_available else "USS used: no PSS on this platform"
    return [
        TOTAL_VS_GROUND_TRUTH.judge(abs(r.total_error) * 100, why),
        RSS_OVERCOUNT.judge(r.rss_overcount),
        report_only(LESSON, MEMORY_PROFILER, r.memory_profiler_overcount, unit="x"),
    ]


def tool_agreement(quick: bool) -> list[Effect]:
    """The agreement rows other lessons measure with py-spy and viztracer, in this section.

    A lesson whose check has no tool_agreement(quick) yet gives a row that says so.
    Lesson 00 (the pre-class check).
    """
    effects: list[Effect] = []
    for package, effect in TOOL_ROWS:
        name = f"helpers.lessons.{package}.check"
        try:
            measure_agreement = getattr(importlib.import_module(name), "tool_agreement", None)
            why = f"not measured: {name} has no tool_agreement yet"
        except ImportError as exc:
            measure_agreement, why = None, f"not measured: {exc}"
        if measure_agreement is None:
            effects.append(Effect(LESSON, effect, "agreement", None, "", None, why))
            continue
        try:
            effects += measure_agreement(quick)
        except Exception as exc:  # one tool failing must not hide the other rows
            effects.append(Effect(LESSON, effect, "agreement", None, "", False, f"{type(exc).__name__}: {exc}"))
    return effects
