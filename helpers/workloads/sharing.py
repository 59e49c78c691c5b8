"""The worker side of the sharing lesson: attach to a shared store, then read, write or count.

Introduced in 05_sharing_memory.ipynb. A pool's initializer, attach(), opens the store once
per worker and records how long that took. Every task then waits at a barrier, so all the
workers start their timed phases together and really compete for the data.
"""

from __future__ import annotations

import gc
import os
import time
from multiprocessing import util

import numpy as np

from ..events import task
from ..lessons.sharing import stores as sharing

MARK = -1  # the value workers write: the parent counts how many of these it can see
BARRIER_TIMEOUT = 60.0  # seconds: a worker that never arrives is an error, not a hang
_WRITTEN_SAMPLE = 16  # indices each worker reports back, for the parent to look at

_store: sharing.Shared | None = None
_barrier = None
_lock = None
_attach_seconds = 0.0


def attach(name: str, handle, barrier, lock) -> None:
    """Pool initializer: open strategy name's store from its handle; keep the barrier and lock."""
    global _store, _barrier, _lock, _attach_seconds
    # Under fork, the cyclic GC would walk (and so copy) the parent's inherited objects at
    # random moments (lesson 04); freezing them keeps that noise out of the memory figures.
    gc.freeze()
    start = time.perf_counter()
    _store = sharing.strategy(name).attach(handle)
    _attach_seconds = time.perf_counter() - start
    _barrier, _lock = barrier, lock
    util.Finalize(_store, _store.close, exitpriority=10)  # detach when the worker exits


def _together() -> None:
    """Wait until every worker of the pool has reached this point."""
    _barrier.wait(BARRIER_TIMEOUT)


def read_and_write(seconds: float, seed: int, write: bool = True, hold: float = 0.2) -> dict:
    """The common task: read everything once, then items one by one, then write items.

    Item phases each last about `seconds` and pick items at random. Then every worker waits
    for the others and stays idle for `hold` seconds, still attached, so that the sampler
    (a low-priority process) sees the final state even on a busy machine. Returns counts
    and seconds per phase, and a few indices written (to MARK) for the parent to check.
    """
    _together()
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
    _together()
    with task("hold"):
        time.sleep(hold)
    return out


def count_up(seconds: float, safely: bool) -> int:
    """Add 1 to item 0 again and again for about `seconds`; return how many times.

    safely=False reads and writes back (updates can be lost); safely=True uses the
    strategy's protection: a lock, or an operation the server does in one step.
    """
    _together()

    def add(indices) -> None:
        for _ in indices:
            if safely:
                _store.increment_safely(0, _lock)
            else:
                _store.increment(0)

    with task("count up safely" if safely else "count up"):
        done, _ = sharing.timed_ops(add, range, seconds)
    return done
