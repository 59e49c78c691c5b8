"""Repeated timings that a busy moment cannot bias: alternate the order, take the median.

Introduced in 01_process_pool.ipynb (the speed-up sweep) and used by every lesson that
compares variants: running them round by round spreads a busy spell over all of them.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

T = TypeVar("T")


def alternating(variants: Sequence[T], repeats: int) -> Iterator[T]:
    """Each variant once per round, `repeats` rounds, the order reversed every other round.

    alternating("ab", 3) yields a b, b a, a b. Trap: a variant that always runs first
    (a cold cache, a pool not yet warm) is measured unfairly; alternation halves that bias,
    the median of the rounds removes most of the rest.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be 1 or more, got {repeats!r}")
    items = list(variants)
    for round_ in range(repeats):
        yield from (items if round_ % 2 == 0 else items[::-1])


def median_seconds(variants: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """The median wall time of each call, in seconds, timed in alternating rounds.

    Calls that take microseconds are repeated within a round until they last about 5 ms,
    so the clock's resolution is not what is measured.
    """
    calls = {}
    for name, func in variants.items():
        started = time.perf_counter()
        func()
        calls[name] = max(1, min(1000, int(0.005 / max(time.perf_counter() - started, 1e-7))))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name in alternating(list(variants), repeats):
        func, count = variants[name], calls[name]
        started = time.perf_counter()
        for _ in range(count):
            func()
        times[name].append((time.perf_counter() - started) / count)
    return {name: statistics.median(values) for name, values in times.items()}
