"""Running workers safely: explicit start method, a timeout, nothing left behind.

Introduced in 01_process_pool.ipynb. Every experiment that starts processes goes through
``process_pool()`` or ``no_stray_processes()``, so an error, a timeout or an interrupt
(the notebook's stop button) terminates the workers instead of leaving them running.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.pool import Pool
from typing import TypeVar

import psutil

from .machine import mp_context, require_workers
from .processes import cmdline, is_multiprocessing_helper

T = TypeVar("T")
DEFAULT_TIMEOUT = 120.0  # seconds; no lesson experiment should come near it


def _descendants() -> set[psutil.Process]:
    try:
        return set(psutil.Process().children(recursive=True))
    except psutil.Error:
        return set()


def is_sampler(proc: psutil.Process) -> bool:
    return "helpers._sampler" in cmdline(proc)


def reap(processes: Iterable[psutil.Process], grace: float = 2.0) -> None:
    """Terminate processes, wait up to grace seconds, then kill those still alive."""
    procs = [p for p in processes if p.is_running()]
    for p in procs:
        with suppress(psutil.Error):
            p.terminate()
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        with suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(alive, timeout=grace)


@contextmanager
def no_stray_processes(grace: float = 2.0) -> Iterator[None]:
    """On leaving the block, end every descendant process the block started and left running.

    Long-lived helpers that multiprocessing keeps on purpose (the resource tracker, a
    forkserver) and a measurement's sampler are left alone.
    """
    before = _descendants()
    try:
        yield
    finally:
        new = _descendants() - before
        reap([p for p in new if not (is_sampler(p) or is_multiprocessing_helper(p))], grace)


@contextmanager
def process_pool(
    workers: int,
    *,
    start_method: str | None = None,
    initializer=None,
    initargs: tuple = (),
    maxtasksperchild: int | None = None,
) -> Iterator[Pool]:
    """A multiprocessing Pool with an explicit start method that always ends its workers.

    workers: a whole number of at least 1. start_method: fork, spawn or forkserver (default:
    helpers.machine.start_method()). On error or interrupt the pool is terminated.
    """
    require_workers(workers)
    ctx = mp_context(start_method)
    with no_stray_processes():
        pool = ctx.Pool(
            workers, initializer=initializer, initargs=initargs, maxtasksperchild=maxtasksperchild
        )
        try:
            yield pool
            pool.close()
            pool.join()
        finally:
            pool.terminate()
            pool.join()


def wait(async_result, timeout: float = DEFAULT_TIMEOUT):
    """async_result.get(timeout) with an error that says what timed out."""
    try:
        return async_result.get(timeout)
    except multiprocessing.TimeoutError:
        raise TimeoutError(
            f"the workers did not finish within {timeout:.0f} s; they were stopped. "
            "A task may be stuck, or the machine far busier than expected."
        ) from None


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str = "", expected_seconds: float = 0.0
) -> Iterator[T]:
    """Iterate items, with a tqdm progress bar when the sweep should take over 3 seconds."""
    if expected_seconds > 3.0:
        from tqdm.auto import tqdm

        yield from tqdm(items, total=total, desc=desc, leave=False)
    else:
        yield from items


def timed(func, *args, **kwargs) -> tuple[float, object]:
    """Call func and return (seconds on perf_counter, its return value)."""
    start = time.perf_counter()
    value = func(*args, **kwargs)
    return time.perf_counter() - start, value
