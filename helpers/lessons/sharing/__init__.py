"""Lesson 05: sharing data between processes, every strategy measured (claim C7).

The notebook's one import (05_sharing_memory.ipynb). A map of the lesson's sections:

    section                         module          what it offers
    1 the calls, by hand            by_hand         by_hand_row(), by_hand_table()
    2 the same task, side by side   comparison      compare(), strategies(), default_size_mb()
    3 lost updates                  counters        lost_updates()
    4 Redis round trips             round_trips     redis_costs(), redis_round_trip()
    5 the shared_memory life cycle  lifecycle       shm_life_cycle(), report_leftovers()
      exercises                     exercises       feedback_*(), EXERCISES
      pre-class check               check           check(), its Rules, item_read_ratio()

The strategies themselves (one interface, Shared, and a class per way of sharing) are in
stores (base, local, managed, remote); the worker side is helpers.workloads.sharing; the
charts are in charts.
"""

from __future__ import annotations

from .by_hand import by_hand_row, by_hand_table
from .check import LOST_LOCKED, LOST_UNLOCKED, READ_RATIO, ROUND_TRIP, item_read_ratio
from .comparison import DEFAULT_STRATEGIES, CompareResult, compare, default_size_mb, strategies
from .counters import COUNTER_STRATEGIES, lost_updates
from .exercises import (
    EXERCISES,
    feedback_locked_counter,
    feedback_merged_counter,
    feedback_pipeline,
    feedback_shared_squares,
)
from .lifecycle import report_leftovers, shm_life_cycle
from .round_trips import redis_costs, redis_round_trip

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "sharing-compare": "compare",
    "sharing-lost-updates": "lost_updates",
    "sharing-redis": "redis_costs",
    "sharing-life-cycle": "shm_life_cycle",
}

__all__ = [
    "COUNTER_STRATEGIES", "DEFAULT_STRATEGIES", "EXERCISES", "EXPERIMENTS", "LOST_LOCKED",
    "LOST_UNLOCKED", "READ_RATIO", "ROUND_TRIP", "CompareResult", "by_hand_row", "by_hand_table",
    "compare", "default_size_mb", "feedback_locked_counter", "feedback_merged_counter",
    "feedback_pipeline", "feedback_shared_squares", "item_read_ratio", "lost_updates",
    "redis_costs", "redis_round_trip", "report_leftovers", "shm_life_cycle", "strategies",
]
