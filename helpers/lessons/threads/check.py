"""The "threads" section of ``python -m helpers check``: lesson 02's effects, each named once.

Introduced in 02_threads.ipynb (sections 2 and 3). The check, the tests and helpers.course.guide
import these Rules; data/reference/*.json records their names: keep them stable.
"""

from __future__ import annotations

from ...course.check import Effect, Rule, report_only
from .race import race
from .speedup import io_speedup

LESSON = "threads"

# Section 2: 32 requests that each wait 50 ms, on 16 threads against one (x, any core count:
# waiting needs no core).
IO_SPEEDUP = Rule(LESSON, "16 threads over 32 requests of 50 ms vs 1 thread", ">=", 8.0)
# Section 3: updates lost when threads read, wait for I/O and write back, without a lock
# (count) and with a Lock (count).
LOST_WITHOUT_LOCK = Rule(LESSON, "updates lost: read, I/O, write without a lock", ">=", 1, unit="")
LOST_WITH_LOCK = Rule(LESSON, "updates lost: the same with a Lock", "<=", 0, unit="")
# Reported without a threshold: they depend on where the interpreter switches threads.
LOST_WITH_CALL = "updates lost: read, call, write"
LOST_PLAIN = "updates lost: plain += (CPython 3.10+: usually 0)"


def check(quick: bool = True) -> list[Effect]:
    """16 I/O threads against one, and lost updates without and with a lock (Lesson 02)."""
    r = io_speedup(threads=(1, 16), tasks=32, delay=0.05, repeats=2 if quick else 3)
    lost = race(threads=4, times=100_000 if quick else 300_000).lost
    return [
        IO_SPEEDUP.judge(r.speedup(16)),
        LOST_WITHOUT_LOCK.judge(lost["read, I/O, write"]),
        LOST_WITH_LOCK.judge(lost["read, I/O, write with a Lock"]),
        report_only(LESSON, LOST_WITH_CALL, lost["read, call, write"]),
        report_only(LESSON, LOST_PLAIN, lost["plain +="]),
    ]
