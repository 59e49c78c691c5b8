"""Lesson 06, section 2: asyncio as a third way to overlap waits, against threads, on the slow server.

Introduced in 06_choosing_and_scaling_out.ipynb. The notebook writes the ways to fetch (a
thread pool's map, asyncio's gather under a semaphore, a coroutine that calls a blocking
function); this module times them, alternating, against the same slow local server. Every
request is one task event, so a timeline shows which requests waited together, in which thread.

    this process                                       server process
    a fetch function: threads, or coroutines  --->     answers each GET after `delay` s
    run in turns, `repeats` rounds, measured
"""

from __future__ import annotations

import asyncio
import inspect
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from ...events import TaskEvent
from ...machine import require_workers
from ...probes import measure
from ...results import Result
from ...servers.http import require_delay, slow_server
from ...timing import alternating
from ...workloads import aio, io

T = TypeVar("T")
TIMEOUT = 60.0  # seconds for one variant; the server answers in a fraction of that


def run_coroutine(make: Callable[[], Awaitable[T]], timeout: float = TIMEOUT) -> T:
    """Run the coroutine make() on a fresh event loop in its own thread; return its result.

    A notebook's kernel already runs an event loop in the main thread, where asyncio.run()
    refuses to start, so the loop gets a thread of its own ("asyncio-loop"). The coroutine
    is cancelled after timeout seconds, or at once on an interrupt (the stop button); the
    loop's threads (its own, asyncio.to_thread's) are gone when this returns.
    """
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, name="asyncio-loop", daemon=True)
    runner.start()

    async def bounded() -> T:
        return await asyncio.wait_for(make(), timeout)

    future = asyncio.run_coroutine_threadsafe(bounded(), loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()  # an interrupt or error here: stop the coroutine, not just our wait
        raise
    finally:
        _stop_loop(loop, runner)


def _stop_loop(loop: asyncio.AbstractEventLoop, runner: threading.Thread) -> None:
    async def cancel_rest() -> None:
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in rest:
            t.cancel()
        await asyncio.gather(*rest, return_exceptions=True)
        await loop.shutdown_asyncgens()
        await loop.shutdown_default_executor()  # asyncio.to_thread's threads

    try:
        asyncio.run_coroutine_threadsafe(cancel_rest(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        if not runner.is_alive():
            loop.close()


def fetch_with_threads(url: str, requests: int, limit: int) -> list[bytes]:
    """GET url `requests` times on a pool of `limit` threads (blocking urllib); the bodies, in order.

    The check's default threads side; the notebook writes the same few lines in view.
    """
    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="fetch") as pool:
        return list(pool.map(io.fetch, [url] * requests))


@dataclass(frozen=True)
class Variant:
    """One way to send the requests: fetch(url, requests, limit), a function or a coroutine
    function, run with at most `limit` requests in flight."""

    fetch: Callable
    limit: int

    @property
    def label(self) -> str:
        return f"{self.fetch.__name__}, {self.limit} at a time"


def _run(variant: Variant, url: str, requests: int, timeout: float) -> tuple[float, float, float]:
    """Run one variant; return (start, end, CPU seconds of this process) on perf_counter."""
    cpu0, start = time.process_time(), time.perf_counter()
    if inspect.iscoroutinefunction(variant.fetch):
        answers = run_coroutine(lambda: variant.fetch(url, requests, variant.limit), timeout)
    else:
        answers = variant.fetch(url, requests, variant.limit)
    end = time.perf_counter()
    if len(answers or []) != requests:
        raise RuntimeError(f"{variant.label}: {len(answers or [])} answers for {requests} requests")
    return start, end, time.process_time() - cpu0


@dataclass
class VariantRun:
    """One run of one variant: when it ran, the CPU it used, and its requests' task events."""

    variant: Variant
    start: float
    end: float
    cpu: float
    events: list[TaskEvent] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return self.end - self.start

    @property
    def threads_used(self) -> int:
        """Distinct threads that ran requests, read from the task events (not assumed)."""
        return len({(e.pid, e.thread) for e in self.events})


@dataclass
class AsyncioResult(Result):
    """Ways to fetch on the same slow server, alternated; every run's task events."""

    runs: list[VariantRun] = field(default_factory=list)
    requests: int = 0
    delay: float = 0.0

    def medians(self, variant: Variant) -> dict[str, float]:
        """Median wall and CPU seconds of a variant's runs, and the most threads one used."""
        mine = [r for r in self.runs if r.variant == variant]
        return {
            "wall": statistics.median(r.wall for r in mine),
            "cpu": statistics.median(r.cpu for r in mine),
            "threads": max(r.threads_used for r in mine),
        }

    @property
    def variants(self) -> list[Variant]:
        return list(dict.fromkeys(r.variant for r in self.runs))

    def time_ratio(self) -> float:
        """The second variant's median wall time over the first's (asyncio / threads), x."""
        first, second = self.variants[:2]
        return self.medians(second)["wall"] / self.medians(first)["wall"]

    def ideal(self, variant: Variant) -> float:
        """The least time possible in seconds: rounds of `limit` requests, one delay each."""
        return -(-self.requests // variant.limit) * self.delay

    def plot(self):
        """One timeline per variant (its last run): a row per request, coloured by thread."""
        from .charts import request_timelines

        return request_timelines(self)


def asyncio_vs_threads(
    requests: int = 32, delay: float = 0.1, workers: int = 8, repeats: int = 3,
    all_at_once: bool = True, timeout: float = TIMEOUT, *,
    threads: Callable = fetch_with_threads, coroutines: Callable = aio.fetch_all,
) -> AsyncioResult:
    """Send `requests` GETs to a slow local server with threads(url, requests, limit) and with
    the coroutine function coroutines(url, requests, limit); Lesson 06, section 2.

    workers: the limit of both (threads in the pool, requests under the semaphore).
    all_at_once: also run both with one waiter per request. Variants alternate within each
    of `repeats` rounds, so they see the same machine; the table reports medians.
    """
    require_workers(requests, what="requests")
    require_workers(workers)
    require_workers(repeats, what="repeats")
    delay = require_delay(delay)
    variants = [Variant(threads, workers), Variant(coroutines, workers)]
    if all_at_once and workers < requests:
        variants += [Variant(threads, requests), Variant(coroutines, requests)]
    result = _compare(variants, requests, delay, repeats, timeout)
    result.title = f"{requests} requests to a server that answers after {delay:g} s"
    result.params.update(workers=workers, repeats=repeats)
    result.findings = _findings(result)
    return result


def blocking_pitfall(
    good: Callable, bad: Callable, requests: int = 8, delay: float = 0.1, timeout: float = TIMEOUT
) -> AsyncioResult:
    """asyncio's classic mistake, measured: the same gather over a coroutine that awaits the
    network (good) and one that calls a blocking function inside (bad); Lesson 06, section 2."""
    require_workers(requests, what="requests")
    delay = require_delay(delay)
    result = _compare([Variant(good, requests), Variant(bad, requests)], requests, delay, 1, timeout)
    result.title = f"{requests} coroutines, server delay {delay:g} s: await against a blocking call"
    fast, slow = (result.medians(v)["wall"] for v in result.variants)
    result.findings = [
        f"Awaiting the network: {fast:.2f} s. Calling a blocking function inside the coroutines: "
        f"{slow:.2f} s, {slow / fast:.1f}x longer, about {requests} x {delay:g} s: one request "
        "after another.",
        "Nothing warned: the code ran, just without any overlap. A blocking call inside "
        "async def stops every coroutine of that loop.",
    ]
    return result


def _compare(
    variants: list[Variant], requests: int, delay: float, repeats: int, timeout: float
) -> AsyncioResult:
    """Run the variants in alternating order, `repeats` rounds, under one measurement."""
    runs: list[VariantRun] = []
    with slow_server(delay) as server:
        for variant in variants[:2]:  # warm up: imports, the first connection
            _run(Variant(variant.fetch, 1), server.url, 1, timeout)
        with measure(interval=0.05) as m:
            for variant in alternating(variants, repeats):
                runs.append(VariantRun(variant, *_run(variant, server.url, requests, timeout)))
    for run in runs:  # each request's event falls inside the run that sent it
        run.events = [e for e in m.tasks if run.start <= e.start and e.end <= run.end]
    result = AsyncioResult(title="", params={"requests": requests, "delay": delay},
                           measurement=m, runs=runs, requests=requests, delay=delay)
    result.rows = [
        {"variant": v.label, "median wall (s)": med["wall"], "ideal (s)": result.ideal(v),
         "threads used": med["threads"], "CPU per request (ms)": med["cpu"] / requests * 1000}
        for v in result.variants
        for med in [result.medians(v)]
    ]
    return result


def _findings(result: AsyncioResult) -> list[str]:
    threads, coroutines = (result.medians(v) for v in result.variants[:2])
    limit = result.variants[0].limit
    findings = [
        f"At {limit} requests at a time, threads took {threads['wall']:.2f} s and asyncio "
        f"{coroutines['wall']:.2f} s, against an ideal of {result.ideal(result.variants[0]):.2f} s: "
        "the waiting sets the time, not the model.",
        f"Threads used {threads['threads']} threads; asyncio ran every request in "
        f"{coroutines['threads']} thread.",
    ]
    if len(result.variants) == 4:
        t_all, a_all = (result.medians(v) for v in result.variants[2:])
        findings.append(
            f"All {result.requests} at once: threads {t_all['wall']:.2f} s with "
            f"{t_all['threads']} threads, asyncio {a_all['wall']:.2f} s with "
            f"{a_all['threads']} thread (ideal {result.delay:.2f} s)."
        )
    findings.append(
        f"CPU time in this process per request: threads "
        f"{threads['cpu'] / result.requests * 1000:.2f} ms, asyncio "
        f"{coroutines['cpu'] / result.requests * 1000:.2f} ms "
        "(the client's own work; the server's is in its process)."
    )
    return findings
