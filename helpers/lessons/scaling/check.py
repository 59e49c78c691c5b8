"""Lesson 06's section of ``python -m helpers check``: its effects, each named once, with its threshold.

Introduced in 06_choosing_and_scaling_out.ipynb. The notebook, the tests and the decision
guide (helpers.course.guide) import these constants; data/reference/*.json records the names.
"""

from __future__ import annotations

from ...course.check import Effect, Rule, report_only

LESSON = "scaling"

# Section 2: at the same concurrency the waiting sets the time, not the model.
ASYNCIO_VS_THREADS = Rule(LESSON, "asyncio time / threads time, same concurrency", "<=", 1.3)
# Section 3: a cluster on one machine computes in parallel, like a Pool...
# Judged on the cores the tasks kept busy during each batch (task seconds / wall seconds,
# from the workers' own task events), not on a wall speed-up against a one-core time taken
# earlier: this VM's CPU speed swings between measurements (1.42x to 2.22x on one machine).
DASK_SPEEDUP = Rule(LESSON, "dask: cores kept busy by CPU-bound tasks", ">=", 1.5, cores=2)
# ... but each task costs far more to send than through a Pool's pipe.
DASK_OVERHEAD_RATIO = Rule(LESSON, "dask overhead per task / Pool's (chunksize=1)", ">=", 2.0)
# Reported for the teacher, without a threshold (seconds and milliseconds).
STARTUP = "local cluster start-up"
OVERHEAD = "dask overhead per task"


def effects(asyncio_result=None, cluster_result=None) -> list[Effect]:
    """This lesson's effects, from results already measured (None: that part is left out).

    Used by check() and by the notebook, which passes its own results to the decision guide
    so nothing runs twice (Lesson 06, section 4).
    """
    found: list[Effect] = []
    if asyncio_result is not None:
        found.append(ASYNCIO_VS_THREADS.judge(asyncio_result.time_ratio()))
    if cluster_result is not None:
        r = cluster_result
        found += [
            DASK_SPEEDUP.judge(r.cores_busy("dask")),
            report_only(LESSON, STARTUP, r.startup["dask"], unit=" s"),
            report_only(LESSON, OVERHEAD, r.overhead("dask Client.map") * 1e3, unit=" ms"),
            DASK_OVERHEAD_RATIO.judge(
                r.overhead("dask Client.map") / max(r.overhead("Pool.map, chunksize=1"), 1e-7)
            ),
        ]
    return found


def check(quick: bool = True) -> list[Effect]:
    """The scaling section of python -m helpers check: asyncio, then a local dask cluster."""
    from ...machine import usable_cores
    from .cluster import cluster_vs_pool
    from .waits import asyncio_vs_threads

    a = asyncio_vs_threads(requests=16 if quick else 32, delay=0.1, workers=4 if quick else 8,
                           repeats=3, all_at_once=False)
    c = cluster_vs_pool(tasks=(2 if quick else 4) * max(2, usable_cores()), task_seconds=0.2,
                        tiny_tasks=100 if quick else 300, repeats=3, show_link=False)
    return effects(a, c)
