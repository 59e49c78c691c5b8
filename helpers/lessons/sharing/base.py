"""The one interface every sharing strategy implements: n 64-bit integers, many processes.

Introduced in 05_sharing_memory.ipynb. In the spirit of ``concurrent.futures.Executor``:
the base class writes the shared behaviour once (bulk reads and writes, increments, clean-up
on error), and each strategy implements a few small methods.

    owner (the parent)                          each worker
    store = Strategy.create(n)                  store = Strategy.attach(handle)
    handle = store.handle()   --- initargs -->  store.get(i), store.set(i, v), store.total()
    ... workers run ...                         store.close()
    store.destroy()           (frees it: segment unlinked, server stopped, file removed)
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from ...machine import mp_context

ITEM_BYTES = 8  # every strategy stores 64-bit signed integers


class Shared(ABC):
    """n int64 items that several processes read and write, in one strategy's way.

    Its class attributes describe the strategy in the lesson's table.
    """

    name: ClassVar[str]
    shares: ClassVar[str]  # what types it can share
    across_machines: ClassVar[str]
    cleanup: ClassVar[str]
    protected_by: ClassVar[str] = "a multiprocessing.Lock around get and set"
    start_method: ClassVar[str | None] = None  # None: any; "fork": only forked workers see it
    holds: ClassVar[float] = 1.0  # bytes held per byte of data (Python objects take more)
    fill_chunk: ClassVar[int] = 1 << 17  # items written per step when filling a new store
    copies_on_read: ClassVar[bool] = False  # does reading everything copy it into the reader?

    def __init__(self, n: int, *, owner: bool) -> None:
        self.n = n
        self.owner = owner
        self._closed = False
        self.freed = False  # whether destroy() has freed the data (owner side)

    # -- what each strategy implements (hooks: create(), close() and destroy() call them) --

    @classmethod
    @abstractmethod
    def allocate(cls, n: int, context) -> Shared:
        """Allocate room for n items (owner side), unfilled: call create(), which fills it."""

    @abstractmethod
    def handle(self) -> Any:
        """What a worker needs to attach: picklable, or passed when the worker starts."""

    @classmethod
    @abstractmethod
    def attach(cls, handle: Any) -> Shared:
        """Open the owner's data from another process (worker side)."""

    @abstractmethod
    def get(self, i: int) -> int:
        """Read item i (one operation)."""

    @abstractmethod
    def set(self, i: int, value: int) -> None:
        """Write item i (one operation)."""

    @abstractmethod
    def put(self, start: int, values: np.ndarray) -> None:
        """Write values (int64) into items start, start+1, ... the fastest way it can."""

    def total(self) -> int:
        """Sum of all items, read the fastest way the strategy offers (touches all the data)."""
        return int(self.snapshot().sum())

    def snapshot(self) -> np.ndarray:
        """All items, copied into this process as an int64 array."""
        return np.array(self.get_many(range(self.n)), dtype=np.int64)

    def release(self) -> None:  # noqa: B027 (an optional hook: some strategies hold nothing)
        """Drop this process's view of the data (both sides)."""

    def free(self) -> None:  # noqa: B027 (an optional hook: some data dies with the processes)
        """Free the data for good (owner side, after release())."""

    @classmethod
    def unavailable(cls) -> str:
        """Why this strategy cannot run here ('' when it can)."""
        return ""

    # -- written once, for every strategy -------------------------------------------------

    @classmethod
    def create(cls, n: int, context=None) -> Shared:
        """A new store of n items holding 0, 1, ..., n-1; the caller owns it (destroy() it).

        context: the multiprocessing context whose locks and processes it uses (default:
        helpers.machine.mp_context()). On error or interrupt, nothing is left allocated.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"a store holds a whole number of at least 1 items, got {n!r}")
        reason = cls.unavailable()
        if reason:
            raise RuntimeError(f"strategy {cls.name!r} cannot run here: {reason}")
        store = cls.allocate(n, context if context is not None else mp_context())
        try:
            # in chunks: a full np.arange(n) here would be one more copy of the data
            for start in range(0, n, cls.fill_chunk):
                store.put(start, np.arange(start, min(n, start + cls.fill_chunk), dtype=np.int64))
        except BaseException:
            store.destroy()
            raise
        return store

    def get_many(self, indices: Iterable[int]) -> list[int]:
        """Items at indices, one operation each."""
        return [self.get(i) for i in indices]

    def read(self, indices: Iterable[int]) -> int:
        """Read items one at a time (one operation each); return their sum."""
        return sum(self.get(i) for i in indices)

    def write(self, indices: Iterable[int], value: int) -> None:
        """Write value into items one at a time (one operation each)."""
        for i in indices:
            self.set(i, value)

    def increment(self, i: int) -> None:
        """Add 1 to item i by reading it, then writing it back: NOT safe between processes.

        Another process can write between our read and our write; its update is then lost.
        """
        self.set(i, self.get(i) + 1)

    def increment_safely(self, i: int, lock) -> None:
        """Add 1 to item i so that no update is lost: under lock (some strategies need none)."""
        with lock:
            self.increment(i)

    def close(self) -> None:
        """Detach this process from the data (workers); the owner should call destroy()."""
        if not self._closed:
            self._closed = True
            self.release()

    def destroy(self) -> None:
        """Free the data for every process (owner only); calling it twice is harmless."""
        if not self.owner:
            raise RuntimeError("only the process that created a store may destroy it; call close()")
        try:
            self.close()
        finally:  # free even if closing failed (an array still using the buffer, say)
            if not self.freed:
                self.freed = True
                self.free()

    def __repr__(self) -> str:
        side = "owner" if self.owner else "attached"
        return f"<{type(self).__name__} {self.name!r}: {self.n:,} items, {side}>"

    @classmethod
    def footprint(cls, nbytes: int, workers: int) -> int:
        """Bytes this strategy may hold at its peak for nbytes of data read by workers.

        Checked against the memory budget before a run: Python objects take several times
        the raw bytes, and strategies that copy on read hold one more copy per reader.
        """
        readers = workers if cls.copies_on_read else 0
        return int(nbytes * cls.holds * (1 + readers))


class NumpyView(Shared):
    """A strategy whose items are a numpy int64 array, self.data, over memory processes map."""

    data: np.ndarray | None

    def get(self, i):
        return int(self.data[i])

    def set(self, i, value):
        self.data[i] = value

    def put(self, start, values):
        self.data[start : start + len(values)] = values

    def total(self):
        return int(self.data.sum())

    def snapshot(self):
        return np.array(self.data)  # a plain ndarray copy, also of a memmap

    def release(self):
        self.data = None  # an array over a mapping must go before the mapping can


def timed_ops(operation, batch_source, seconds: float) -> tuple[int, float]:
    """Run operation(batch) on batches from batch_source(size) for about `seconds`.

    Returns (operations done, seconds taken). Batches start at one item and double while a
    batch takes under 5 ms (up to 4096 items): reading the clock costs little next to fast
    operations, slow ones (a copy of the whole data per read) still stop on time, and the
    batch stays small in memory.
    """
    size, done = 1, 0
    start = time.perf_counter()
    while True:
        batch_start = time.perf_counter()
        operation(batch_source(size))
        done += size
        now = time.perf_counter()
        if now - start >= seconds:
            return done, now - start
        if now - batch_start < 0.005 and size < 1 << 12:
            size *= 2
