"""Strategies that share memory pages on one machine: fork, sharedctypes, shared_memory, memmap.

Introduced in 05_sharing_memory.ipynb. All of them put the numbers in memory that several
processes map at once; they differ in how workers find that memory (inherited at fork,
passed when the worker starts, opened by name or by file path) and in who frees it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from contextlib import nullcontext
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from ...machine import start_methods
from .base import ITEM_BYTES, NumpyView, Shared

SEGMENT_PREFIX = "psm_h"  # psm_h<owner pid>_<random>: our segments, told apart from others'
MEMMAP_PREFIX = "helpers-memmap-"

# fork: data the parent made before forking, keyed by a token; children inherit this dict.
_inherited: dict[str, np.ndarray] = {}


class ForkInherited(NumpyView):
    """A numpy array the parent made before forking: children read the same pages.

    A write copies the page it lands on (copy-on-write), privately, in the writing process.
    """

    name = "fork"
    shares = (
        "any object, read-only (numpy buffers stay shared; Python objects are copied page by page)"
    )
    across_machines = "no"
    cleanup = "nothing to do: freed with the processes"
    protected_by = "nothing can: each process writes its own private copy"
    start_method = "fork"

    def __init__(self, n: int, token: str, data: np.ndarray, *, owner: bool) -> None:
        super().__init__(n, owner=owner)
        self.token, self.data = token, data

    @classmethod
    def unavailable(cls) -> str:
        return "" if "fork" in start_methods() else "it needs the fork start method"

    @classmethod
    def allocate(cls, n, context):
        token = secrets.token_hex(4)
        _inherited[token] = np.empty(n, dtype=np.int64)
        return cls(n, token, _inherited[token], owner=True)

    def handle(self):
        return (self.token, self.n)

    @classmethod
    def attach(cls, handle):
        token, n = handle
        data = _inherited.get(token)
        if data is None:
            raise RuntimeError(
                "fork-inherited data exists only in processes forked after it was made: "
                "start the workers with the fork start method"
            )
        return cls(n, token, data, owner=False)

    def free(self):
        _inherited.pop(self.token, None)

    @classmethod
    def footprint(cls, nbytes, workers):
        return nbytes * (1 + workers)  # a worker that writes everywhere ends with its own copy


class SharedValue(Shared):
    """multiprocessing.Value: one number in shared memory, with a lock."""

    name = "value"
    shares = "one C number (ctypes type codes 'i', 'q', 'd', ...)"
    across_machines = "no"
    cleanup = "freed when the last process using it ends"
    protected_by = "its own lock: with value.get_lock()"

    def __init__(self, value, *, owner: bool) -> None:
        super().__init__(1, owner=owner)
        self.value = value

    @classmethod
    def allocate(cls, n, context):
        if n != 1:
            raise ValueError(f"a Value holds exactly 1 item, not {n}: use 'array' or 'rawarray'")
        return cls(context.Value("q", 0, lock=True), owner=True)

    def handle(self):
        return self.value  # passed when the worker starts (initargs), not through a queue

    @classmethod
    def attach(cls, handle):
        return cls(handle, owner=False)

    def get(self, i):
        return self.value.value  # takes the lock, reads, releases it

    def set(self, i, value):
        self.value.value = value  # takes the lock again: get and set are two separate steps

    def increment_safely(self, i, lock):
        with self.value.get_lock():  # one lock around the read AND the write
            self.value.value += 1

    def put(self, start, values):
        self.value.value = int(values[0])


class SharedArray(Shared):
    """multiprocessing.Array with lock=True: every item access takes one shared lock."""

    name = "array"
    shares = "a fixed-size array of one C type"
    across_machines = "no"
    cleanup = "freed when the last process using it ends"
    protected_by = "its own lock: with array.get_lock()"

    def __init__(self, n: int, array, *, owner: bool) -> None:
        super().__init__(n, owner=owner)
        self.array = array

    @classmethod
    def allocate(cls, n, context):
        return cls(n, context.Array("q", n, lock=True), owner=True)

    def handle(self):
        return (self.array, self.n)

    @classmethod
    def attach(cls, handle):
        array, n = handle
        return cls(n, array, owner=False)

    def _guard(self, lock=None):
        """What protects a step over the array: its own re-entrant lock (get and set retake it)."""
        return self.array.get_lock()

    def _numpy(self) -> np.ndarray:
        return np.frombuffer(self.array.get_obj(), dtype=np.int64)

    def get(self, i):
        return self.array[i]

    def set(self, i, value):
        self.array[i] = value

    def increment_safely(self, i, lock):
        with self._guard(lock):  # one lock around the read AND the write
            self.array[i] += 1

    def put(self, start, values):
        with self._guard():
            self._numpy()[start : start + len(values)] = values

    def total(self):
        with self._guard():
            return int(self._numpy().sum())

    def snapshot(self):
        with self._guard():
            return self._numpy().copy()

    def release(self):
        self.array = None


class RawArray(SharedArray):
    """multiprocessing.RawArray: the same shared array, with no lock at all."""

    name = "rawarray"
    protected_by = "a multiprocessing.Lock around get and set"

    @classmethod
    def allocate(cls, n, context):
        return cls(n, context.RawArray("q", n), owner=True)

    def _guard(self, lock=None):
        return nullcontext() if lock is None else lock  # no lock of its own: the caller's, if any

    def _numpy(self):
        return np.frombuffer(self.array, dtype=np.int64)


def segment_name() -> str:
    """A new segment name that says which process made it (short enough for macOS's 31)."""
    return f"{SEGMENT_PREFIX}{os.getpid()}_{secrets.token_hex(4)}"


class SharedMemoryArray(NumpyView):
    """multiprocessing.shared_memory: a named segment, seen through a numpy array."""

    name = "shared_memory"
    shares = "raw bytes: numpy arrays of a fixed dtype (ShareableList for a few scalars)"
    across_machines = "no"
    cleanup = "explicit: close() in every process, unlink() once by the owner"

    def __init__(self, n: int, segment: shared_memory.SharedMemory, *, owner: bool) -> None:
        super().__init__(n, owner=owner)
        self.segment = segment
        # frombuffer, not np.ndarray(buffer=...): with it, close() refuses (BufferError) while
        # an array still points into the segment, instead of unmapping it under the array
        self.data = np.frombuffer(segment.buf, dtype=np.int64, count=n)

    @classmethod
    def allocate(cls, n, context):
        segment = shared_memory.SharedMemory(segment_name(), create=True, size=n * ITEM_BYTES)
        try:
            return cls(n, segment, owner=True)
        except BaseException:
            segment.close()
            segment.unlink()
            raise

    def handle(self):
        return (self.segment.name, self.n)

    @classmethod
    def attach(cls, handle):
        name, n = handle
        # From Python 3.13, track=False keeps this process's resource tracker out of it. Before,
        # attaching registers the segment with the tracker: harmless in our pool workers, which
        # share their parent's tracker (lifecycle.py shows the other case).
        options = {"track": False} if sys.version_info >= (3, 13) else {}
        return cls(n, shared_memory.SharedMemory(name=name, **options), owner=False)

    def release(self):
        super().release()  # drop our array first: close() refuses while one uses the buffer
        self.segment.close()

    def free(self):
        self.segment.unlink()


class MemmapArray(NumpyView):
    """numpy.memmap over a file in a temporary folder: processes map the same file pages.

    Writes reach the file when the OS writes the pages back, in its own time.
    """

    name = "memmap"
    shares = "fixed-dtype arrays (bytes in a file)"
    across_machines = "no (a network file system does not keep mappings in step)"
    cleanup = "delete the file (here: its temporary folder)"

    def __init__(self, n: int, path: Path, data: np.memmap, *, owner: bool) -> None:
        super().__init__(n, owner=owner)
        self.path, self.data = path, data

    @classmethod
    def allocate(cls, n, context):
        folder = Path(tempfile.mkdtemp(prefix=f"{MEMMAP_PREFIX}{os.getpid()}-"))
        path = folder / "data.int64"
        try:
            data = np.memmap(path, dtype=np.int64, mode="w+", shape=(n,))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return cls(n, path, data, owner=True)

    def handle(self):
        return (str(self.path), self.n)

    @classmethod
    def attach(cls, handle):
        path, n = handle
        data = np.memmap(path, dtype=np.int64, mode="r+", shape=(n,))
        return cls(n, Path(path), data, owner=False)

    def free(self):
        shutil.rmtree(self.path.parent, ignore_errors=True)


def segments_of(pid: int | None = None) -> list[str]:
    """Shared-memory segments made by helpers in process pid (default: this one) still in /dev/shm.

    Only Linux lists segments as files; elsewhere this returns [].
    """
    prefix = f"{SEGMENT_PREFIX}{os.getpid() if pid is None else pid}_"
    return sorted(p.name for p in Path("/dev/shm").glob(f"{prefix}*"))


def memmap_folders_of(pid: int | None = None) -> list[Path]:
    """memmap temporary folders of process pid (default: this one) still on disk."""
    prefix = f"{MEMMAP_PREFIX}{os.getpid() if pid is None else pid}-"
    return sorted(Path(tempfile.gettempdir()).glob(f"{prefix}*"))
