"""Lesson 06, choosing a model and scaling out: 06_choosing_and_scaling_out.ipynb's one import.

    section 1  a decision guide from your measurements  helpers.course.guide
    section 2  asyncio against threads, the blocking    waits.py:     asyncio_vs_threads,
               call that ruins it                                     blocking_pitfall, run_coroutine
    section 3  the same tasks on a dask cluster and     cluster.py:   cluster_vs_pool, scratch_space,
               a Pool; what a task costs                              ON_LOOPBACK, leftovers
    charts                                              charts.py
    exercises  choose a model, a blocking library in    exercises.py: feedback_choices,
               asyncio, Pool.map to Client.map                        feedback_blocking_library,
                                                                      feedback_client_map
    the check  the effects, each named once             check.py:     ASYNCIO_VS_THREADS,
                                                                      DASK_SPEEDUP, DASK_OVERHEAD_RATIO
"""

from .check import ASYNCIO_VS_THREADS, DASK_OVERHEAD_RATIO, DASK_SPEEDUP, effects
from .cluster import ON_LOOPBACK, Leftovers, cluster_vs_pool, leftovers, scratch_space
from .exercises import (
    EXERCISES,
    MODELS,
    WORKLOADS,
    feedback_blocking_library,
    feedback_choices,
    feedback_client_map,
)
from .waits import Variant, asyncio_vs_threads, blocking_pitfall, run_coroutine

__all__ = [  # noqa: RUF022 (grouped by section, as in the map above)
    "Variant", "asyncio_vs_threads", "blocking_pitfall", "run_coroutine",
    "ON_LOOPBACK", "Leftovers", "cluster_vs_pool", "leftovers", "scratch_space",
    "EXERCISES", "MODELS", "WORKLOADS", "feedback_blocking_library", "feedback_choices",
    "feedback_client_map",
    "ASYNCIO_VS_THREADS", "DASK_OVERHEAD_RATIO", "DASK_SPEEDUP", "effects",
]

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {"scaling-asyncio": "asyncio_vs_threads", "scaling-dask": "cluster_vs_pool"}
