"""Where pools go wrong in a notebook, caught safely: a function defined in a cell.

Introduced in 01_process_pool.ipynb (sections 7 and 8). A function defined in a notebook
cell lives in the kernel's ``__main__``. A pool sends it by name; a forked worker has a
copy of that ``__main__`` and finds it, but a spawn or forkserver worker starts fresh and
does not. The worker then dies while unpickling the task. Pool replaces the worker and
waits for the lost task forever; ProcessPoolExecutor notices and raises BrokenProcessPool.

in_notebook_function() watches the workers, stops the pool as soon as one dies, and reads
the real error from the dead worker's stderr, which a notebook never shows.
"""

from __future__ import annotations

import gc
import pickle
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from ...machine import require_workers, start_methods
from ...results import Result
from ...runner import process_pool
from .executor import process_executor
from .workers import capture_stderr

APIS = ("Pool", "ProcessPoolExecutor")


@dataclass
class PitfallResult(Result):
    """What happened to one function under each start method and API (a row each)."""

    def plot(self):
        raise NotImplementedError("this experiment is a table: show the result itself")


def _last_error_line(folder: Path) -> str:
    """The exception line of the first traceback a dead worker wrote to its stderr file."""
    for log in sorted(folder.glob("*.log")):
        lines = [line for line in log.read_text().splitlines() if line.strip()]
        errors = [line for line in lines if not line.startswith((" ", "Traceback", "Process "))]
        if errors:
            return errors[-1]
    return ""


class _Stopped(Exception):
    """Raised to leave a pool's block through its error path, which terminates the workers.

    Leaving normally would close() and join(): with a task lost, join() waits forever.
    args: the outcome, then the task's own exception if it raised one.
    """


def _raised(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _run_pool(func, items, workers, method, folder, timeout) -> list:
    """func over items on a Pool: its results; _Stopped when it cannot finish in timeout."""
    with process_pool(
        workers, start_method=method, initializer=capture_stderr, initargs=(str(folder),)
    ) as pool:
        originals = list(pool._pool)  # the worker processes Pool started (private, stable)
        pending = pool.map_async(func, items, chunksize=1)
        deadline = time.monotonic() + timeout
        while not pending.ready():
            if any(p.exitcode is not None for p in originals):
                raise _Stopped(
                    "a worker died; Pool replaced it and would have waited "
                    "forever for the lost task"
                )
            if time.monotonic() > deadline:
                raise _Stopped(f"no result in {timeout:.0f} s")
            pending.wait(0.05)
        try:
            return pending.get(0)
        except Exception as exc:  # the task's own error, re-raised here by get()
            raise _Stopped("a task raised an exception", exc) from None


def _run_executor(func, items, workers, method, folder, timeout) -> list:
    """func over items on a ProcessPoolExecutor: its results, or _Stopped."""
    with process_executor(
        workers, start_method=method, initializer=capture_stderr, initargs=(str(folder),)
    ) as executor:
        futures = [executor.submit(func, x) for x in items]
        done, _ = wait_futures(futures, timeout=timeout, return_when=FIRST_EXCEPTION)
        failed = [f.exception() for f in done if f.exception() is not None]
        if any(isinstance(e, BrokenProcessPool) for e in failed):
            raise _Stopped("a worker died; the executor noticed and raised BrokenProcessPool")
        if failed:
            raise _Stopped("a task raised an exception", failed[0])
        if len(done) < len(futures):
            raise _Stopped(f"no result in {timeout:.0f} s")
        return [f.result(0) for f in futures]


def in_notebook_function(
    func: Callable,
    *,
    methods: list[str] | None = None,
    apis: tuple[str, ...] = ("Pool",),
    items: tuple = (1, 2, 3, 4),
    workers: int = 2,
    timeout: float = 20.0,
) -> PitfallResult:
    """Try func on a pool under each start method; never hang, always say what happened.

    apis: "Pool" and/or "ProcessPoolExecutor". A function that cannot even be pickled here
    (a lambda) fails in this process at once; one that workers cannot find is stopped as
    soon as a worker dies, and the dead worker's own error is shown.
    """
    require_workers(workers)
    available = start_methods()
    methods = available if methods is None else list(methods)
    for name in [*methods, *apis]:
        if name not in available and name not in APIS:
            raise ValueError(
                f"unknown start method or API {name!r}; start methods here: "
                f"{available}, APIs: {APIS}"
            )
    name = getattr(func, "__qualname__", repr(func))
    result = PitfallResult(
        title=f"{name}() from module {getattr(func, '__module__', '?')!r} on a pool",
        params={"items": list(items), "workers": workers, "timeout": timeout},
    )
    columns = ("API", "start method", "outcome", "results", "the real error", "seconds")
    try:
        pickle.dumps(func)
    except Exception as exc:  # what Pool.map would raise at once: PicklingError, AttributeError
        outcome = "cannot be pickled: fails in this process, before any worker"
        row = ("any", "any", outcome, None, _raised(exc), 0.0)
        result.rows.append(dict(zip(columns, row, strict=True)))
        methods, apis = [], ()
    for api in apis:
        runner = _run_pool if api == "Pool" else _run_executor
        for method in methods:
            start = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix="pool-stderr-") as folder:
                try:
                    value = runner(func, list(items), workers, method, folder, timeout)
                    ran = ("worked", value, "")
                except _Stopped as stop:  # the real error: the task's own, or a dead worker's
                    outcome, *raised = stop.args
                    error = _raised(raised[0]) if raised else _last_error_line(Path(folder))
                    ran = (outcome, None, error)
            row = (api, method, *ran, time.perf_counter() - start)
            result.rows.append(dict(zip(columns, row, strict=True)))
    result.findings = _pitfall_findings(result, name)
    # A stopped pool's frames stay in a traceback cycle until the collector runs; under spawn
    # and forkserver they hold named semaphores (/dev/shm), which must go before we return.
    gc.collect()
    return result


def _pitfall_findings(r: PitfallResult, name: str) -> list[str]:
    worked = [
        f"{row['API']} with {row['start method']}" for row in r.rows if row["outcome"] == "worked"
    ]
    failed = [row for row in r.rows if row["outcome"] != "worked"]
    findings = []
    if worked:
        findings.append(f"{name}() worked with: {', '.join(worked)}.")
    for row in failed:
        if row["API"] == "any":
            findings.append(
                f"{name}() cannot be pickled, so no pool can send it: {row['the real error']}. "
                "Pool.map raises this at once, under every start method. Lambdas and functions "
                "defined inside other functions have no importable name: define a module-level "
                "function in a .py file instead."
            )
            continue
        findings.append(
            f"{row['API']} with {row['start method']}: {row['outcome']} "
            f"(stopped after {row['seconds']:.1f} s). The real error: {row['the real error']}"
        )
    if any("Can't get attribute" in row["the real error"] for row in failed):
        findings.append(
            "The worker looked the function up by name in its own __main__ module. A forked "
            "worker has a copy of the notebook's __main__; a spawned or forkserver worker "
            "starts a fresh one, where the function does not exist. The fix: define it in a "
            "module (a .py file) and import it."
        )
    return findings
