"""Threads: start, join, daemons, and a pool that leaves none behind: lesson 02, section 1.

Introduced in 02_threads.ipynb, section 1.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from ...machine import require_workers
from ...results import Result
from ...runner import timed
from ...servers.http import require_delay

# Jupyter's own threads: not the lesson's, and they come and go on their own
_NOTEBOOK_MODULES = ("zmq", "ipykernel", "jupyter_client", "IPython", "tornado")


@contextmanager
def thread_pool(threads: int, *, name: str = "io") -> Iterator[ThreadPoolExecutor]:
    """A ThreadPoolExecutor whose threads are all gone when the block ends.

    Trap: a plain executor runs every queued task before its with block ends, even after an
    error. Here, on an error or an interrupt (the notebook's stop button), the tasks not yet
    started are cancelled, so the block ends once the running ones finish. Lesson 02, section 2.
    """
    require_workers(threads, what="threads")
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def threads_left(before: set[threading.Thread], grace: float = 1.0) -> list[str]:
    """Names of threads running now that were not in `before` (waiting up to grace seconds).

    Trap: a pool's threads take a moment to exit after their last task, hence the grace.
    Threads of the notebook's own machinery (Jupyter's messaging) are left out.
    Lesson 02, key points and exercise 1.
    """
    deadline = time.monotonic() + grace
    while True:
        new = [t for t in threading.enumerate() if t not in before and t.is_alive()
               and type(t).__module__.split(".")[0] not in _NOTEBOOK_MODULES]
        if not new or time.monotonic() > deadline:
            return [t.name for t in new]
        time.sleep(0.02)


_DAEMON_PROGRAM = """
import threading, time
start = time.perf_counter()
def say(text):
    print(f"{{time.perf_counter() - start:.2f}} s  {{text}}", flush=True)
def work():
    try:
        time.sleep({seconds})
        say("worker: finished its work")
    finally:
        say("worker: clean-up ran")
threading.Thread(target=work, name="worker", daemon={daemon}).start()
say("main: reached the end of the program")
"""


@dataclass
class DaemonResult(Result):
    """What a small program printed when its main thread ended before its worker thread. Lesson 02, section 1."""

    daemon: bool = False
    output: list[str] = field(default_factory=list)
    cleanup_ran: bool = False


def daemon_exit(daemon: bool, seconds: float = 0.3, timeout: float = 30.0) -> DaemonResult:
    """Run a tiny program whose main thread ends while a worker thread still sleeps `seconds`.

    A fresh interpreter runs it (a notebook's kernel never exits, so it cannot show this).
    Trap: with daemon=True the interpreter exits without waiting, so the worker's finally
    block never runs. Lesson 02, section 1.
    """
    require_delay(seconds)
    program = _DAEMON_PROGRAM.format(seconds=float(seconds), daemon=bool(daemon))
    took, done = timed(subprocess.run, [sys.executable, "-c", program], capture_output=True,
                       text=True, timeout=timeout)
    output = done.stdout.splitlines()
    cleanup_ran = any("clean-up ran" in line for line in output)
    return DaemonResult(
        title=f"A worker thread with daemon={bool(daemon)} outlives the main thread",
        params={"daemon": bool(daemon), "seconds": seconds},
        rows=[{"printed": line} for line in output],
        findings=[
            f"The interpreter waited for the worker before exiting ({took:.2f} s in all, "
            "start-up included): its work and its clean-up both ran."
            if cleanup_ran
            else f"The interpreter exited ({took:.2f} s in all, start-up included) without "
            "waiting: the daemon worker was stopped mid-sleep, and its finally block never ran."
        ],
        daemon=bool(daemon),
        output=output,
        cleanup_ran=cleanup_ran,
    )
