"""ProcessPoolExecutor beside Pool: the same processes, with futures.

Introduced in 01_process_pool.ipynb (section 8). process_executor() is the executor's
counterpart of helpers.runner.process_pool(): an explicit start method, and no worker left
behind on error or interrupt. pool_vs_executor() times both on the same work, alternately.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

from ...machine import mp_context, require_workers
from ...results import Result
from ...runner import no_stray_processes, wait
from ...timing import alternating
from ...workloads import cpu
from . import charts as pool_charts
from .workers import pool_default_chunksize, started_pool


@contextmanager
def process_executor(
    workers: int, *, start_method: str | None = None, initializer=None, initargs: tuple = ()
) -> Iterator[ProcessPoolExecutor]:
    """A ProcessPoolExecutor with an explicit start method that always ends its workers.

    On error or interrupt, the workers are terminated first (pending tasks are cancelled)
    and only then does shutdown() wait, which is quick once the executor has seen them exit.
    shutdown(wait=False) with workers still alive can leave the executor's manager thread
    behind and hang the interpreter at exit (CPython issues 83386 and 132969).
    """
    require_workers(workers)
    with no_stray_processes():
        executor = ProcessPoolExecutor(
            workers, mp_context=mp_context(start_method), initializer=initializer, initargs=initargs
        )
        try:
            yield executor
        except BaseException:
            # _processes: pid -> Process, the executor's workers (private, stable since 3.2)
            _end(list((executor._processes or {}).values()))
            executor.shutdown(wait=True, cancel_futures=True)
            raise
        else:
            executor.shutdown(wait=True)


def _end(processes: list, grace: float = 2.0) -> None:
    """Terminate, then kill, workers through their own Process objects.

    Not through psutil: a child reaped behind multiprocessing's back looks alive to it
    forever, and the executor's manager thread then waits for it in a busy loop.
    """
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(grace)
        if process.is_alive():
            process.kill()
            process.join(grace)


@dataclass
class ApiResult(Result):
    """Median time per (workload, variant) for Pool and ProcessPoolExecutor."""

    seconds: dict[tuple[str, str], list[float]] = field(default_factory=dict)

    @property
    def workloads(self) -> list[str]:
        return list(dict.fromkeys(w for w, _ in self.seconds))

    def median(self, workload: str, variant: str) -> float:
        return statistics.median(self.seconds[(workload, variant)])

    def plot(self):
        return pool_charts.api_bars(self)


def pool_vs_executor(
    tiny_tasks: int = 2000,
    cpu_seconds: float = 0.4,
    *,
    workers: int = 2,
    repeats: int = 3,
    start_method: str | None = None,
    timeout: float = 60.0,
) -> ApiResult:
    """The same work through Pool.map and ProcessPoolExecutor.map, alternated, medians.

    Tiny tasks (x + 1) show the default chunksizes: Pool.map picks tasks / (4 x workers),
    ProcessPoolExecutor.map sends one task per message unless told otherwise. CPU-bound
    tasks (cpu_seconds of one core in all) show the two doing the same parallel work.
    """
    require_workers(tiny_tasks, what="tiny_tasks")
    require_workers(workers)
    require_workers(repeats, what="repeats")
    chunk = pool_default_chunksize(tiny_tasks, workers)
    tiny = list(range(tiny_tasks))
    cpu_tasks = 4 * workers
    steps = [cpu.units_for(cpu_seconds / cpu_tasks)] * cpu_tasks
    tiny_name, cpu_name = f"{tiny_tasks:,} tiny tasks", f"{cpu_tasks} CPU-bound tasks"
    result = ApiResult(
        title=f"Pool against ProcessPoolExecutor, {workers} workers",
        params={"tiny_tasks": tiny_tasks, "cpu_seconds": cpu_seconds, "repeats": repeats},
    )
    with (
        started_pool(workers, start_method=start_method, timeout=timeout) as started,
        process_executor(workers, start_method=start_method) as executor,
    ):
        pool = started.pool
        list(executor.map(cpu.increment, range(4 * workers), timeout=timeout))  # start workers
        variants = {
            (tiny_name, "Pool.map (default chunksize)"): lambda: wait(
                pool.map_async(cpu.increment, tiny), timeout
            ),
            (tiny_name, "Executor.map (default: chunksize=1)"): lambda: list(
                executor.map(cpu.increment, tiny, timeout=timeout)
            ),
            (tiny_name, f"Executor.map (chunksize={chunk})"): lambda: list(
                executor.map(cpu.increment, tiny, chunksize=chunk, timeout=timeout)
            ),
            (cpu_name, "Pool.map"): lambda: wait(pool.map_async(cpu.spin, steps, 1), timeout),
            (cpu_name, "Executor.map"): lambda: list(
                executor.map(cpu.spin, steps, timeout=timeout)
            ),
        }
        for key in alternating(list(variants), repeats):
            start = time.perf_counter()
            variants[key]()
            result.seconds.setdefault(key, []).append(time.perf_counter() - start)
    result.seconds = {key: result.seconds[key] for key in variants}  # teaching order
    return _api_described(result, tiny_name, cpu_name, chunk)


def _api_described(result: ApiResult, tiny_name: str, cpu_name: str, chunk: int) -> ApiResult:
    """The run's table (median time per workload and variant) and its findings."""
    result.rows = [
        {"workload": w, "variant": v, "median time (ms)": result.median(w, v) * 1000}
        for w, v in result.seconds
    ]
    default_pool = result.median(tiny_name, "Pool.map (default chunksize)")
    default_exec = result.median(tiny_name, "Executor.map (default: chunksize=1)")
    chunked_exec = result.median(tiny_name, f"Executor.map (chunksize={chunk})")
    result.findings = [
        f"Tiny tasks: Executor.map with its default chunksize of 1 took "
        f"{default_exec / default_pool:.0f}x as long as Pool.map, which chose chunksize {chunk} "
        f"itself; given chunksize={chunk}, the executor took {chunked_exec * 1000:.0f} ms "
        f"against Pool's {default_pool * 1000:.0f} ms.",
        f"CPU-bound tasks: {result.median(cpu_name, 'Executor.map') * 1000:.0f} ms with the "
        f"executor, {result.median(cpu_name, 'Pool.map') * 1000:.0f} ms with Pool: the same "
        "processes doing the same work.",
    ]
    return result
