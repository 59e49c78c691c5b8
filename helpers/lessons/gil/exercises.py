"""Lesson 03's exercise checks: each runs the learner's code and judges what it measurably did.

Introduced in 03_gil_contention.ipynb, "Exercises". A check prints what to do while the
exercise is unanswered and never raises; it records its outcome under the names in
EXERCISES, which the notebook's closing summary lists. Cores busy, where judged, are CPU
seconds of this process per wall second.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import sys
import time
from collections.abc import Callable

from ...course.feedback import call_with_timeout, feedback, unanswered
from ...machine import gil_enabled, usable_cores
from ...timing import alternating
from ...workloads.gil import busy_threads, wakeup_delays
from .interpreters import EXERCISE as INTERPRETERS

HASH = "hash on threads"
RESPONSIVE = "a responsive I/O thread"
MEDIAN_TURN = "median turn"
# section 7's exercise is judged by interpreters.feedback_interpreters
EXERCISES = [HASH, RESPONSIVE, MEDIAN_TURN, INTERPRETERS]

GIL_RELEASE_BYTES = 2048  # hashlib lets go of the GIL for buffers of more than 2047 bytes
SCALED_CORES = 1.4  # two threads hashing in parallel keep this many times the cores of one busy
WAKE_WITHIN_MS = 1.0  # the responsive exercise's target: median wake-up delay


def not_yet(exercise: str, said: str) -> bool:
    """feedback() for an answer that is wrong whatever it measured: print said, return False."""
    return feedback(False, "", said, exercise=exercise)


def run_with_timeout(func: Callable[[], object], timeout: float) -> tuple[object, float, float]:
    """Run func() in a thread: (its result, wall seconds, CPU seconds of all this process's
    threads). Raises TimeoutError after timeout seconds (the thread is left to finish on its
    own) and re-raises what func raised."""
    cpu0 = time.process_time()
    how, value, wall = call_with_timeout(func, (), timeout)
    cpu = time.process_time() - cpu0
    if how == "timeout":
        raise TimeoutError(f"your code did not finish within {timeout:.0f} s")
    if how == "raised":
        raise value
    return value, wall, cpu


def sha256_pieces(data: bytes, chunk: int) -> list[bytes]:
    """The expected answer of exercise 1, on one thread: sha256 of each piece of chunk bytes."""
    view = memoryview(data)
    return [hashlib.sha256(view[i : i + chunk]).digest() for i in range(0, len(data), chunk)]


def hash_cores(
    hash_on_threads: Callable, chunk: int, data: bytes, repeats: int, timeout: float
) -> tuple[object, float, float]:
    """(the learner's last answer, median cores busy with their code, the same on one thread);
    the two alternate (helpers.timing.alternating), so a busy spell weighs on both."""
    cores: dict[str, list[float]] = {"yours": [], "one thread": []}
    answer = None
    for name in alternating(list(cores), repeats):
        if name == "yours":
            answer, wall, cpu = run_with_timeout(lambda: hash_on_threads(data, chunk), timeout)
            if answer is None:
                return None, 0.0, 0.0
        else:
            _, wall, cpu = run_with_timeout(lambda: sha256_pieces(data, chunk), timeout)
        cores[name].append(cpu / wall)
    return answer, statistics.median(cores["yours"]), statistics.median(cores["one thread"])


def feedback_hash_threads(
    hash_on_threads: Callable[[bytes, int], list[bytes] | None],
    chunk: int | None,
    data: bytes,
    *,
    repeats: int = 3,
    timeout: float = 60.0,
) -> bool | None:
    """Exercise 1: does hash_on_threads(data, chunk) return the digests and use 2 cores?

    Expected: [sha256(piece).digest() for each consecutive piece of `chunk` bytes], worked
    out on threads. Judged by the results and by the cores it kept busy against one thread
    doing the same hashing (median of `repeats` runs each; at least SCALED_CORES times as
    many with 2 usable cores). The trap it teaches: pieces under 2 KiB keep the GIL, and so
    does the Python loop between calls. Lesson 03, section 5.
    """
    if chunk is None:
        return unanswered(
            "Set MY_CHUNK to the number of bytes per sha256 call, then run the check.",
            exercise=HASH,
        )
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        return not_yet(HASH, f"MY_CHUNK must be a whole number of bytes, at least 1: {chunk!r}.")
    try:
        answer, used, alone = hash_cores(hash_on_threads, chunk, data, repeats, timeout)
    except Exception as exc:  # the learner's code: report, do not stop the notebook
        return not_yet(HASH, f"hash_on_threads raised {type(exc).__name__}: {exc}")
    if answer is None:
        return unanswered(
            "hash_on_threads returned None: write its body, then run the check.", exercise=HASH
        )
    expected = sha256_pieces(data, chunk)
    if list(answer) != expected:
        wrong = next(
            (i for i, (a, b) in enumerate(zip(answer, expected, strict=False)) if a != b),
            min(len(answer), len(expected)),
        )
        return not_yet(
            HASH,
            f"Your {len(answer)} digests are not the sha256 of the {len(expected)} pieces "
            f"of {chunk} bytes, in order (the first one that differs or is missing: piece {wrong}).",
        )
    said = (
        f"{len(expected)} calls of {chunk} bytes each kept {used:.2f} cores busy, against "
        f"{alone:.2f} for one thread doing the same (medians of {repeats} runs)"
    )
    if usable_cores() < 2:
        return feedback(
            chunk >= GIL_RELEASE_BYTES,
            f"Right digests, and pieces big enough to release the GIL; "
            f"{said}. With one usable core no code can use two: run this on 2 cores to see them.",
            f"Right digests, but {chunk}-byte pieces keep the GIL (hashlib lets go above 2047 bytes).",
            exercise=HASH,
        )
    if used >= SCALED_CORES * alone or not gil_enabled():
        return feedback(
            True, f"Yes: {said}. hashlib hashed outside the GIL, on both cores.", "", exercise=HASH
        )
    if chunk < GIL_RELEASE_BYTES:
        hint = (
            "Hashlib keeps the GIL for pieces under 2 KiB, and the Python loop between calls "
            "needs it too: cut bigger pieces"
        )
    elif alone < 0.7:
        hint = (
            f"One thread alone got only {alone:.2f} of a core, so this machine is busy: close "
            "other programs and run the check again"
        )
    else:
        hint = (
            "The pieces are big enough, so check that both threads run at once: start both "
            "before joining either, each with its own share of the pieces"
        )
    return not_yet(HASH, f"Not yet: {said}, not {SCALED_CORES}x. {hint}.")


def feedback_switch_interval(
    run_responsively: Callable[[Callable[[], object]], object], samples: int = 30
) -> bool | None:
    """Exercise 2: does run_responsively(job) make a sleeper beside a CPU-bound thread wake in time?

    job sleeps 1 ms `samples` times beside one CPU-bound thread. Judged by the median
    wake-up delay (at most WAKE_WITHIN_MS) and by the switch interval after the call (it
    must be the one before: sys.setswitchinterval changes the whole process). Lesson 03,
    section 4.
    """
    before = sys.getswitchinterval()
    seen: dict[str, object] = {}

    def job() -> list[float]:
        seen["interval"] = sys.getswitchinterval()
        with busy_threads(1):
            seen["delays"] = wakeup_delays(samples)
        return seen["delays"]

    try:
        returned = run_responsively(job)
    except Exception as exc:  # the learner's code: report, do not stop the notebook
        sys.setswitchinterval(before)
        return not_yet(RESPONSIVE, f"run_responsively raised {type(exc).__name__}: {exc}")
    after = sys.getswitchinterval()
    sys.setswitchinterval(before)  # whatever the learner's code did, the kernel goes on as before
    if "delays" not in seen:
        if returned is None:
            return unanswered(
                "Write run_responsively: set a switch interval, call job(), put the old one back.",
                exercise=RESPONSIVE,
            )
        return not_yet(RESPONSIVE, "run_responsively never called job().")
    delay = statistics.median(seen["delays"]) * 1e3
    said = f"at the {seen['interval'] * 1e3:g} ms you set, the sleeper woke {delay:.2f} ms late (median)"
    if after != before:
        return not_yet(
            RESPONSIVE,
            f"{said.capitalize()}, but you left the switch interval at {after * 1e3:g} ms "
            f"instead of {before * 1e3:g} ms: every thread of this program would keep handing the "
            "GIL over that often. Put the old value back, in a finally block. "
            "(The check did it for you.)",
        )
    return feedback(
        delay <= WAKE_WITHIN_MS or not gil_enabled(),
        f"Yes: {said}, within {WAKE_WITHIN_MS:g} ms, and the interval is back to {before * 1e3:g} ms.",
        f"Not yet: {said}, more than {WAKE_WITHIN_MS:g} ms. A waiting thread asks for the GIL after "
        "one switch interval: choose a shorter one.",
        exercise=RESPONSIVE,
    )


def feedback_median_turn(func: Callable[[list[list[float]]], float | None], result) -> bool | None:
    """Exercise 3: does func(stamps per thread) find the median turn (ms) that handoff() found?

    result: a HandoffResult (section 2). Accepted within 15% (or 0.2 ms). Lesson 03, section 2.
    """
    stamps = [list(p.stamps) for p in result.progress]
    try:
        answer = func(stamps)
    except Exception as exc:  # the learner's code: report, do not stop the notebook
        return not_yet(MEDIAN_TURN, f"Your function raised {type(exc).__name__}: {exc}")
    if answer is None:
        return unanswered("Write median_turn_ms: it returns None so far.", exercise=MEDIAN_TURN)
    expected = result.median_turn * 1e3
    return feedback(
        math.isfinite(expected) and abs(answer - expected) <= max(0.15 * expected, 0.2),
        f"Yes: {answer:.2f} ms; the helper found {expected:.2f} ms.",
        f"Not yet: {answer:.2f} ms, but the helper found {expected:.2f} ms. Hint: merge all "
        "stamps in time order and cut where the thread changes.",
        exercise=MEDIAN_TURN,
    )
