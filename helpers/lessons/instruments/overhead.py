"""How much the sampler behind helpers.measure() slows the code it watches.

Introduced in 00_start_here.ipynb, section 2 (the sampler is a separate process); judged by
the "instruments" check.
"""

from __future__ import annotations

import os
import signal
import statistics
import time

from ...probes import measure, sampler_process
from ...timing import alternating
from ...workloads import cpu


def _busy(seconds: float) -> float:
    """Run the CPU-bound loop for about `seconds`; return the wall time it took."""
    steps = cpu.units_for(seconds)
    start = time.perf_counter()
    cpu.count_steps(steps)
    return time.perf_counter() - start


def sampler_overhead(
    seconds: float = 2.0, repeats: int = 3, interval: float = 0.05, slice_seconds: float = 0.1
) -> float:
    """How much the sampler slows a CPU-bound loop in this process (0.01 = 1%).

    One sampler runs throughout; the loop runs in short slices, alternately with the sampler
    paused (SIGSTOP) and sampling, so both halves see the same machine a moment apart and
    drifts in CPU speed cancel. Each repeat gives sum(sampled) / sum(paused); the result is
    the median over repeats. Where signals cannot pause a process (Windows), whole runs are
    paired instead, which is noisier. Trap: on one core the sampler takes its CPU time from
    the loop it measures. Lesson 00, section 2 (the sampler runs outside your process).
    """
    cpu.calibrate()
    steps = cpu.units_for(slice_seconds)
    slices = max(2, round(seconds / slice_seconds))
    ratios = []
    for _ in range(repeats):
        if not hasattr(signal, "SIGSTOP"):
            bare = _busy(seconds)
            with measure(interval=interval):
                sampled = _busy(seconds)
            ratios.append(sampled / bare)
            continue
        paused = sampled = 0.0
        with sampler_process(interval) as sampler:
            for running in alternating((False, True), slices):
                os.kill(sampler.pid, signal.SIGCONT if running else signal.SIGSTOP)
                start = time.perf_counter()
                cpu.count_steps(steps)
                took = time.perf_counter() - start
                if running:
                    sampled += took
                else:
                    paused += took
            os.kill(sampler.pid, signal.SIGCONT)
        ratios.append(sampled / paused)
    return statistics.median(ratios) - 1
