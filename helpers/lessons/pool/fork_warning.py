"""Forking a process that runs threads: Python 3.12's DeprecationWarning, measured.

Introduced in 01_process_pool.ipynb (section 2, "fork in a process with threads"). fork
copies only the thread that calls it; a lock another thread held then stays locked forever in
the child. From Python 3.12, os.fork() in a multi-threaded process warns ("This process ...
is multi-threaded, use of fork() may lead to deadlocks in the child"). A Jupyter kernel
always runs threads (heartbeat, IOPub), so every fork-started worker in a notebook is forked
from a multi-threaded process.

Trap: the warning is attributed to multiprocessing's own module, and Python's default
filters show DeprecationWarnings only for code in __main__: most learners never see it,
pytest does. fork_with_threads() records it with the filters in force and with all shown.
"""

from __future__ import annotations

import platform
import threading
import warnings
from dataclasses import dataclass, field

import psutil

from ...machine import mp_context, start_methods
from ...results import Result
from ...workloads import cpu

FORK_WARNING = "is multi-threaded, use of fork()"  # the part of 3.12's message that identifies it


@dataclass
class ForkWarningResult(Result):
    """The fork warnings one fork-started pool raised here, with the threads it forked beside."""

    threads: list[str] = field(default_factory=list)  # Python threads' names
    os_threads: int = 0  # every thread of the process, C threads (zmq) included
    shown: list[str] = field(default_factory=list)  # with the filters in force
    raised: list[str] = field(default_factory=list)  # with every warning shown


def fork_with_threads() -> ForkWarningResult:
    """Start a 1-worker pool with fork here, twice, recording the warnings each raises.

    Where fork does not exist (Windows), the result says so. Lesson 01, section 2.
    """
    result = ForkWarningResult(
        title="Forking a worker from a process that runs threads",
        params={"python": platform.python_version()},
        threads=[t.name for t in threading.enumerate()],
        os_threads=psutil.Process().num_threads(),
    )
    if "fork" not in start_methods():
        result.findings = ["This system has no fork start method: nothing to warn about."]
        return result
    for action, kept in ((None, result.shown), ("always", result.raised)):
        with warnings.catch_warnings(record=True, action=action) as caught:
            with mp_context("fork").Pool(1) as pool:
                pool.map(cpu.increment, [1])
                pool.close()
                pool.join()
            del pool  # its semaphores go now, not when the kernel ends
        forks = [w for w in caught if FORK_WARNING in str(w.message)]
        kept += [f"{w.category.__name__}: {w.message}" for w in forks]
    result.rows = [
        {"filters": "as in force here", "fork warnings seen": len(result.shown)},
        {"filters": 'warnings.simplefilter("always")', "fork warnings seen": len(result.raised)},
    ]
    result.findings = fork_findings(result)
    return result


def fork_findings(r: ForkWarningResult) -> list[str]:
    version = r.params["python"]
    threads = (
        f"This process runs {len(r.threads)} Python thread{'s' * (len(r.threads) > 1)} "
        f"({', '.join(r.threads)}) and {r.os_threads} threads in all."
    )
    if not r.raised:
        return [
            threads,
            f"Python {version} raised no fork warning: it exists from Python 3.12. The risk it "
            "names is the same on every version.",
        ]
    seen = (
        "and the filters in force here showed it too."
        if r.shown
        else "but the filters in force here hid it: Python shows DeprecationWarnings only for "
        "code in __main__, and this one is attributed to multiprocessing's own module."
    )
    return [threads, f"Python {version} raised: {r.raised[0]}", f"It was raised {seen}"]

