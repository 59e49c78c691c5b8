"""Threads for I/O-bound work, and a race on shared data: lesson 02.

Introduced in 02_threads.ipynb. ``io_speedup()`` spreads requests to the slow local server
over 1 to 64 threads and works out, from its own data, where the speed-up stops growing and
why. ``io_timeline()`` records which thread ran which request, when. ``race()`` (from
threads_race, re-exported here so a notebook needs one import) shows lost updates on a
shared counter and their fix with a Lock. ``check()`` is the "threads" section of
``python -m helpers check``.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil

from ...course.check import Effect, at_least, at_most, report_only
from ...machine import require_workers
from ...probes import measure
from ...results import Result
from ...runner import DEFAULT_TIMEOUT
from ...servers.http import ServerInfo, require_delay, slow_server
from ...workloads import io
from .race import (  # noqa: F401 (re-exported: the lesson's one import)
    MAX_TIMES,
    VARIANTS,
    Counter,
    RaceResult,
    add_plain,
    add_with_call,
    add_with_io,
    add_with_io_locked,
    check_account,
    race,
)

MAX_THREADS = 256  # more is not what this lesson measures, and may exhaust a small machine
MAX_SWEEP_SECONDS = 60.0  # the one-thread runs of a sweep must fit in this (a typo guard)
SATURATED = 0.9  # a thread count "reaches the plateau" at 90% of the best speed-up


# -- a thread pool that stops quickly on error or interrupt ---------------------------------


@contextmanager
def thread_pool(threads: int, *, name: str = "io") -> Iterator[ThreadPoolExecutor]:
    """A ThreadPoolExecutor whose threads are all gone when the block ends.

    On an error or an interrupt (the notebook's stop button) the tasks not yet started are
    cancelled, so the block ends once the running ones finish, instead of running them all.
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
    """Names of threads running now that were not in `before` (waiting up to grace s for them).

    Threads of the notebook's own machinery (Jupyter's messaging) are left out: they are
    not the lesson's, and come and go on their own.
    """
    deadline = time.monotonic() + grace
    while True:
        new = [
            t
            for t in threading.enumerate()
            if t not in before and t.is_alive() and not _is_notebook_machinery(t)
        ]
        if not new or time.monotonic() > deadline:
            return [t.name for t in new]
        time.sleep(0.02)  # a pool's threads take a moment to exit after their last task


def _is_notebook_machinery(thread: threading.Thread) -> bool:
    module = type(thread).__module__.split(".")[0]
    return module in ("zmq", "ipykernel", "jupyter_client", "IPython", "tornado")


# -- daemon threads ---------------------------------------------------------------------------

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
    """What a small program printed when its main thread ended before its worker thread."""

    daemon: bool = False
    output: list[str] = field(default_factory=list)
    cleanup_ran: bool = False


def daemon_exit(daemon: bool, seconds: float = 0.3, timeout: float = 30.0) -> DaemonResult:
    """Run a tiny program whose main thread ends while a worker thread still sleeps.

    A fresh interpreter runs it (a notebook's kernel never exits, so it cannot show this).
    With daemon=True the interpreter exits without waiting: the worker's finally never runs.
    """
    require_delay(seconds)
    program = _DAEMON_PROGRAM.format(seconds=float(seconds), daemon=bool(daemon))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=timeout
    )
    took = time.perf_counter() - start
    output = done.stdout.splitlines()
    result = DaemonResult(
        title=f"A worker thread with daemon={bool(daemon)} outlives the main thread",
        params={"daemon": bool(daemon), "seconds": seconds},
        rows=[{"printed": line} for line in output],
        daemon=bool(daemon),
        output=output,
        cleanup_ran=any("clean-up ran" in line for line in output),
    )
    if result.cleanup_ran:
        result.findings.append(
            f"The interpreter waited for the worker before exiting ({took:.2f} s in all, "
            "start-up included): its work and its clean-up both ran."
        )
    else:
        result.findings.append(
            f"The interpreter exited ({took:.2f} s in all, start-up included) without waiting: "
            "the daemon worker was stopped mid-sleep, and its finally block never ran."
        )
    return result


# -- I/O-bound work: speed-up against threads -------------------------------------------------


def _fetch_all(urls: list[str], threads: int, timeout: float) -> list[bytes]:
    with thread_pool(threads) as pool:
        return list(pool.map(io.fetch, urls, timeout=timeout))


def _server_cpu(server: ServerInfo) -> float:
    times = psutil.Process(server.pid).cpu_times()
    return times.user + times.system


@dataclass
class IOSpeedupResult(Result):
    """One sweep: wall time, CPU time and speed-up of the same requests over 1 to N threads."""

    tasks: int = 0
    delay: float = 0.0
    max_concurrent: int | None = None
    threads: list[int] = field(default_factory=list)
    seconds: dict[int, list[float]] = field(default_factory=dict)  # every repeat, per count
    client_cpu: dict[int, float] = field(default_factory=dict)  # median CPU s of this process
    server_cpu: dict[int, float] = field(default_factory=dict)  # median CPU s of the server
    in_flight: dict[int, int] = field(default_factory=dict)  # most requests at once, server side

    def median(self, n: int) -> float:
        return statistics.median(self.seconds[n])

    def speedup(self, n: int) -> float:
        return self.median(1) / self.median(n)

    def rounds(self, n: int) -> int:
        """Rounds of requests: n threads (or the server's limit) serve that many at a time."""
        at_once = n if self.max_concurrent is None else min(n, self.max_concurrent)
        return math.ceil(self.tasks / at_once)

    def rounds_limit(self, n: int) -> float:
        """Best speed-up the rounds allow: each round waits at least the server's delay."""
        return self.median(1) / max(self.rounds(n) * self.delay, 1e-9)

    def cpu_limit(self, n: int) -> float:
        """Best speed-up allowed by CPU: requests are prepared one at a time, then the last waits.

        Each process runs Python one thread at a time (the GIL), so the run lasts at least
        its CPU work (all requests but the last) plus one whole request. With one usable
        core the client and the server also share that core.
        """
        client, server = self.client_cpu[n], self.server_cpu[n]
        busy = client + server if self.machine["usable_cores"] < 2 else max(client, server)
        one_request = self.median(1) / self.tasks
        return self.median(1) / (busy * (self.tasks - 1) / self.tasks + one_request)

    def limit(self, n: int) -> float:
        return min(self.rounds_limit(n), self.cpu_limit(n))

    @property
    def plateau(self) -> int:
        """The fewest threads that reach 90% of the best speed-up measured."""
        best = max(self.speedup(n) for n in self.threads)
        return min(n for n in self.threads if self.speedup(n) >= SATURATED * best)

    def plot(self):
        return speedup_chart(self)


def io_speedup(
    threads: Sequence[int] = (1, 2, 4, 8, 16, 32, 64),
    tasks: int = 64,
    delay: float = 0.02,
    repeats: int = 3,
    max_concurrent: int | None = None,
) -> IOSpeedupResult:
    """Fetch `tasks` URLs from a server that waits `delay` s per answer, over each thread count.

    The thread counts run interleaved, in alternating order, `repeats` times; the table
    shows medians. One thread is always included: it is the baseline of the speed-up.
    max_concurrent: the server answers at most this many requests at once (default: all).
    """
    counts = sorted({1, *(require_workers(n, what="thread count") for n in threads)})
    if counts[-1] > MAX_THREADS:
        raise ValueError(f"thread counts must be at most {MAX_THREADS}, got {counts[-1]}")
    require_workers(tasks, what="tasks")
    require_workers(repeats, what="repeats")
    delay = require_delay(delay)
    if tasks * delay * repeats > MAX_SWEEP_SECONDS:
        raise ValueError(
            f"{tasks} tasks x {delay:g} s x {repeats} repeats would take over "
            f"{MAX_SWEEP_SECONDS:.0f} s on one thread; use fewer tasks or a shorter delay"
        )
    timeout = delay + DEFAULT_TIMEOUT
    seconds: dict[int, list[float]] = {n: [] for n in counts}
    client: dict[int, list[float]] = {n: [] for n in counts}
    server_side: dict[int, list[float]] = {n: [] for n in counts}
    in_flight: dict[int, int] = {n: 0 for n in counts}
    with slow_server(delay, max_concurrent=max_concurrent) as server:
        urls = [server.url] * tasks
        _fetch_all(urls[: min(tasks, 4)], 2, timeout)  # warm-up: first connections, imports
        for r in range(repeats):
            for n in counts if r % 2 == 0 else counts[::-1]:
                server.stats(reset=True)
                cpu0, server0 = time.process_time(), _server_cpu(server)
                start = time.perf_counter()
                bodies = _fetch_all(urls, n, timeout)
                seconds[n].append(time.perf_counter() - start)
                client[n].append(time.process_time() - cpu0)
                server_side[n].append(_server_cpu(server) - server0)
                in_flight[n] = max(in_flight[n], server.stats()["max_in_flight"])
                if len(bodies) != tasks:
                    raise RuntimeError(f"{n} threads returned {len(bodies)} answers, not {tasks}")
    result = IOSpeedupResult(
        title=f"{tasks} requests that each wait {delay * 1000:.0f} ms, over 1 to {counts[-1]} threads",
        params={
            "threads": counts,
            "tasks": tasks,
            "delay": delay,
            "repeats": repeats,
            "max_concurrent": max_concurrent,
        },
        tasks=tasks,
        delay=delay,
        max_concurrent=max_concurrent,
        threads=counts,
        seconds=seconds,
        client_cpu={n: statistics.median(v) for n, v in client.items()},
        server_cpu={n: statistics.median(v) for n, v in server_side.items()},
        in_flight=in_flight,
    )
    result.rows = [
        {
            "threads": n,
            "time (s)": result.median(n),
            "speed-up": result.speedup(n),
            "rounds": result.rounds(n),
            "limit from rounds": result.rounds_limit(n),
            "client CPU (s)": result.client_cpu[n],
            "server CPU (s)": result.server_cpu[n],
            "limit from CPU": result.cpu_limit(n),
            "most in flight": in_flight[n],
        }
        for n in counts
    ]
    result.findings = _io_findings(result)
    return result


def _io_findings(r: IOSpeedupResult) -> list[str]:
    one = r.median(1)
    per_request = one / r.tasks
    overhead = per_request - r.delay
    best = max(r.threads, key=r.speedup)
    top = r.threads[-1]
    findings = [
        f"One thread took {one:.2f} s: {per_request * 1000:.1f} ms per request, of which "
        f"{r.delay * 1000:.0f} ms is the server's wait and {overhead * 1000:.1f} ms is "
        f"connecting, sending and reading ({r.client_cpu[1] / r.tasks * 1000:.1f} ms of it "
        "CPU in this process).",
        f"The best run used {best} threads: {r.speedup(best):.1f}x faster than one thread. "
        + (
            f"The speed-up reaches 90% of that at {r.plateau} threads; more threads add little."
            if r.plateau < top
            else f"It was still growing at {top} threads, the most tried here."
        ),
    ]
    rounds, cpu = r.rounds_limit(top), r.cpu_limit(top)
    measured = r.speedup(top)
    if r.max_concurrent is not None and top > r.max_concurrent:
        why_rounds = (
            f"the server answers at most {r.max_concurrent} requests at once, so "
            f"{r.tasks} requests take {r.rounds(top)} rounds whatever the thread count"
        )
    elif top >= r.tasks:
        why_rounds = (
            f"{r.tasks} requests cannot keep more than {r.tasks} threads busy: "
            f"{r.rounds(top)} round"
        )
    else:
        why_rounds = f"{top} threads serve {r.tasks} requests in {r.rounds(top)} rounds"
    limiting = "rounds" if rounds <= cpu else "CPU"
    findings.append(
        f"At {top} threads two limits apply: rounds of requests ({why_rounds}) allow "
        f"{rounds:.1f}x; CPU allows {cpu:.1f}x (the run used {r.client_cpu[top]:.3f} s of CPU "
        f"here and {r.server_cpu[top]:.2f} s in the server; each process runs Python one "
        "thread at a time, and the last request still waits its whole time). "
        f"Measured: {measured:.1f}x, {measured / min(rounds, cpu):.0%} of the lower limit, "
        f"the {limiting} limit."
    )
    if measured < 0.5 * min(rounds, cpu):
        findings.append(
            "The measurement stays well under both limits: per-request costs that are not "
            "CPU (thread start-up, connection set-up in the kernel) or other programs on a "
            "busy machine slow it further."
        )
    return findings


def speedup_chart(r: IOSpeedupResult, ax=None):
    """Measured speed-up against threads, with the two limits computed from the same run."""
    from ... import charts as plots

    with plots.style():
        fig, ax = plots.new_axes(ax, size=(9, 4.5))
        n = r.threads
        rounds_label = (
            f"limit from rounds (server serves {r.max_concurrent} at once; each round ≥ delay)"
            if r.max_concurrent
            else "limit from rounds (each round waits ≥ the delay)"
        )
        ceiling = 4 * max(n)  # a limit far above the data (a zero delay) would squash the chart
        ax.plot(
            n,
            [min(r.rounds_limit(k), ceiling) for k in n],
            color="black",
            linestyle="--",
            label=rounds_label,
        )
        ax.plot(
            n,
            [min(r.cpu_limit(k), ceiling) for k in n],
            color=plots.color(3),
            linestyle="-.",
            label="limit from CPU (requests prepared one at a time)",
        )
        ax.plot(
            n,
            [r.speedup(k) for k in n],
            marker="o",
            color=plots.color(0),
            linewidth=2.5,
            label="measured (median)",
        )
        if len(n) > 2:  # with two points a "plateau" says nothing
            ax.axvline(r.plateau, color=plots.color(1), linewidth=1.5, alpha=0.8)
            ax.annotate(
                f"90% of best at {r.plateau} threads",
                (r.plateau, 1),
                xytext=(-4, 4),
                textcoords="offset points",
                ha="right",
                color=plots.color(1),
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xticks(n, [str(k) for k in n])
        # room for the limits too, but a CPU limit far above the rest may run off the chart
        limits = [min(r.cpu_limit(k), ceiling) for k in n]
        top = max(max(n), *(r.speedup(k) for k in n), *limits)
        ticks = [2**i for i in range(int(math.log2(top)) + 2)]
        ax.set_yticks(ticks, [str(t) for t in ticks])
        ax.set_ylim(0.8, ticks[-1] * 1.2)
        ax.set_xlabel("threads (log scale)")
        ax.set_ylabel("speed-up (× one thread, log scale)")
        ax.set_title(r.title)
        ax.legend(loc="upper left", fontsize=9)
        plots.close_if_inline(fig)
        return fig


# -- a per-thread timeline ---------------------------------------------------------------------


@dataclass
class TimelineResult(Result):
    """Which thread ran which request, when: the task events of one run."""

    threads: int = 0

    def plot(self):
        from ... import charts as plots

        m = self.measurement
        return plots.timeline(m.tasks, origin=m.start, title=self.title)


def io_timeline(threads: int = 8, tasks: int = 24, delay: float = 0.05) -> TimelineResult:
    """Fetch `tasks` URLs over `threads` threads under measure(), recording each request."""
    require_workers(threads, what="threads")
    require_workers(tasks, what="tasks")
    delay = require_delay(delay)
    if threads > 16:
        raise ValueError(f"threads must be at most 16 for a readable timeline, got {threads}")
    with slow_server(delay) as server:
        urls = [server.url] * tasks
        _fetch_all(urls[:2], 2, delay + DEFAULT_TIMEOUT)  # warm-up outside the measurement
        with measure(interval=0.05) as m:
            _fetch_all(urls, threads, delay + DEFAULT_TIMEOUT)
    fetches = [t for t in m.tasks if t.task == "fetch"]
    per_thread: dict[str, int] = {}
    for t in fetches:
        per_thread[t.thread] = per_thread.get(t.thread, 0) + 1
    result = TimelineResult(
        title=f"{tasks} requests of {delay * 1000:.0f} ms over {threads} threads",
        params={"threads": threads, "tasks": tasks, "delay": delay},
        measurement=m,
        threads=threads,
        rows=[{"thread": name, "requests": count} for name, count in sorted(per_thread.items())],
    )
    if fetches:
        span = max(t.end for t in fetches) - min(t.start for t in fetches)
        busy = sum(t.cpu for t in fetches)
        result.findings = [
            f"{len(fetches)} requests ran on {len(per_thread)} threads in {span:.2f} s; "
            f"one after another they would take about {sum(t.duration for t in fetches):.2f} s.",
            f"The threads used {busy * 1000:.0f} ms of CPU in all, "
            f"{busy / span:.0%} of one core: they spent their time waiting, not computing.",
        ]
    return result


# -- exercise checks ---------------------------------------------------------------------------


def check_fetch_all(
    fetch_all: Callable[[list[str]], list[bytes]],
    requests: int = 24,
    delay: float = 0.05,
    deadline: float = 0.5,
) -> bool:
    """Exercise 1: does fetch_all(urls) return every answer, in order, within `deadline` s?

    Prints what is right and what is not; never raises for a wrong answer.
    """
    before = set(threading.enumerate())
    with slow_server(delay) as server:
        urls = [f"{server.url}?echo=answer-{i}" for i in range(requests)]
        start = time.perf_counter()
        try:
            answers = fetch_all(urls)
        except Exception as exc:  # the learner's code: report, do not stop the notebook
            print(f"fetch_all raised {type(exc).__name__}: {exc}")
            return False
        took = time.perf_counter() - start
    left = threads_left(before)
    ok = True
    if not isinstance(answers, list) or len(answers) != requests:
        got = len(answers) if hasattr(answers, "__len__") else type(answers).__name__
        print(f"expected a list of {requests} answers, got {got}")
        ok = False
    elif answers != [f"answer-{i}\n".encode() for i in range(requests)]:
        print("the answers are not what fetch returned for each URL, in the order of the URLs")
        ok = False
    else:
        print(f"right: all {requests} answers came back, in the order of the URLs")
    sequential = requests * delay
    if took <= deadline:
        print(f"right: {took:.2f} s, within {deadline:g} s (one after another: {sequential:.1f} s)")
    else:
        print(
            f"too slow: {took:.2f} s for {requests} requests of {delay:g} s, over {deadline:g} s. "
            f"With n threads they take about ceil({requests}/n) x {delay:g} s."
        )
        ok = False
    if left:
        print(f"still running after fetch_all returned: {', '.join(left)}; join them (use with)")
        ok = False
    return ok


def check_prediction(prediction: float | None, result: IOSpeedupResult, threads: int) -> None:
    """Exercise 3: compare a predicted speed-up at `threads` threads with the measured one."""
    measured = result.speedup(threads)
    if prediction is None:
        print(f"No prediction yet. (Measured: {measured:.1f}x; write yours down first next time.)")
        return
    ratio = prediction / measured
    verdict = "close" if 0.75 <= ratio <= 1.33 else ("too high" if ratio > 1 else "too low")
    print(f"You predicted {prediction:g}x; measured {measured:.1f}x: {verdict}.")
    print(
        f"Why: {result.tasks} requests, at most {result.max_concurrent} served at once, take "
        f"{result.rounds(threads)} rounds of at least {result.delay:g} s each: at best "
        f"{result.rounds_limit(threads):.1f}x (a bit over {result.tasks / result.rounds(threads):g}"
        "x, since one thread also pays each request's connection costs in turn)."
    )


# -- the "threads" section of python -m helpers check --------------------------------------


def check_effects(quick: bool = True) -> list[Effect]:
    """16 I/O threads against one, and lost updates without and with a lock."""
    lesson = "threads"
    r = io_speedup(threads=(1, 16), tasks=32, delay=0.05, repeats=2 if quick else 3)
    effects = [
        at_least(lesson, "16 threads over 32 requests of 50 ms vs 1 thread", r.speedup(16), 8.0),
    ]
    races = race(threads=4, times=100_000 if quick else 300_000)
    lost = races.lost
    effects += [
        at_least(
            lesson,
            "updates lost: read, I/O, write without a lock",
            lost["read, I/O, write"],
            1,
            unit="",
        ),
        at_most(
            lesson,
            "updates lost: the same with a Lock",
            lost["read, I/O, write with a Lock"],
            0,
            unit="",
        ),
        report_only(lesson, "updates lost: read, call, write", lost["read, call, write"]),
        report_only(lesson, "updates lost: plain += (CPython 3.10+: usually 0)", lost["plain +="]),
    ]
    return effects

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "threads-io-speedup": "io_speedup",
    "threads-timeline": "io_timeline",
    "threads-race": "race",
}
