"""Functions lesson 07's pools run in their workers, importable under every start method.

Lesson 07, sections 3-5: the workers of the quick experiments behind the verdicts and of the
exercises (a learner's code drives the pool; program 3's own worker lives in its file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ...footprint import footprint

array = None  # the parent's numpy array (fork), or one this worker built (spawn, forkserver)
_start_uss: int | None = None  # this worker's private bytes when its initializer began


@dataclass(frozen=True)
class Record:
    """A small custom type with nested data: what the post calls a complex object."""

    name: str
    tags: dict


def fail_on_multiples(i: int, every: int = 3) -> int:
    """Runs in each worker. Return i * i, but raise ValueError when i is a multiple of `every`."""
    if i % every == 0:
        raise ValueError(f"item {i} failed on purpose")
    return i * i


def private_bytes() -> int:
    """This process's private memory (USS) in bytes; RSS where USS cannot be read."""
    mine = footprint()
    return mine.uss if mine.uss is not None else mine.rss


def keep_array(size: int | None = None) -> None:
    """Runs in each worker. Pool initializer: note this worker's private memory, then make sure
    the module global `array` exists, building it (np.arange(size)) where it was not inherited,
    as a spawned worker runs a script's module-level code again. Lesson 07, section 5.
    """
    global array, _start_uss
    _start_uss = private_bytes()
    if array is None and size is not None:
        array = np.arange(size, dtype=np.float64)


def keep(data) -> None:
    """Runs in each worker. Pool initializer: keep what the parent passed in initargs.

    A numpy array arrives pickled (each worker gets its own copy); a RawArray arrives as a
    handle on shared memory (no copy); None means: attach later. Lesson 07, exercise 2.
    """
    global array, _start_uss
    _start_uss = private_bytes()
    array = data


def sum_array(name: str | None = None) -> dict:
    """Runs in each worker. Sum the worker's array (or shared memory segment `name`, attached
    and closed here) and report, in bytes, this worker's private memory while it holds the
    data ("uss") and how far it grew since the initializer began ("grown"). Trap: data
    passed in initargs is unpickled before the initializer runs, so "grown" misses it;
    compare "uss" with a worker that holds no data. Lesson 07, section 4 and exercise 2.
    """
    if name is not None:
        from multiprocessing import shared_memory

        segment = shared_memory.SharedMemory(name=name)
        try:
            view = np.frombuffer(segment.buf, dtype=np.float64)
            total, uss = float(view.sum()), private_bytes()
            del view  # the segment refuses to close while a view holds its buffer
        finally:
            segment.close()
    elif array is None:
        total, uss = 0.0, private_bytes()
    else:
        view = array if isinstance(array, np.ndarray) else np.frombuffer(array, dtype=np.float64)
        total, uss = float(view.sum()), private_bytes()
    grown = max(0, uss - (_start_uss or uss))
    return {"pid": os.getpid(), "sum": total, "uss": uss, "grown": grown}
