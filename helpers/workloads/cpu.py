"""CPU-bound pure-Python work, sized by duration rather than by a count.

Introduced in 01_process_pool.ipynb. ``calibrate()`` measures once per process how many
loop steps this machine runs per second; ``units_for(seconds)`` turns a wanted duration into
a step count that the parent computes and passes to workers, so workers never recalibrate.
"""

from __future__ import annotations

import os
import time

from ..events import recorded

_steps_per_second: float | None = None


def _loop(steps: int) -> int:
    total = 0
    for i in range(steps):
        total += i * i % 7
    return total


def calibrate(target: float = 0.1, repeats: int = 3) -> float:
    """Loop steps this machine runs per second (the best of a few short runs); cached."""
    global _steps_per_second
    if _steps_per_second is None:
        steps, best = 50_000, 0.0
        while True:  # grow the probe until one run takes a measurable time
            start = time.perf_counter()
            _loop(steps)
            elapsed = time.perf_counter() - start
            if elapsed >= target / 4:
                break
            steps *= 2
        for _ in range(repeats):
            start = time.perf_counter()
            _loop(steps)
            best = max(best, steps / (time.perf_counter() - start))
        _steps_per_second = best
    return _steps_per_second


def units_for(seconds: float) -> int:
    """Loop steps that take about `seconds` of one core on this machine."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    return max(1, int(seconds * calibrate()))


@recorded
def spin(steps: int) -> int:
    """Burn one core for `steps` loop steps of pure Python (holds the GIL throughout)."""
    return _loop(steps)


@recorded
def square(x: float) -> float:
    """A tiny task: its cost is dwarfed by sending it to a worker and back."""
    return x * x


@recorded
def fail_if(x: int, bad: int = 3) -> int:
    """Return x, but raise ValueError for x == bad: a task that fails on purpose."""
    if x == bad:
        raise ValueError(f"task {x} failed on purpose (pid {os.getpid()})")
    return x
