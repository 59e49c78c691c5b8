"""Lesson 04's section of ``python -m helpers check``: each effect named once, with its threshold.

Introduced in 04_memory_duplication.ipynb. Everything else (the tests, helpers.course.guide,
lesson 07) imports these Rule constants; effect names match data/reference/*.json.
"""

from __future__ import annotations

import statistics
import struct

from ...course.check import Effect, Rule
from ...machine import memory_budget_bytes, pss_available, start_methods
from ...units import MiB
from . import forkserver
from .cases import run_case
from .findings import FULL, SHARED
from .post import post_setup

LESSON = "memory"
WORKERS = 4

RSS_OVERCOUNT = Rule(
    LESSON, f"summed RSS growth vs ground truth ({WORKERS} fork workers, median of 3)", ">=",
    0.7 * WORKERS,
)
PSS_ERROR = Rule(LESSON, "PSS total vs ground truth (error, median of 3)", "<=", 20, unit="%")
DISTINCT_COPIED = Rule(
    LESSON, "distinct ints: share of the objects' memory each worker copied", ">=", 60, unit="%"
)
SPAWN_COPIES = Rule(
    LESSON, f"spawn: copies rebuilt by {WORKERS} workers", ">=", 0.8 * WORKERS, unit="x"
)
GC_DEFAULT_COPIED = Rule(
    LESSON, "full collection, GC as is: share of the small lists' pages each worker copied",
    ">=", FULL * 100, unit="%",
)
GC_FREEZE_COPIED = Rule(
    LESSON, "full collection after gc.freeze(): share of the small lists' pages each worker copied",
    "<=", SHARED * 100, unit="%",
)
FORKSERVER_GLOBAL = {  # by the version's expected behaviour (forkserver.expected_behaviour())
    behaviour: Rule(LESSON, "forkserver: copies of a script's global per worker", op, lim, unit="x")
    for behaviour, op, lim in (("rebuilds", ">=", 0.8), ("shares", "<=", 0.2))
}
FORKSERVER_PRELOAD = Rule(
    LESSON, "forkserver with set_forkserver_preload(): copies of the global per worker", "<=",
    0.2, unit="x",
)


def check_size(quick: bool) -> float:
    """MiB of data for the check: bigger than the lesson's, so others' memory moves matter less."""
    return min(64 if quick else 128, memory_budget_bytes() // ((WORKERS + 1) * MiB))


def distinct_copied_percent(size_mb: float) -> float:
    """What the median worker copied by reading distinct ints, in % of the ints' own memory."""
    distinct = run_case("distinct", workers=WORKERS, size_mb=size_mb)
    pointers = distinct.items * struct.calcsize("P")  # the list's own array stays shared
    objects = max(distinct.data_bytes - pointers, 1)
    return (distinct.median_worker_private or 0) / objects * 100


def counting_effects(size_mb: float) -> list[Effect]:
    """Summed RSS against the ground truth, and the PSS total's error (medians of 3 runs)."""
    runs = [post_setup(workers=WORKERS, size_mb=size_mb, memory_profiler=False) for _ in range(3)]
    error = statistics.median(abs(r.total_error) for r in runs) * 100
    return [
        RSS_OVERCOUNT.judge(statistics.median(r.rss_overcount for r in runs)),
        PSS_ERROR.judge(error, "") if pss_available() else PSS_ERROR.judge(None, "PSS needs Linux"),
    ]


def gc_effects(size_mb: float) -> list[Effect]:
    """The share of the parent's small lists each worker copied in a full collection."""
    effects = []
    for rule, name in ((GC_DEFAULT_COPIED, "gc-default"), (GC_FREEZE_COPIED, "gc-freeze")):
        r = run_case(name, workers=WORKERS, size_mb=size_mb / 2)
        share = r.copied_share
        collected = r.full_collections >= WORKERS
        why = "" if collected else "no full collection ran in some worker"
        effects.append(rule.judge(share * 100 if share is not None and collected else None, why))
    return effects


def forkserver_effects(quick: bool) -> list[Effect]:
    """Copies of a script's global per forkserver worker, without and with preload."""
    if "forkserver" not in start_methods():
        why = "this platform has no forkserver start method"
        return [FORKSERVER_GLOBAL["rebuilds"].judge(None, why), FORKSERVER_PRELOAD.judge(None, why)]
    rule = FORKSERVER_GLOBAL[forkserver.expected_behaviour()]
    return [
        rule.judge(forkserver.forkserver_copies(False, quick), forkserver.version_sentence()),
        FORKSERVER_PRELOAD.judge(forkserver.forkserver_copies(True, quick)),
    ]


def check(quick: bool = True) -> list[Effect]:
    """The memory section: counting, copies by reading, the GC and freeze, spawn, forkserver."""
    if "fork" not in start_methods():
        why = "this platform has no fork start method"
        return [RSS_OVERCOUNT.judge(None, why), *forkserver_effects(quick)]
    size = check_size(quick)
    effects = counting_effects(size)
    effects.append(DISTINCT_COPIED.judge(distinct_copied_percent(size)))
    effects += gc_effects(size)
    if "spawn" in start_methods():
        effects.append(SPAWN_COPIES.judge(run_case("spawn", workers=WORKERS, size_mb=size).copies))
    return effects + forkserver_effects(quick)


__all__ = ["check"]
