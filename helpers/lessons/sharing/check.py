"""Lesson 05's section of ``python -m helpers check``: its effects, each named once, with its threshold.

Introduced in 05_sharing_memory.ipynb; the pre-class check, the notebook's findings, the tests
and the decision guide (helpers.course.guide) import these Rules rather than copy their names.
"""

from __future__ import annotations

import statistics

import numpy as np

from ...course.check import Effect, Rule
from ...servers.redis import find_redis_server, redis_server
from ...timing import alternating
from . import stores as sharing
from .counters import lost_updates
from .round_trips import redis_round_trip

LESSON = "sharing"
READ_RATIO = Rule(LESSON, "shared_memory vs Manager list: item reads per second", ">=", 10)
ROUND_TRIP = Rule(LESSON, "Redis round trip (PING, Unix socket)", "<=", 1000, unit=" µs")
LOST_UNLOCKED = Rule(
    LESSON, "lost updates, Value += 1 without its lock", ">=", 1, unit=" updates", cores=2
)
LOST_LOCKED = Rule(LESSON, "lost updates, Value += 1 under its lock", "<=", 0, unit=" updates")
RULES = (READ_RATIO, ROUND_TRIP, LOST_UNLOCKED, LOST_LOCKED)


def item_read_ratio(fast: str = "shared_memory", slow: str = "manager_list", *,
                    seconds: float = 0.1, repeats: int = 5, items: int = 1 << 16) -> float:
    """How many times more items per second `fast` reads than `slow`, in this process (ratio, x).

    The two are timed in alternating rounds (helpers.timing.alternating), `seconds` each,
    `repeats` rounds; the median ratio is kept. Trap: a Manager's round trip depends on how
    busy the machine is, so only ratios from one run mean anything. Lesson 05, section 2.
    """
    rng = np.random.default_rng(0)
    rates: dict[str, list[float]] = {fast: [], slow: []}
    with sharing.open_store(fast, items) as a, sharing.open_store(slow, items) as b:

        def pick(size):
            return rng.integers(0, items, size).tolist()

        for store in alternating((a, b), repeats):
            done, took = sharing.timed_ops(store.read, pick, seconds)
            rates[store.name].append(done / took)
    return statistics.median(f / s for f, s in zip(rates[fast], rates[slow], strict=True))


def check(quick: bool = True) -> list[Effect]:
    """The sharing section of python -m helpers check: one Effect per Rule above."""
    effects = [READ_RATIO.judge(item_read_ratio(seconds=0.1 if quick else 0.3))]
    if find_redis_server() is None:
        effects.append(ROUND_TRIP.judge(None, "no redis-server found"))
    else:
        with redis_server() as server, server.client() as client:
            rtt = redis_round_trip(client, 500 if quick else 2000)
        effects.append(ROUND_TRIP.judge(rtt * 1e6))
    row = lost_updates(("value",), seconds=0.3 if quick else 1.0).rows[0]
    effects.append(LOST_UNLOCKED.judge(row["lost (unprotected)"]))
    effects.append(LOST_LOCKED.judge(row["lost (protected)"]))
    return effects


__all__ = ["LOST_LOCKED", "LOST_UNLOCKED", "READ_RATIO", "ROUND_TRIP", "RULES", "check",
           "item_read_ratio"]
