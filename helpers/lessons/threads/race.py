"""A race on a shared counter, and its fix with a Lock: lesson 02, section 3.

Introduced in 02_threads.ipynb. Threads share memory: when several read a value, change it
and write it back, one can overwrite another's change. ``race()`` runs four ways of adding
to one counter from several threads released at the same moment, and counts the updates lost.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ...machine import require_workers
from ...results import Result
from ...runner import DEFAULT_TIMEOUT


class Counter:
    """A shared count that threads add to: value, an int, and lock. Lesson 02, section 3."""

    def __init__(self) -> None:
        self.value = 0
        self.lock = threading.Lock()


def _plus_one(value: int) -> int:
    return value + 1


def add_plain(counter: Counter, times: int) -> None:
    """counter.value += 1, times times: one statement, no call inside it. Lesson 02, section 3."""
    for _ in range(times):
        counter.value += 1


def add_with_call(counter: Counter, times: int) -> None:
    """Read, call a function, write back: CPython may switch threads as the call starts. Lesson 02, section 3."""
    for _ in range(times):
        value = counter.value
        value = _plus_one(value)  # any call: a lookup, a computation, a log line
        counter.value = value


def add_with_io(counter: Counter, times: int) -> None:
    """Read, wait for I/O, write back: the wait releases the GIL, so others run in between.

    time.sleep(0) is the shortest wait there is; a file write, a database query or a
    request to a server releases the GIL in the same way, for longer.
    Lesson 02, section 3.
    """
    for _ in range(times):
        value = counter.value
        time.sleep(0)
        counter.value = value + 1


def add_with_io_locked(counter: Counter, times: int) -> None:
    """The same read, wait and write, with the lock held: no other thread can come between. Lesson 02, section 3."""
    for _ in range(times):
        with counter.lock:
            value = counter.value
            time.sleep(0)
            counter.value = value + 1


# name -> (function, share of `times` it runs): a wait costs a system call, so those variants
# run fewer additions to take about as long as the others
VARIANTS: dict[str, tuple[Callable[[Counter, int], None], float]] = {
    "plain +=": (add_plain, 1.0),
    "read, call, write": (add_with_call, 1.0),
    "read, I/O, write": (add_with_io, 0.005),
    "read, I/O, write with a Lock": (add_with_io_locked, 0.005),
}
MAX_TIMES = 2_000_000  # additions per thread: far past what shows the race, and over in seconds


def _start_together(barrier: threading.Barrier, add, target: object, times: int) -> None:
    try:
        barrier.wait()  # every thread starts adding at the same moment, so they overlap
    except threading.BrokenBarrierError:  # the run was interrupted before it began
        return
    add(target, times)


def run_together(add: Callable, target: object, times: int, threads: int) -> float:
    """Run add(target, times) in `threads` threads released at once; return the seconds taken.

    The threads are always joined before this returns, on an interrupt too, so none is left
    running: an interrupt waits for the additions under way (bounded by `times`) to end.
    Lesson 02, section 3 and exercise 2 (the bank account).
    """
    barrier = threading.Barrier(threads + 1, timeout=DEFAULT_TIMEOUT)
    workers = [
        threading.Thread(
            target=_start_together, args=(barrier, add, target, times), name=f"adder-{i}"
        )
        for i in range(threads)
    ]
    try:
        for w in workers:
            w.start()
        barrier.wait()
        start = time.perf_counter()
        for w in workers:
            w.join()
        return time.perf_counter() - start
    finally:
        barrier.abort()  # releases workers still waiting at the barrier (after an interrupt)
        for w in workers:
            if w.ident is not None:
                w.join()


@dataclass
class RaceResult(Result):
    """Lost updates per way of adding to a shared counter. Lesson 02, section 3."""

    expected: dict[str, int] = field(default_factory=dict)
    lost: dict[str, int] = field(default_factory=dict)

    def plot(self):
        from ... import charts as plots

        names = list(self.lost)
        return plots.bars(names, [100 * self.lost[k] / self.expected[k] for k in names],
                          ylabel="updates lost (% of all)",
                          title=f"{self.params['threads']} threads add 1 to one shared counter")


def race(
    threads: int = 4, times: int = 200_000, variants: Sequence[str] | None = None
) -> RaceResult:
    """Each variant: `threads` threads add 1 to one counter, all at once; count what is lost.

    times: additions per thread for the variants without I/O; those that wait for I/O run
    0.5% of it (a wait is a system call, far slower than an addition). Trap: a race depends
    on timing, so a run that loses nothing proves little. Lesson 02, section 3.
    """
    names = list(VARIANTS) if variants is None else list(variants)
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variant {unknown[0]!r}; known: {', '.join(VARIANTS)}")
    require_workers(threads, what="threads")
    require_workers(times, what="times")
    if times > MAX_TIMES:
        raise ValueError(f"times must be at most {MAX_TIMES:,}, got {times:,}")
    result = RaceResult(
        title=f"{threads} threads add 1 to one shared counter, all at once",
        params={"threads": threads, "times": times, "switch interval (s)": sys.getswitchinterval()},
    )
    for name in names:
        add, share = VARIANTS[name]
        each = max(1, round(times * share))
        counter = Counter()
        took = run_together(add, counter, each, threads)
        expected, count = threads * each, counter.value
        lost = expected - count
        result.expected[name], result.lost[name] = expected, lost
        result.rows.append({"variant": name, "expected": expected, "counted": count, "lost": lost,
                            "lost (%)": 100 * lost / expected, "time (s)": took})
        result.findings.append(_race_finding(name, expected, count))
    seconds = {row["variant"]: row["time (s)"] for row in result.rows}
    unsafe, safe = "read, I/O, write", "read, I/O, write with a Lock"
    if unsafe in seconds and safe in seconds:
        result.findings.append(
            f"The lock made the same additions {seconds[safe] / seconds[unsafe]:.1f}x slower: "
            "a thread that waits while holding it keeps every other thread waiting too."
        )
    return result


def _race_finding(name: str, expected: int, count: int) -> str:
    lost = expected - count
    share = f"{lost:,} of {expected:,} updates lost ({lost / expected:.0%})"
    if name == "plain +=":
        if lost:
            return f"{name}: {share}: this interpreter switched threads inside the statement."
        return (
            f"{name}: {share} in this run. CPython 3.10 and later switch threads only at "
            "certain points, such as a call or a loop's jump back, and this statement has none "
            "between its read and its write. That is a detail of the interpreter, not a "
            "promise: a free-threaded build, or a property in place of the attribute, loses updates."
        )
    if name == "read, call, write":
        if lost:
            return (
                f"{name}: {share}. A thread switched out as the call began later wrote back "
                "its stale value, wiping out what the other threads had added meanwhile."
            )
        return (
            f"{name}: {share} in this run: no thread switch landed on the call. "
            "Run it again, or with more additions: the race is there, it is a matter of timing."
        )
    if "Lock" in name:
        return f"{name}: {share}. " + (
            "The lock lets one thread at a time through read, wait and write."
            if lost == 0
            else "Updates were lost even with the lock: that is a bug, please report it."
        )
    return (
        f"{name}: {share}. Every wait hands the interpreter to another thread, which reads "
        "the same old value: most additions overwrite each other."
    )
