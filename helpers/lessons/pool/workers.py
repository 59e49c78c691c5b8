"""Starting a pool, knowing when its workers are ready, and timing work on it.

Introduced in 01_process_pool.ipynb. ``Pool()`` returns as soon as it has *launched* its
workers; under spawn or forkserver each one still has to start Python and import this
package. ``started_pool()`` waits until every worker has run its initializer, so timings
that follow measure work, not start-up, and it reports when each worker became ready.

The initializers here (report_ready, capture_stderr: what a dying worker says) run inside
the workers, so this module imports nothing heavy.
"""

from __future__ import annotations

import math
import os
import queue as queue_module
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.pool import Pool

from ...machine import mp_context, require_workers
from ...runner import no_stray_processes, wait


def report_ready(ready_queue) -> None:
    """Runs in each worker. Pool initializer: tell the parent it is ready (pid, perf_counter s)."""
    ready_queue.put((os.getpid(), time.perf_counter()))


def capture_stderr(folder: str) -> None:
    """Runs in each worker. Pool initializer: send its stderr to folder/<pid>.log, line by line.

    When a worker dies, multiprocessing prints its traceback to the worker's stderr, which
    a notebook never shows; the parent reads these files to show the real error.
    """
    sys.stderr = open(os.path.join(folder, f"{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115


@dataclass
class StartedPool:
    """A pool whose workers have all started, with when each became ready."""

    pool: Pool
    launched: float  # perf_counter seconds just before Pool() was called
    ready: dict[int, float] = field(default_factory=dict)  # pid -> perf_counter seconds

    @property
    def first_ready(self) -> float:
        """Seconds from Pool() to the first worker ready to take a task."""
        return min(self.ready.values()) - self.launched

    @property
    def all_ready(self) -> float:
        """Seconds from Pool() to the last worker ready: the pool's start-up cost."""
        return max(self.ready.values()) - self.launched


@contextmanager
def started_pool(
    workers: int, *, start_method: str | None = None, timeout: float = 60.0
) -> Iterator[StartedPool]:
    """A Pool whose workers have all started; it is terminated on leaving, even on error.

    timeout: seconds to wait for the workers to start before giving up with TimeoutError.
    """
    require_workers(workers)
    ctx = mp_context(start_method)
    ready_queue = ctx.Queue()
    with no_stray_processes():
        launched = time.perf_counter()
        with warnings.catch_warnings():
            # From Python 3.12, fork in a process with threads (a Jupyter kernel has some)
            # warns: a lock another thread holds stays locked in the child. These workers run
            # only helpers.workloads functions, which take no such lock; section 2 shows the
            # warning to the learner (fork_warning.py).
            warnings.filterwarnings("ignore", message=".*is multi-threaded, use of fork",
                                    category=DeprecationWarning)
            pool = ctx.Pool(workers, initializer=report_ready, initargs=(ready_queue,))
        try:
            started = StartedPool(pool, launched)
            deadline = time.monotonic() + timeout
            while len(started.ready) < workers:
                try:
                    pid, at = ready_queue.get(timeout=max(0.01, deadline - time.monotonic()))
                except queue_module.Empty:
                    raise TimeoutError(
                        f"only {len(started.ready)} of {workers} workers started within "
                        f"{timeout:.0f} s; they were stopped"
                    ) from None
                started.ready[pid] = at
            yield started
        finally:
            pool.terminate()
            pool.join()
            ready_queue.close()
            ready_queue.join_thread()


# -- timing work on a started pool ---------------------------------------------------------

DEFAULT_TIMEOUT = 60.0  # seconds for any one map; no lesson experiment comes near it


def map_seconds(pool: Pool, func, items: list, chunksize: int, timeout: float) -> float:
    """Seconds one pool.map of items takes, with a timeout (TimeoutError names it)."""
    start = time.perf_counter()
    wait(pool.map_async(func, items, chunksize=chunksize), timeout)
    return time.perf_counter() - start


def require_positive(value: object, what: str) -> None:
    """ValueError unless value is a positive number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number, got {value!r}")


def pool_default_chunksize(tasks: int, workers: int) -> int:
    """The chunksize Pool.map picks when given none: tasks / (4 x workers), rounded up."""
    return max(1, math.ceil(tasks / (4 * workers)))
