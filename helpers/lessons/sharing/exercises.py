"""Lesson 05's exercises: each check runs the learner's function under the instruments and judges it.

Introduced in 05_sharing_memory.ipynb, section "Exercises". The learner writes the parent's
side (the Value, the segment, the Pool, the Redis calls); the workers run functions of
helpers.workloads.sharing, which record task events, so a check can tell from the
measurement which worker did what, and for how long. Functions defined in a notebook cannot
run in spawned workers, which is why the learner chooses a worker function rather than
writing one. Each check prints what to do while the function is still the stub (and raises
nothing), and records its outcome for helpers.course.progress.summary().
"""

from __future__ import annotations

import functools
import os
import sys
from dataclasses import dataclass

import numpy as np

from ...course.feedback import feedback, is_stub, time_limit, unanswered
from ...machine import mp_context
from ...probes import Measurement, measure
from ...servers.redis import HOW_TO_GET_REDIS, find_redis_server, redis_server
from ...timing import median_seconds
from ...workloads import sharing as work
from . import lifecycle

LOCKED_COUNTER = "locked counter"
MERGED_COUNTER = "merged counter"
SHARED_SQUARES = "squares in shared memory"
PIPELINE = "pipelined SETs"
EXERCISES = [LOCKED_COUNTER, MERGED_COUNTER, SHARED_SQUARES, PIPELINE]

TIMEOUT = 60.0  # seconds the learner's function may take; far above what a solution needs
FASTER_AT_LEAST = 5.0  # counting alone vs under the lock, per addition (ratio, x)
ADDITIONS_PER_TRIP = 20  # a pipelined answer sends at least this many commands per round trip


@dataclass
class LearnerRun:
    """What the learner's function returned or raised, and what the instruments saw meanwhile."""

    value: object = None
    error: BaseException | None = None
    measurement: Measurement | None = None

    def worker_tasks(self, name: str | None = None, prefix: str = "") -> list:
        """Task events recorded by processes other than this one (the workers)."""
        return [
            t for t in self.measurement.tasks
            if t.pid != os.getpid() and (t.task == name if name else t.task.startswith(prefix))
        ]

    def raised(self, name: str) -> str:
        """The error in one line, with what it typically means in the lesson's terms."""
        return f"{name} raised {type(self.error).__name__}: {self.error}.{error_hint(self.error)}"


def run_measured(func, *args, timeout: float = TIMEOUT) -> LearnerRun:
    """Call func(*args) under helpers.measure(), with a time limit; never raise what it raised."""
    run = LearnerRun()
    with measure(interval=0.05) as m:
        try:
            with time_limit(timeout):
                run.value = func(*args)
        except Exception as exc:  # the learner's error is reported, not raised
            run.error = exc
    run.measurement = m
    return run


def error_hint(error: BaseException) -> str:
    """What a typical error in these exercises means, in the lesson's terms."""
    text = str(error)
    if "through inheritance" in text:
        return (" A Value cannot travel in a task's arguments: give it to the workers when they "
                "start, with Pool(..., initializer=work.use_counter, initargs=(counter,)).")
    if isinstance(error, BufferError):
        return (" A numpy array still points into the segment: copy the result out "
                "(squares.copy()), then `del` the array before shm.close().")
    if isinstance(error, (AttributeError, TypeError)) and "pickle" in text:
        return " Pass the workers importable functions from helpers.workloads.sharing."
    return ""


# -- exercise 1: a Value, and its lock ---------------------------------------------------------


def feedback_locked_counter(func, *, workers: int = 2, additions: int = 20_000) -> bool | None:
    """Exercise 1: func(workers, additions) counts with a shared Value, losing no update.

    Judged: the workers (not the parent) ran the additions, under the Value's lock
    (work.add_to_counter_locked), and the returned count is workers * additions.
    """
    if is_stub(func):
        return unanswered(
            "Write my_locked_counter: make a Value('q', 0), start a Pool whose initializer is "
            "work.use_counter, map work.add_to_counter_locked over the workers, return the "
            "counter's value. Then run this cell again.", exercise=LOCKED_COUNTER)
    expected = workers * additions
    run = run_measured(func, workers, additions)
    if run.error is not None:
        return feedback(False, "", run.raised("my_locked_counter"), exercise=LOCKED_COUNTER)
    locked, unlocked = run.worker_tasks(work.ADD_LOCKED), run.worker_tasks(work.ADD_UNLOCKED)
    got = f"it returned {run.value!r} for {expected:,} additions"
    if unlocked:
        lost = expected - run.value if isinstance(run.value, int) else None
        seen = (f"{lost:,} of {expected:,} updates were lost" if lost
                else "no update was lost this time, by luck")
        wrong = (f"Your workers ran work.add_to_counter, which adds without the lock: {seen}. "
                 "`counter.value += 1` reads, then writes; use work.add_to_counter_locked.")
    elif not locked:
        wrong = (f"No worker process added anything ({got}): map work.add_to_counter_locked "
                 "over a Pool whose initializer gave the workers your Value.")
    elif run.value != expected:
        wrong = f"The workers added under the lock, but {got}: return counter.value."
    else:
        wrong = ""
    right = "" if wrong else (
        f"{len({t.pid for t in locked})} worker(s) made {expected:,} additions under the lock "
        f"and the counter says {run.value:,}: no update lost, at "
        f"{sum(t.duration for t in locked) / expected * 1e6:.2f} µs per addition.")
    return feedback(not wrong, right, wrong, exercise=LOCKED_COUNTER)


# -- exercise 2: count alone, merge once -------------------------------------------------------


@functools.lru_cache(maxsize=4)  # the same reference for the learner's cell and the solution's
def locked_seconds_per_addition(workers: int = 2, additions: int = 20_000) -> float:
    """Seconds per addition to a shared Value under its lock, `workers` processes at once: the
    reference of exercise 2 (exercise 1's solution, timed from its workers' task events).
    """
    ctx = mp_context()
    counter = ctx.Value("q", 0)
    with (
        measure(interval=0.1) as m,
        ctx.Pool(workers, initializer=work.use_counter, initargs=(counter,)) as pool,
    ):
        pool.map(work.add_to_counter_locked, [additions] * workers)
        pool.close()
        pool.join()
    del pool, counter  # under spawn each holds named semaphores until it is freed
    tasks = [t for t in m.tasks if t.task == work.ADD_LOCKED]
    return sum(t.duration for t in tasks) / (workers * additions)


def feedback_merged_counter(func, *, workers: int = 2, additions: int = 200_000) -> bool | None:
    """Exercise 2: func(workers, additions) counts in each worker and adds the counts once.

    Judged: the total is workers * additions, the workers counted alone (work.count_locally),
    and an addition (task time) cost them FASTER_AT_LEAST times less than under a shared lock.
    """
    if is_stub(func):
        return unanswered(
            "Write my_merged_counter: map work.count_locally over a Pool, one task per worker, "
            "and return the sum of what map returned.", exercise=MERGED_COUNTER)
    expected = workers * additions
    run = run_measured(func, workers, additions)
    if run.error is not None:
        return feedback(False, "", run.raised("my_merged_counter"), exercise=MERGED_COUNTER)
    alone = run.worker_tasks(work.COUNT_LOCALLY)
    if not alone:
        shared = run.worker_tasks(prefix="add 1")
        return feedback(False, "", (
            "Your workers still added to a shared counter, one lock per addition: count in "
            "each worker with work.count_locally and merge once." if shared else
            f"No worker process counted (it returned {run.value!r}): map work.count_locally "
            "over a Pool."), exercise=MERGED_COUNTER)
    if run.value != expected:
        return feedback(False, "", (
            f"It returned {run.value!r}, but the workers counted {expected:,} in all: add up "
            "the counts pool.map returned (sum(...))."), exercise=MERGED_COUNTER)
    counting = sum(t.duration for t in alone) / expected
    locked = locked_seconds_per_addition(workers, additions // 10)
    ratio = locked / counting
    return feedback(
        ratio >= FASTER_AT_LEAST,
        f"The total is right ({expected:,}). Counting alone took {counting * 1e9:.0f} ns per "
        f"addition, against {locked * 1e9:,.0f} ns under a shared lock: {ratio:,.0f}x faster. "
        "The workers share nothing while they count and meet once, at the end.",
        f"The total is right, but counting alone ({counting * 1e9:.0f} ns per addition) was only "
        f"{ratio:.1f}x faster than under the lock ({locked * 1e9:,.0f} ns): does each worker "
        "count in a local variable?", exercise=MERGED_COUNTER)


# -- exercise 3: results written in place, in shared memory ------------------------------------


def still_a_view(value) -> bool:
    """Whether value is a numpy array whose memory belongs to something else (a segment)."""
    base = getattr(value, "base", None)
    while base is not None:
        if isinstance(base, memoryview):
            return True
        base = getattr(base, "base", None)
    return False


def segments_left(names: set[str]) -> list[str]:
    """Which of these segments still exist; removes each one it finds (the check cleans up)."""
    left = sorted(name for name in names if lifecycle.segment_exists(name))
    for name in left:
        lifecycle.remove_segment(name)
    return left


def feedback_shared_squares(func, *, n: int = 100_000, workers: int = 2) -> bool | None:
    """Exercise 3: func(n, workers) returns i*i for i < n, written in place by pool workers.

    Judged: the result is right, workers wrote it into a shared_memory segment
    (work.square_into_segment), the result is a copy, and the segment is gone afterwards.
    """
    if is_stub(func):
        return unanswered(
            "Write my_squares: SharedMemory(create=True, size=8 * n), a Pool running "
            "work.square_into_segment on (shm.name, start, stop) chunks, copy the squares out, "
            "then close() and unlink() in a finally block.", exercise=SHARED_SQUARES)
    run = run_measured(func, n, workers)
    wrote = run.worker_tasks(prefix=work.SQUARES_INTO + "psm")
    left = segments_left({t.task[len(work.SQUARES_INTO):] for t in wrote})
    if run.error is not None:
        wrong = run.raised("my_squares")
    elif not wrote:
        wrong = ("No worker process wrote into a shared_memory segment: give the workers the "
                 "segment's name and let work.square_into_segment fill it.")
    elif left:
        wrong = (f"The segment {left[0]} was still there after your function returned (the check "
                 "removed it now). Call shm.close() and then shm.unlink(), in a finally block.")
    elif still_a_view(run.value):
        wrong = ("Your result is still a view of the segment's memory: return squares.copy(), "
                 "then drop the view and close the segment.")
    elif not np.array_equal(np.asarray(run.value), np.arange(n, dtype=np.int64) ** 2):
        wrong = f"The result is not i * i for i < {n:,}: give each chunk to one task, cover 0..n."
    else:
        wrong = ""
    pids = {t.pid for t in wrote}
    leftover = "no segment left in /dev/shm" if sys.platform.startswith("linux") else "unlinked"
    return feedback(
        not wrong,
        f"{len(pids)} worker process(es) wrote {n:,} squares in place in one segment, "
        f"in {sum(t.duration for t in wrote):.2f} s of task time; the result is right, {leftover}.",
        wrong, exercise=SHARED_SQUARES)


# -- exercise 4: fewer round trips to Redis ----------------------------------------------------


def counting_client(server):
    """A redis-py client to server that counts its round trips in client.round_trips[0]."""
    import redis

    base = (redis.UnixDomainSocketConnection if server.unix_socket else redis.Connection)
    trips = [0]

    class Counting(base):
        def send_packed_command(self, command, check_health=True):
            trips[0] += 1  # one send, then its answers: one round trip
            return super().send_packed_command(command, check_health)

    where = {"path": server.unix_socket} if server.unix_socket else {
        "host": "127.0.0.1", "port": server.port}
    client = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=Counting, **where))
    client.ping()  # connect now, so the hand-shake is not counted
    trips[0] = 0
    client.round_trips = trips
    return client


def feedback_pipeline(func, *, items: int = 2_000) -> bool | None:
    """Exercise 4: func(client, values) stores every key -> value in few round trips.

    Judged on a private server: every value is there, and the function sent at least
    ADDITIONS_PER_TRIP commands per round trip; its speed against one SET per trip is shown.
    """
    if is_stub(func):
        return unanswered(
            "Write my_store(client, values): queue a client.set(key, value) per item on "
            "client.pipeline() and execute() it.", exercise=PIPELINE)
    if find_redis_server() is None:
        return unanswered(HOW_TO_GET_REDIS, exercise=PIPELINE)
    values = {f"reading:{i}": str(i * 7) for i in range(items)}
    with redis_server() as server, counting_client(server) as client:
        run = run_measured(func, client, values)
        trips = client.round_trips[0]
        stored = client.mget(list(values))
        client.flushdb()
        seconds = None if run.error else median_seconds(
            {"yours": lambda: func(client, values),
             "one by one": lambda: [client.set(k, v) for k, v in values.items()]}, 3)
    right = [v.decode() if v is not None else None for v in stored] == list(values.values())
    if run.error is not None:
        wrong = run.raised("my_store")
    elif not right:
        wrong = ("Not every value was stored: did the pipeline's execute() run? (A pipeline "
                 "sends nothing until then.)")
    elif trips > items // ADDITIONS_PER_TRIP:
        wrong = (f"Every value is there, but it took {trips:,} round trips for {items:,} SETs: "
                 "queue them on client.pipeline() and execute() once (or in big batches).")
    else:
        wrong = ""
    speed = "" if not seconds else (
        f" It ran {seconds['one by one'] / seconds['yours']:.0f}x as fast as one SET per round trip.")
    return feedback(not wrong, f"{items:,} values stored in {trips} round trip(s).{speed}",
                    wrong + speed if wrong and right else wrong, exercise=PIPELINE)
