"""Lesson 06, part one: asyncio as a third model for I/O, against threads, on the slow server.

Introduced in 06_choosing_and_scaling_out.ipynb. The same requests go to the same slow local
server three or four ways: a pool of threads, asyncio limited to the same concurrency, and
both with one waiter per request. Every request is one task event, so a timeline shows
which requests waited together and in which thread. The cluster half of the lesson is in
scaling_dask.py; this module's check() covers both.

    this process                                   server process
    threads:  N threads, each urllib GET  --+
    asyncio:  1 thread, many coroutines   --+--->  answers each request after `delay` s
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

from ...course.check import Effect, at_least, at_most, report_only
from ...course.feedback import feedback
from ...events import TaskEvent
from ...machine import require_workers
from ...probes import measure
from ...results import Result
from ...servers.http import require_delay, slow_server
from ...workloads import aio, io

T = TypeVar("T")
TIMEOUT = 60.0  # seconds for one variant; the server answers in a fraction of that


# -- running a coroutine from ordinary code -------------------------------------------------


def run_coroutine(make: Callable[[], Awaitable[T]], timeout: float = TIMEOUT) -> T:
    """Run the coroutine make() on a fresh event loop in its own thread; return its result.

    A notebook's kernel already runs an event loop in the main thread, where asyncio.run()
    refuses to start, so the loop gets a thread of its own ("asyncio-loop"). The coroutine
    is cancelled after timeout seconds, or at once on an interrupt (the stop button).
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

    try:
        asyncio.run_coroutine_threadsafe(cancel_rest(), loop).result(10)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(10)
        if not runner.is_alive():
            loop.close()


# -- the variants ------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way to send the requests: model "threads", "asyncio" or "blocking" (asyncio calling
    a blocking function), with at most `concurrency` requests in flight."""

    model: str
    concurrency: int

    @property
    def label(self) -> str:
        if self.model == "blocking":
            return f"asyncio calling blocking urllib, {self.concurrency} gathered"
        return f"{self.model}, {self.concurrency} at a time"


def _with_threads(url: str, requests: int, workers: int, timeout: float) -> list[bytes]:
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fetch") as pool:
        return list(pool.map(io.fetch, [url] * requests, timeout=timeout))


def _with_asyncio(url: str, requests: int, limit: int, timeout: float) -> list[bytes]:
    return run_coroutine(lambda: aio.fetch_all(url, requests, limit=limit), timeout)


def _run(variant: Variant, url: str, requests: int, timeout: float) -> tuple[float, float, float]:
    """Run one variant; return (start, end, CPU seconds of this process) on perf_counter."""
    cpu0 = time.process_time()
    start = time.perf_counter()
    if variant.model == "threads":
        answers = _with_threads(url, requests, variant.concurrency, timeout)
    elif variant.model == "asyncio":
        answers = _with_asyncio(url, requests, variant.concurrency, timeout)
    elif variant.model == "blocking":
        answers = run_coroutine(lambda: aio.fetch_all_blocking(url, requests), timeout)
    else:
        raise ValueError(f"model must be threads, asyncio or blocking, got {variant.model!r}")
    end = time.perf_counter()
    if len(answers) != requests:
        raise RuntimeError(f"{variant.label}: {len(answers)} answers for {requests} requests")
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
    """Threads against asyncio on the same slow server; every run's task events."""

    runs: list[VariantRun] = field(default_factory=list)
    requests: int = 0
    delay: float = 0.0

    def medians(self, variant: Variant) -> dict[str, float]:
        mine = [r for r in self.runs if r.variant == variant]
        return {
            "wall": statistics.median(r.wall for r in mine),
            "cpu": statistics.median(r.cpu for r in mine),
            "threads": max(r.threads_used for r in mine),
        }

    @property
    def variants(self) -> list[Variant]:
        return list(dict.fromkeys(r.variant for r in self.runs))

    def ideal(self, variant: Variant) -> float:
        """The least time possible: rounds of `concurrency` requests, each round one delay."""
        if variant.model == "blocking":  # the loop's one thread waits for each in turn
            return self.requests * self.delay
        rounds = -(-self.requests // variant.concurrency)
        return rounds * self.delay

    def plot(self):
        """One timeline per variant (its last run): a row per request, coloured by thread."""
        return request_timelines(self)


def asyncio_vs_threads(
    requests: int = 32,
    delay: float = 0.1,
    workers: int = 8,
    repeats: int = 3,
    all_at_once: bool = True,
    timeout: float = TIMEOUT,
) -> AsyncioResult:
    """Send `requests` GETs to a slow local server with threads and with asyncio.

    workers: the thread pool's size, and asyncio's limit in the matched variant. all_at_once:
    also run both models with one waiter per request. Variants alternate within each of
    `repeats` rounds, so they see the same machine; the table reports medians.
    """
    require_workers(requests, what="requests")
    require_workers(workers)
    require_workers(repeats, what="repeats")
    delay = require_delay(delay)
    variants = [Variant("threads", workers), Variant("asyncio", workers)]
    if all_at_once and workers < requests:
        variants += [Variant("threads", requests), Variant("asyncio", requests)]
    result = _compare(variants, requests, delay, repeats, timeout)
    result.title = f"{requests} requests to a server that answers after {delay:g} s"
    result.params = {"requests": requests, "delay": delay, "workers": workers, "repeats": repeats}
    result.findings = _findings(result, workers)
    return result


def _compare(
    variants: list[Variant], requests: int, delay: float, repeats: int, timeout: float
) -> AsyncioResult:
    """Run the variants in alternating order, `repeats` rounds, under one measurement."""
    runs: list[VariantRun] = []
    with slow_server(delay) as server:
        url = server.url
        _run(Variant("threads", 1), url, 1, timeout)  # warm up: imports, the first connection
        _run(Variant("asyncio", 1), url, 1, timeout)
        with measure(interval=0.05) as m:
            for round_ in range(repeats):
                order = variants if round_ % 2 == 0 else variants[::-1]
                for variant in order:
                    runs.append(VariantRun(variant, *_run(variant, url, requests, timeout)))
    for run in runs:  # each request's event falls inside the run that sent it
        run.events = [e for e in m.tasks if run.start <= e.start and e.end <= run.end]
    result = AsyncioResult(
        title="", params={}, measurement=m, runs=runs, requests=requests, delay=delay
    )
    result.rows = [
        {
            "variant": v.label,
            "median wall (s)": result.medians(v)["wall"],
            "ideal (s)": result.ideal(v),
            "threads used": result.medians(v)["threads"],
            "CPU per request (ms)": result.medians(v)["cpu"] / requests * 1000,
        }
        for v in result.variants
    ]
    return result


def blocking_pitfall(requests: int = 8, delay: float = 0.1, timeout: float = TIMEOUT) -> AsyncioResult:
    """asyncio's classic mistake, measured: coroutines that call a blocking function.

    The same gather of `requests` coroutines, once over aio.fetch (awaits the network) and
    once over aio.fetch_blocking (calls urllib inside the coroutine).
    """
    require_workers(requests, what="requests")
    delay = require_delay(delay)
    good, bad = Variant("asyncio", requests), Variant("blocking", requests)
    result = _compare([good, bad], requests, delay, 1, timeout)
    result.title = f"{requests} coroutines, server delay {delay:g} s: await against a blocking call"
    result.params = {"requests": requests, "delay": delay}
    fast, slow = result.medians(good)["wall"], result.medians(bad)["wall"]
    result.findings = [
        f"Awaiting the network: {fast:.2f} s. Calling urllib inside the coroutines: {slow:.2f} s, "
        f"{slow / fast:.1f}x longer, about {requests} x {delay:g} s: one request after another.",
        "Nothing warned: the code ran, just without any overlap. A blocking call inside "
        "async def stops every coroutine of that loop.",
    ]
    return result


def _findings(result: AsyncioResult, workers: int) -> list[str]:
    threads = result.medians(Variant("threads", workers))
    asyncio_ = result.medians(Variant("asyncio", workers))
    ideal = result.ideal(Variant("threads", workers))
    findings = [
        f"At {workers} requests at a time, threads took {threads['wall']:.2f} s and asyncio "
        f"{asyncio_['wall']:.2f} s, against an ideal of {ideal:.2f} s: the waiting sets the "
        "time, not the model.",
        f"Threads used {threads['threads']} threads; asyncio ran every request in "
        f"{asyncio_['threads']} thread.",
    ]
    every = Variant("asyncio", result.requests)
    if every in result.variants:
        t_all = result.medians(Variant("threads", result.requests))
        a_all = result.medians(every)
        findings.append(
            f"All {result.requests} at once: threads {t_all['wall']:.2f} s with "
            f"{t_all['threads']} threads, asyncio {a_all['wall']:.2f} s with "
            f"{a_all['threads']} thread (ideal {result.delay:.2f} s)."
        )
    cpu_t = threads["cpu"] / result.requests * 1000
    cpu_a = asyncio_["cpu"] / result.requests * 1000
    findings.append(
        f"CPU time in this process per request: threads {cpu_t:.2f} ms, asyncio {cpu_a:.2f} ms "
        "(the client's own work; the server's is in its process)."
    )
    return findings


# -- the chart -----------------------------------------------------------------------------


def request_timelines(result: AsyncioResult):
    """A grid of timelines, one per variant: each row one request, each colour one thread.

    helpers.charts.timeline draws one lane per thread, which stacks all of asyncio's requests
    on one lane; here each request has its own row so the overlap shows.
    """
    import matplotlib.pyplot as plt

    from ...charts import color, style

    variants = result.variants
    columns = 2 if len(variants) > 1 else 1
    rows = -(-len(variants) // columns)
    with style():
        fig, axes = plt.subplots(
            rows,
            columns,
            figsize=(12, 3.6 * rows),
            layout="constrained",
            squeeze=False,
            sharex=True,
        )
        longest = max((r.wall for r in result.runs), default=1.0)
        for ax, variant in zip(axes.flat, variants, strict=False):
            run = [r for r in result.runs if r.variant == variant][-1]
            events = sorted(run.events, key=lambda e: e.start)
            lanes = {lane: i for i, lane in enumerate(dict.fromkeys((e.pid, e.thread) for e in events))}
            for row, e in enumerate(events):
                ax.barh(
                    row,
                    max(e.duration, 1e-4),
                    left=e.start - run.start,
                    height=0.8,
                    color=color(lanes[(e.pid, e.thread)]),
                )
            ax.set_xlim(0, longest * 1.05)
            ax.invert_yaxis()
            ax.set_ylabel("request")
            ax.set_title(f"{variant.label}: {run.wall:.2f} s, {run.threads_used} thread(s)")
            ax.grid(axis="y", visible=False)
        for ax in axes[-1]:
            ax.set_xlabel("time since the first request (s)")
        for ax in list(axes.flat)[len(variants) :]:
            ax.set_visible(False)
        fig.suptitle(
            f"{result.requests} requests, server delay {result.delay:g} s; colour = the thread "
            "that waited",
            fontsize=14,
        )
        plt.close(fig)
        return fig


# -- the figures this lesson reports: the check, and the decision guide ---------------------

LESSON = "scaling"


def effects(asyncio_result: AsyncioResult | None = None, cluster_result=None) -> list[Effect]:
    """This lesson's key effects, from results already measured (None: that part is left out).

    Used by python -m helpers check and by the decision guide in 06, which passes the
    notebook's own results so nothing runs twice.
    """
    found: list[Effect] = []
    if asyncio_result is not None:
        workers = asyncio_result.params["workers"]
        threads = asyncio_result.medians(Variant("threads", workers))["wall"]
        asyncio_ = asyncio_result.medians(Variant("asyncio", workers))["wall"]
        found.append(
            at_most(LESSON, "asyncio time / threads time, same concurrency", asyncio_ / threads, 1.3)
        )
    if cluster_result is not None:
        r = cluster_result
        pool_overhead = max(r.overhead("Pool.map, chunksize=1"), 1e-7)
        found += [
            at_least(LESSON, "dask speed-up on CPU-bound tasks vs one core", r.speedup("dask"),
                     1.5, cores=2),
            report_only(LESSON, "local cluster start-up", r.startup["dask"], unit=" s"),
            report_only(LESSON, "dask overhead per task", r.overhead("dask Client.map") * 1e3,
                        unit=" ms"),
            at_least(LESSON, "dask overhead per task / Pool's (chunksize=1)",
                     r.overhead("dask Client.map") / pool_overhead, 2.0),
        ]
    return found


def check_effects(quick: bool = True) -> list[Effect]:
    """The scaling section of python -m helpers check: asyncio, then a local dask cluster."""
    from ...machine import usable_cores

    a = asyncio_vs_threads(
        requests=16 if quick else 32, delay=0.1, workers=4 if quick else 8, repeats=3,
        all_at_once=False,
    )
    per_worker = 2 if quick else 4
    c = cluster_vs_pool(
        tasks=per_worker * max(2, usable_cores()), task_seconds=0.2,
        tiny_tasks=100 if quick else 300, repeats=3, show_link=False,
    )
    return effects(a, c)


# -- exercise checks (they print feedback and never raise on a wrong answer) -----------------


def check_fetch_limited(fetch_limited, requests: int = 12, limit: int = 3, delay: float = 0.1) -> bool:
    """Exercise 2: does `await fetch_limited(url, requests, limit)` fetch every answer, at most
    `limit` at a time, and overlap them? The server counts how many it served at once."""
    import inspect

    if not inspect.iscoroutinefunction(fetch_limited):
        return feedback(False, "", "fetch_limited must be a coroutine function: `async def ...`.")
    with slow_server(delay) as server:
        start = time.perf_counter()
        try:
            answers = run_coroutine(lambda: fetch_limited(server.url, requests, limit), TIMEOUT)
        except Exception as exc:  # the learner's code: report it, do not stop the notebook
            return feedback(False, "", f"fetch_limited raised {type(exc).__name__}: {exc}")
        took = time.perf_counter() - start
        at_once = server.stats()["max_in_flight"]
    ok = feedback(
        isinstance(answers, list) and len(answers) == requests and all(a == b"ok\n" for a in answers),
        f"all {requests} answers came back",
        f"expected a list of {requests} answers b'ok\\n', got {answers!r:.80}",
    )
    ok &= feedback(
        at_once <= limit,
        f"the server never saw more than {limit} requests at once (it saw {at_once})",
        f"the server saw {at_once} requests at once, over the limit of {limit}: "
        "hold an asyncio.Semaphore(limit) around each fetch",
    )
    rounds = -(-requests // limit)
    ok &= feedback(
        at_once >= min(2, limit) and took < 0.8 * requests * delay,
        f"{took:.2f} s: the requests overlapped (one at a time would take {requests * delay:.1f} s, "
        f"{limit} at a time about {rounds * delay:.1f} s)",
        f"{took:.2f} s and at most {at_once} at once: the requests did not overlap. Start them "
        "all with asyncio.gather and let the semaphore hold back the extra ones.",
    )
    return ok

from .cluster import cluster_vs_pool  # noqa: E402

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "scaling-asyncio": "asyncio_vs_threads",
    "scaling-dask": "cluster_vs_pool",
}
