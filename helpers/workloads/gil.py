"""Thread work for the GIL lesson: stamped CPU-bound loops, GIL-releasing C work, a wake-up probe.

Introduced in 03_gil_contention.ipynb. Every thread started here checks a stop Event between
short blocks of work, so an error, a timeout or an interrupt ends them all within milliseconds.

The progress stamps are how we see the GIL: a CPU-bound thread stores time.perf_counter()
in a preallocated list after every block of about 50 us of work (about 0.1 us, well under 1%
of the work). Where a thread's stamps stop for milliseconds, another held the interpreter.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import threading
import time
import timeit
import weakref
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..events import TaskEvent, emit
from ..units import MiB
from . import cpu

BLOCK_SECONDS = 50e-6  # work between two progress stamps
STOP_TIMEOUT = 10.0  # seconds to wait for threads to notice the stop Event
WORK_EVERY = 1000  # loop steps between two stamps in work(): about 50 us, fixed so that a
# spawned worker need not calibrate (which would delay its start by a few hundred ms)
_seconds_per_block: dict[int, float] = {}  # steps_for's timing of one block, per block size


def block_steps(seconds: float = BLOCK_SECONDS) -> int:
    """Loop steps in one block of work between two stamps (about 50 us on this machine)."""
    return max(1, cpu.units_for(seconds))


def steps_for(seconds: float, every: int | None = None) -> int:
    """Loop steps, a whole number of blocks, that stamped_spin runs in about `seconds`.

    Short loops run faster per step than cpu.calibrate()'s long one (their numbers stay
    small), so the blocks are timed themselves, once per process: the best of 3 runs of 10 ms.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    every = block_steps() if every is None else every
    if every not in _seconds_per_block:
        blocks = max(1, round(0.01 / BLOCK_SECONDS))
        runs = timeit.repeat(functools.partial(cpu.spin, every), number=blocks, repeat=3)
        _seconds_per_block[every] = min(runs) / blocks
    return every * max(1, round(seconds / _seconds_per_block[every]))


@dataclass
class Progress:
    """One worker's run: when it started and when it finished each block (perf_counter s).

    cpu: CPU seconds of the worker's own thread (did it run or only wait). perf_counter reads
    a system-wide monotonic clock, so stamps taken in worker processes line up with the parent's.
    """

    label: str
    pid: int
    thread: str
    start: float
    stamps: list[float]
    cpu: float

    @property
    def end(self) -> float:
        return self.stamps[-1] if self.stamps else self.start


def stamped_spin(
    steps: int, every: int, stop: threading.Event | None = None, label: str = ""
) -> Progress:
    """Run `steps` loop steps of pure Python, stamping the time after each `every` steps.

    The list is preallocated so a stamp is one clock read and one store. Holds the GIL
    throughout (on a GIL build). Stops early, keeping the stamps so far, once stop is set.
    """
    blocks = max(1, steps // max(1, every))
    stamps = [0.0] * blocks
    clock, loop = time.perf_counter, cpu.count_steps  # local names: a stamp costs less
    cpu0, start = time.thread_time(), clock()
    for b in range(blocks):
        loop(every)
        stamps[b] = clock()
        if stop is not None and stop.is_set():
            del stamps[b + 1 :]
            break
    thread = threading.current_thread().name
    return Progress(label or thread, os.getpid(), thread, start, stamps, time.thread_time() - cpu0)


def progress_spans(progress: Progress, block: float) -> list[tuple[float, float]]:
    """The stretches (start, end), in perf_counter s, during which a worker made progress.

    block: the seconds of one block of work. Stamps closer than 4 blocks are merged (trap: a
    shorter threshold splits a stretch wherever the OS paused the thread). Lesson 03, section 1.
    """
    spans: list[tuple[float, float]] = []
    for t in progress.stamps:
        if spans and t - spans[-1][1] <= 4 * block:
            spans[-1] = (spans[-1][0], t)
        else:
            spans.append((t - block, t))
    return spans


def work(
    steps: int,
    every: int = WORK_EVERY,
    stop: threading.Event | None = None,
    ready: Any = None,
) -> None:
    """Runs in each worker. `steps` steps of a pure-Python loop, in a thread or a process.

    The loop holds the GIL throughout (on a GIL build) and notes time.perf_counter() after each
    block of `every` steps. When done it tells the enclosing helpers.measure() (nothing outside
    one) when it worked: one "work" event (first and last step, its thread's CPU seconds) and
    one "progress" event per stretch it ran without waiting. stop: an Event that ends the loop
    early. ready: a Barrier to wait at first, so processes started one after another begin
    together (trap: else the first one's head start counts as work time). Lesson 03, section 1.
    """
    if ready is not None:
        ready.wait(STOP_TIMEOUT)
    progress = stamped_spin(steps, every, stop)
    gaps = sorted(b - a for a, b in zip(progress.stamps, progress.stamps[1:], strict=False))
    block = gaps[len(gaps) // 2] if gaps else 0.0
    pid, thread = progress.pid, progress.thread
    emit(TaskEvent("work", pid, thread, progress.start, progress.end, progress.cpu))
    for start, end in progress_spans(progress, block):
        emit(TaskEvent("progress", pid, thread, start, end, 0.0))


def spin_until(stop: threading.Event, every: int) -> int:
    """Burn the GIL in blocks of `every` steps until stop is set; return the blocks done."""
    blocks, loop = 0, cpu.count_steps
    while not stop.is_set():
        loop(every)
        blocks += 1
    return blocks


_started: weakref.WeakSet[threading.Thread] = weakref.WeakSet()
Work = Callable[[threading.Event], Any]  # a function the threads here run: work(stop)


def running_threads() -> list[threading.Thread]:
    """Threads started by this module that are still alive (none, after any experiment)."""
    return [t for t in list(_started) if t.is_alive()]


@dataclass
class ThreadGroup:
    """Threads running work(stop) functions; results and errors land here in start order."""

    threads: list[threading.Thread]
    results: list[Any] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    def join(self, timeout: float) -> list[Any]:
        """Wait for every thread up to timeout seconds; raise TimeoutError if one is still busy."""
        deadline = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self.threads):
            raise TimeoutError(
                f"threads did not finish within {timeout:.0f} s; they were stopped. The machine "
                "may be far busier than expected."
            )
        if self.errors:
            raise self.errors[0]
        return self.results


@contextmanager
def thread_group(works: Sequence[Work], name: str = "worker"):
    """Start one thread per work(stop) function; on leaving, set stop and join them all.

    Leaving covers a normal end, an error, a timeout and KeyboardInterrupt: each work
    function checks stop between short blocks, so the join returns within milliseconds.
    """
    stop = threading.Event()
    group = ThreadGroup([], [None] * len(works))

    def run(index: int, work: Work) -> None:
        try:
            group.results[index] = work(stop)
        except BaseException as exc:  # reported by join(); the other threads stop too
            group.errors.append(exc)
            stop.set()

    group.threads = [
        threading.Thread(target=run, args=(i, w), name=f"{name}-{i + 1}", daemon=True)
        for i, w in enumerate(works)
    ]
    try:
        for t in group.threads:
            _started.add(t)
            t.start()
        yield group
    finally:
        stop.set()
        for t in group.threads:
            t.join(STOP_TIMEOUT)


def run_threads(works: Sequence[Work], *, timeout: float = 60.0, name="worker") -> list[Any]:
    """Run each work(stop) in its own thread, all at once; return their results in order."""
    with thread_group(works, name=name) as group:
        return group.join(timeout)


@contextmanager
def busy_threads(count: int, every: int | None = None) -> Iterator[ThreadGroup]:
    """`count` CPU-bound threads spinning in the background for the length of the block."""
    every = block_steps() if every is None else every
    started = threading.Barrier(count + 1)

    def work(stop: threading.Event) -> int:
        try:
            started.wait(STOP_TIMEOUT)
        except threading.BrokenBarrierError:  # the block was left before it began
            return 0
        return spin_until(stop, every)

    with thread_group([work] * count, name="cpu-bound") as group:
        try:
            started.wait(STOP_TIMEOUT)  # every spinner is running before the block starts
        except BaseException:
            started.abort()  # release the spinners at once (an interrupt, say)
            raise
        yield group


@contextmanager
def switch_interval(seconds: float) -> Iterator[float]:
    """Set sys.setswitchinterval(seconds) for the block, then restore the old value: how long a
    thread waiting for the GIL waits before it asks the holder to let go (default 0.005 s)."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(
            f"the switch interval must be a positive number of seconds, got {seconds!r}"
        )
    old = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield sys.getswitchinterval()
    finally:
        sys.setswitchinterval(old)


def wakeup_delays(samples: int, period: float = 0.001) -> list[float]:
    """Sleep `period` seconds `samples` times; return how late each sleep ended, in seconds.

    After time.sleep the thread must take the GIL back before its next line runs, so the
    delay includes any wait for the GIL: this is an I/O thread's reaction time.
    """
    delays, clock = [0.0] * samples, time.perf_counter
    for i in range(samples):
        start = clock()
        time.sleep(period)
        delays[i] = clock() - start - period
    return delays


# the kinds of c_work(): pure Python, then C code that releases the GIL
KINDS = ("pure Python", "sha256", "zlib", "numpy")


@dataclass
class CInputs:
    """Inputs for the GIL-releasing work, made once and shared read-only by the threads."""

    raw: bytes  # random bytes for sha256
    compressible: bytes  # random bytes of 4 bits each: zlib halves them, slowly
    floats: Any  # numpy float64 array for np.sin
    steps: int  # pure-Python loop steps in one unit


def make_inputs(nbytes: int = MiB) -> CInputs:
    """Random inputs: nbytes for sha256, a sixteenth for zlib, a quarter (as floats) for numpy,
    so that one unit of each kind takes a few milliseconds."""
    import numpy as np

    rng = np.random.default_rng(0)
    return CInputs(
        raw=rng.integers(0, 256, nbytes, dtype=np.uint8).tobytes(),
        compressible=rng.integers(0, 16, nbytes // 16, dtype=np.uint8).tobytes(),
        floats=rng.random(nbytes // 32),
        steps=cpu.units_for(0.002),
    )


def _unit(kind: str, inputs: CInputs) -> Callable[[], object]:
    """One unit of work of the given kind, as a function of no arguments."""
    if kind == "pure Python":
        return lambda: cpu.spin(inputs.steps)
    if kind == "sha256":  # hashlib lets go of the GIL for buffers over 2 KiB
        return lambda: hashlib.sha256(inputs.raw).digest()
    if kind == "zlib":  # deflate runs without the GIL
        return lambda: zlib.compress(inputs.compressible, 6)
    if kind == "numpy":  # ufunc loops over plain numbers run without the GIL
        import numpy as np

        out = np.empty_like(inputs.floats)  # one output per thread: no allocation per unit
        return lambda: np.sin(inputs.floats, out=out)
    raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(KINDS)}")


def c_work(kind: str, units: int, inputs: CInputs, stop: threading.Event | None = None) -> int:
    """Do `units` units of the given kind of work; return the units done (fewer if stopped)."""
    unit = _unit(kind, inputs)
    for done in range(units):
        if stop is not None and stop.is_set():
            return done
        unit()
    return units


def unit_seconds(kind: str, inputs: CInputs, repeats: int = 3) -> float:
    """Seconds one unit of kind takes on one thread here (the best of a few runs)."""
    return min(timeit.repeat(_unit(kind, inputs), number=1, repeat=repeats))


def stamp_threads_to_file(out: str, every: int, *steps: int) -> None:
    """Runs in each worker. Here the worker is the child process py-spy profiles.

    One CPU-bound thread per `steps`, stamping every `every` steps, named course-1,
    course-2...; their stamps go to the file out as JSON {thread name: {"tid": the OS
    thread id py-spy reports, "start": s, "stamps": [...]}}. Lesson 03, section 2 (py-spy).
    """
    import json

    def stamped(n: int, stop: threading.Event) -> tuple[Progress, int]:
        return stamped_spin(n, int(every), stop), threading.get_native_id()

    works = [functools.partial(stamped, int(n)) for n in steps]
    found = run_threads(works, name="course")
    stamps = {p.thread: {"tid": tid, "start": p.start, "stamps": p.stamps} for p, tid in found}
    with open(out, "w") as f:
        json.dump(stamps, f)


if __name__ == "__main__":
    stamp_threads_to_file(*sys.argv[1:])
