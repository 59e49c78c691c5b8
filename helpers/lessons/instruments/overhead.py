"""How much the sampler behind helpers.measure() slows the code it watches.

Introduced in 00_start_here.ipynb, section 2 (the sampler is a separate process); judged by
the "instruments" check.
"""

from __future__ import annotations

import os
import signal
import statistics

from ...probes import measure, sampler_process
from ...runner import timed
from ...timing import alternating
from ...workloads import cpu


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
            whole = cpu.units_for(seconds)
            bare = timed(cpu.count_steps, whole)[0]
            with measure(interval=interval):
                sampled = timed(cpu.count_steps, whole)[0]
            ratios.append(sampled / bare)
            continue
        spent = {False: 0.0, True: 0.0}  # seconds of loop with the sampler paused, running
        with sampler_process(interval) as sampler:
            for running in alternating((False, True), slices):
                os.kill(sampler.pid, signal.SIGCONT if running else signal.SIGSTOP)
                spent[running] += timed(cpu.count_steps, steps)[0]
            os.kill(sampler.pid, signal.SIGCONT)
        ratios.append(spent[True] / spent[False])
    return statistics.median(ratios) - 1
