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


def count_steps(steps: int) -> int:
    """The bare loop: `steps` steps of pure Python, unrecorded (for timing and calibration)."""
    total = 0
    for i in range(steps):
        total += i * i % 7
    return total


def _cpu_clock():
    """This thread's CPU-time clock where it is fine-grained (Linux, macOS), else wall time.

    Calibrating on CPU time keeps the step count right on a busy machine: time spent waiting
    for a core while other programs run does not count as work done.
    """
    if time.get_clock_info("thread_time").resolution <= 1e-6:
        return time.thread_time
    return time.perf_counter  # Windows: thread_time ticks every 15.6 ms


def calibrate(target: float = 0.1, repeats: int = 3) -> float:
    """Loop steps this machine runs per second of one core's CPU time (best of a few runs); cached."""
    global _steps_per_second
    if _steps_per_second is None:
        clock, steps = _cpu_clock(), 50_000
        while _seconds(clock, steps) < target / 4:  # grow until one run takes measurable time
            steps *= 2
        rates = (steps / _seconds(clock, steps) for _ in range(repeats))
        _steps_per_second = max(rates, default=0.0)
    return _steps_per_second


def _seconds(clock, steps: int) -> float:
    """How long count_steps(steps) takes on clock."""
    start = clock()
    count_steps(steps)
    return clock() - start


def units_for(seconds: float) -> int:
    """Loop steps that take about `seconds` of one core on this machine."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds!r}")
    return max(1, int(seconds * calibrate()))


steps_for = units_for  # the same function, under the name that says what it returns


@recorded
def spin(steps: int) -> int:
    """Runs in each worker. Burn one core for `steps` loop steps of pure Python (holds the GIL).

    Returns count_steps(steps); recorded as a task event named "spin". Lesson 01, section 5.
    """
    return count_steps(steps)


@recorded
def square(x: float) -> float:
    """Runs in each worker. A tiny task: its cost is dwarfed by the trip to a worker and back."""
    return x * x


@recorded
def fail_if(x: int, bad: int = 3) -> int:
    """Runs in each worker. Return x, but raise ValueError for x == bad: fails on purpose."""
    if x == bad:
        raise ValueError(f"task {x} failed on purpose (pid {os.getpid()})")
    return x


def increment(x: int) -> int:
    """Runs in each worker. x + 1, unrecorded: far cheaper than the trip to a worker and back.

    For the chunksize experiments, where @recorded's bookkeeping would blur the overhead.
    """
    return x + 1


def cube(x: float) -> float:
    """Runs in each worker. x cubed: the module-level twin of lesson 01's notebook function."""
    return x**3


@recorded
def spin_labelled(label: int, steps: int) -> int:
    """Runs in each worker. Burn `steps` loop steps, return label: which result arrives when."""
    spin(steps)
    return label


def spin_labelled_job(job: tuple[int, int]) -> int:
    """Runs in each worker. spin_labelled for map and imap (one argument): job = (label, steps)."""
    label, steps = job
    return spin_labelled(label, steps)


def spin_timed(steps: int) -> tuple[int, float, float, float]:
    """Runs in each worker. Burn `steps` loop steps; return (pid, start, end, cpu seconds).

    start and end are system-wide time.perf_counter() seconds, so the parent can put many
    workers' tasks on one time axis, and a timeline of very short tasks costs no event file
    write per task. end - start exceeds cpu when the task waited for a core.
    """
    start, cpu0 = time.perf_counter(), time.thread_time()
    spin(steps)
    return os.getpid(), start, time.perf_counter(), time.thread_time() - cpu0
