"""Lesson 03's effects, each named once with its threshold, and its pre-class check.

``python -m helpers check gil`` calls check(); ``python -m helpers check instruments`` calls
tool_agreement() for the py-spy row. The notebook's findings, the exercises, the decision
guide and the tests import the Rule constants below, so a name or threshold lives here only.
The names are those recorded in data/reference/*.json: keep them.
"""

from __future__ import annotations

import statistics

from ...course.check import Effect, Rule, report_only
from ...machine import gil_enabled

# the "interpreters" section (lesson 03, section 7): its effects and Rules live with the
# subinterpreter experiment, whose Python-version conditions they share
from .interpreters import check_interpreters as check_interpreters

LESSON = "gil"

# Section 1: two CPU-bound tasks, speed-up of the work over running them one after another
THREADS = Rule(
    LESSON, "CPU-bound threads: speed-up of 2 threads over sequential", "<=", 1.2, cores=2
)
THREADS_NO_GIL = Rule(THREADS.lesson, THREADS.effect, ">=", 1.6, cores=2)  # free-threaded build
PROCESSES = Rule(
    LESSON, "CPU-bound processes: speed-up of 2 processes over sequential", ">=", 1.6, cores=2
)
# Section 2: turns at the GIL, reported (their length depends on the machine's load)
TURN_EFFECT = "hand-off: median turn of 2 CPU-bound threads (switch interval 5 ms)"
# Section 4: the convoy effect, which shows on one core as well
CONVOY = Rule(
    LESSON,
    "convoy: sleeper's median wake-up delay beside a CPU-bound thread / alone (5 ms)",
    ">=",
    5.0,
)
CONVOY_FALLS = Rule(LESSON, "convoy: that delay at a 0.5 ms switch interval / at 5 ms", "<=", 0.5)
# Section 5: C code that releases the GIL
SHA256 = Rule(LESSON, "sha256 of 1 MiB buffers: speed-up of 2 threads", ">=", 1.5, cores=2)
# Section 2 again, against the tool learners use (a row of the instruments section)
# py-spy needs a core of its own: on one core it takes turns with the threads it samples and
# its samples bunch up (24 pp off under taskset -c 0 here), as the sampler's overhead does.
PY_SPY = Rule(
    "instruments",
    "py-spy GIL share vs the course's (percentage points)",
    "<=",
    10.0,
    unit=" pp",
    cores=2,
)
THREADS_EFFECT = THREADS.effect  # the name the published figures (cited.py) are quoted for


def threads_rule() -> Rule:
    """THREADS on a GIL build, THREADS_NO_GIL on a free-threaded one (same name, same figure)."""
    return THREADS if gil_enabled() else THREADS_NO_GIL


def check(quick: bool = True) -> list[Effect]:
    """The "gil" section of python -m helpers check (about 10 s quick, 20 s full)."""
    from .handoff import handoff
    from .release import gil_release
    from .switching import convoy
    from .threads import threads_vs_processes

    tvp = threads_vs_processes(
        workers=2, task_seconds=0.2 if quick else 0.4, repeats=3 if quick else 5
    )
    sha = gil_release(kinds=("sha256",), threads=(1, 2), seconds=0.1, repeats=5 if quick else 9)
    turn = handoff(threads=2, seconds=0.2, interval=0.005).median_turn * 1e3
    cv = convoy(cpu_threads=(0, 1), intervals=(0.0005, 0.005), samples=15, rounds=3 if quick else 6)
    slowdown = cv.slowdown(1, 0.005)
    falls = cv.median(1, 0.0005) / cv.median(1, 0.005)
    if gil_enabled():
        convoys = [CONVOY.judge(slowdown), CONVOY_FALLS.judge(falls)]
    else:
        why = "free-threaded build: no GIL to wait for, so no convoy is expected"
        convoys = [
            report_only(LESSON, CONVOY.effect, slowdown, unit="x", why=why),
            report_only(LESSON, CONVOY_FALLS.effect, falls, unit="x", why=why),
        ]
    # threads and processes judged at equal CPU speed (cores in use against one after
    # another): the work-span ratio swings by a third on a VM whose CPU speed changes
    return [
        threads_rule().judge(tvp.core_speedup("threads")),
        PROCESSES.judge(tvp.core_speedup("processes")),
        SHA256.judge(sha.speedup("sha256", 2)),
        report_only(LESSON, TURN_EFFECT, turn, unit=" ms", expected="about 5 ms with the GIL"),
        *convoys,
    ]


def tool_agreement(quick: bool = True) -> list[Effect]:
    """py-spy's share of GIL-holding samples per thread against the course's hand-off timeline.

    One row (PY_SPY), in percentage points: the largest gap over the two threads, the median of
    three short runs; "not applicable here" with the reason where py-spy cannot run (not
    installed, no permission to read another process, macOS without sudo, a free-threaded
    build). Called by the instruments section; taught in lesson 03, section 2.
    """
    from .profilers import py_spy_gil_share

    gaps = []
    for _ in range(3):  # one short run in a few lands 10-15 pp off; the median of 3 does not
        spy = py_spy_gil_share(rate=250 if quick else 1000)
        if spy.why_not:
            return [PY_SPY.judge(None, why=f"not applicable here: {spy.why_not}")]
        gaps.append(spy.disagreement_pp)
    return [PY_SPY.judge(statistics.median(gaps))]
