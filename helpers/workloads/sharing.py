"""The worker side of the sharing lesson: functions that run in pool workers and share data.

Introduced in 05_sharing_memory.ipynb. Two groups:

- by hand (section 1 and the exercises): each function writes squares, or adds to a counter,
  through one sharing object the notebook made and passed in: a RawArray (at worker start-up,
  through the pool's initializer), a shared_memory segment (by name), a Manager proxy, a Redis
  address, a Value (at start-up). The notebook shows them with inspect.getsource.
- the comparison (section 2): a pool's initializer, attach(), opens a store of
  helpers.lessons.sharing.stores once per worker; every task then waits at a barrier, so all
  the workers start their timed phases together and really compete for the data.

Each records a task event (helpers.events.task) that a measurement collects: the checks read
which worker did what, and for how long, from those events.
"""

from __future__ import annotations

import gc
import os
import time
from multiprocessing import shared_memory, util

import numpy as np

from ..events import task
from ..lessons.sharing import stores as sharing

MARK = -1  # the value workers write: the parent counts how many of these it can see
BARRIER_TIMEOUT = 60.0  # seconds: a worker that never arrives is an error, not a hang
_WRITTEN_SAMPLE = 16  # indices each worker reports back, for the parent to look at

SQUARES_INTO = "square into "  # task names: "square into <what>"; a segment's name follows
ADD_UNLOCKED, ADD_LOCKED, COUNT_LOCALLY = "add 1, no lock", "add 1 under the lock", "count locally"

_store: sharing.Shared | None = None
_barrier = None
_lock = None
_attach_seconds = 0.0
_array = None  # the RawArray given to use_array()
_counter = None  # the Value given to use_counter()


# -- by hand: one sharing object, passed to the workers ------------------------------------


def use_array(shared_array) -> None:
    """Runs in each worker. Pool initializer: keep the RawArray the parent passed at start-up.

    A RawArray (or Value, Array) cannot travel in a task's arguments: it is shared only by
    being inherited, i.e. given when the worker starts (initargs). Lesson 05, section 1.
    """
    global _array
    _array = shared_array


def square_into_array(start: int, stop: int) -> int:
    """Runs in each worker. Write i * i into items start..stop-1 of the RawArray, one by one."""
    with task(SQUARES_INTO + "a RawArray"):
        squares = np.frombuffer(_array, dtype=np.int64)  # a view over the shared memory
        for i in range(start, stop):
            squares[i] = i * i
    return stop - start


def square_into_segment(name: str, start: int, stop: int) -> int:
    """Runs in each worker. Attach segment `name`, write i * i into items start..stop-1, close.

    The worker closes its view; it never unlinks: the segment is the parent's. Lesson 05,
    section 1 and exercise 3.
    """
    with task(SQUARES_INTO + name):
        shm = shared_memory.SharedMemory(name=name)  # attach by name
        squares = np.frombuffer(shm.buf, dtype=np.int64)
        for i in range(start, stop):
            squares[i] = i * i
        del squares  # drop the view, or close() refuses (BufferError)
        shm.close()
    return stop - start


def square_into_proxy(proxy, start: int, stop: int) -> int:
    """Runs in each worker. proxy[i] = i * i for i in start..stop-1: one round trip each.

    proxy: a Manager's list or dict proxy (it pickles to the server's address). Lesson 05,
    section 1.
    """
    with task(SQUARES_INTO + "a Manager proxy"):
        for i in range(start, stop):
            proxy[i] = i * i
    return stop - start


def square_into_redis(address: str, start: int, stop: int) -> int:
    """Runs in each worker. SET square:<i> to i * i for i in start..stop-1: one round trip each.

    address: the server's URL (redis://... or unix://...). Lesson 05, section 1.
    """
    import redis

    with task(SQUARES_INTO + "Redis"), redis.Redis.from_url(address) as client:
        for i in range(start, stop):
            client.set(f"square:{i}", i * i)
    return stop - start


def use_counter(counter) -> None:
    """Runs in each worker. Pool initializer: keep the Value the parent passed at start-up."""
    global _counter
    _counter = counter


def add_to_counter(additions: int) -> int:
    """Runs in each worker. counter.value += 1, `additions` times, WITHOUT the lock.

    Trap: the Value's own lock is taken for the read and again for the write, never around
    both, so two workers can read 5 and both write 6: an update is lost. Lesson 05, exercise 1.
    """
    with task(ADD_UNLOCKED):
        for _ in range(additions):
            _counter.value += 1
    return additions


def add_to_counter_locked(additions: int) -> int:
    """Runs in each worker. counter.value += 1, `additions` times, each under counter.get_lock()."""
    with task(ADD_LOCKED):
        for _ in range(additions):
            with _counter.get_lock():
                _counter.value += 1
    return additions


def count_locally(additions: int) -> int:
    """Runs in each worker. Count to `additions` in a local variable and return the count.

    Nothing is shared while counting: the parent adds the workers' counts once. Lesson 05,
    exercise 2.
    """
    with task(COUNT_LOCALLY):
        count = 0
        for _ in range(additions):
            count += 1
    return count


# -- the comparison: a store of helpers.lessons.sharing.stores ----------------------------


def attach(name: str, handle, barrier, lock) -> None:
    """Runs in each worker. Pool initializer: open strategy name's store; keep barrier and lock."""
    global _store, _barrier, _lock, _attach_seconds
    # Under fork, the cyclic GC would walk (and so copy) the parent's inherited objects at
    # random moments (lesson 04); freezing them keeps that noise out of the memory figures.
    gc.freeze()
    start = time.perf_counter()
    _store = sharing.strategy(name).attach(handle)
    _attach_seconds = time.perf_counter() - start
    _barrier, _lock = barrier, lock
    util.Finalize(_store, _store.close, exitpriority=10)  # detach when the worker exits


def read_and_write(seconds: float, seed: int, write: bool = True, hold: float = 0.2) -> dict:
    """Runs in each worker. The common task: read everything, then items, then write items.

    Item phases each last about `seconds` and pick items at random. Then every worker waits
    for the others and stays idle for `hold` seconds, still attached, so that the sampler
    (a low-priority process) sees the final state even on a busy machine. Returns counts
    and seconds per phase, and a few indices written (to MARK) for the parent to check.
    """
    _barrier.wait(BARRIER_TIMEOUT)  # every worker starts its timed phases together
    out = {"pid": os.getpid(), "attach_s": _attach_seconds}
    rng = np.random.default_rng(seed)
    n = _store.n

    def pick(size: int) -> list[int]:
        return rng.integers(0, n, size).tolist()

    with task("read everything"):
        start = time.perf_counter()
        _store.total()
        out["bulk_s"] = time.perf_counter() - start
    with task("read items"):
        out["reads"], out["read_s"] = sharing.timed_ops(_store.read, pick, seconds)
    written: list[int] = []
    if write:

        def write_and_note(indices: list[int]) -> None:
            _store.write(indices, MARK)
            if len(written) < _WRITTEN_SAMPLE:
                written.extend(indices[: _WRITTEN_SAMPLE - len(written)])

        with task("write items"):
            out["writes"], out["write_s"] = sharing.timed_ops(write_and_note, pick, seconds)
    out["written"] = written
    _barrier.wait(BARRIER_TIMEOUT)
    with task("hold"):
        time.sleep(hold)
    return out


def count_up(seconds: float, safely: bool) -> int:
    """Runs in each worker. Add 1 to item 0 again and again for `seconds`; return how many times.

    safely=False reads and writes back (updates can be lost); safely=True uses the
    strategy's protection: a lock, or an operation the server does in one step.
    """
    _barrier.wait(BARRIER_TIMEOUT)

    def add(indices) -> None:
        for _ in indices:
            if safely:
                _store.increment_safely(0, _lock)
            else:
                _store.increment(0)

    with task("count up safely" if safely else "count up"):
        done, _ = sharing.timed_ops(add, range, seconds)
    return done
