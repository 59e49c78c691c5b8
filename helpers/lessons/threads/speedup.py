"""I/O-bound work: the speed-up of threads against their number, and its limits: lesson 02, section 2.

Introduced in 02_threads.ipynb, section 2. ``io_speedup()`` spreads requests to the slow
local server over 1 to 64 threads and works out, from its own data, where the speed-up
stops growing and why: rounds of requests (each waits the server's delay) and CPU (each
process prepares requests one thread at a time, under the GIL).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import psutil

from ...machine import require_workers
from ...results import Result
from ...runner import DEFAULT_TIMEOUT
from ...servers.http import ServerInfo, require_delay, slow_server
from ...timing import alternating
from ...workloads import io
from .basics import thread_pool

MAX_THREADS = 256  # more is not what this lesson measures, and may exhaust a small machine
MAX_SWEEP_SECONDS = 60.0  # the one-thread runs of a sweep must fit in this (a typo guard)
SATURATED = 0.9  # a thread count "reaches the plateau" at 90% of the best speed-up


def server_cpu(server: ServerInfo) -> float:
    """CPU seconds (user + system) the slow server's process has used so far. Lesson 02, section 2."""
    times = psutil.Process(server.pid).cpu_times()
    return times.user + times.system


@dataclass
class IOSpeedupResult(Result):
    """One sweep: wall time, CPU time and speed-up of the same requests over 1 to N threads.

    Times in seconds; speed-ups are the median one-thread time over the median n-thread time.
    Lesson 02, section 2.
    """

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

    @property
    def plateau(self) -> int:
        """The fewest threads that reach 90% of the best speed-up measured."""
        best = max(self.speedup(n) for n in self.threads)
        return min(n for n in self.threads if self.speedup(n) >= SATURATED * best)

    def plot(self):
        from .charts import speedup_chart

        return speedup_chart(self)


def require_sweep(threads: Sequence[int], tasks: int, delay: float, repeats: int) -> list[int]:
    """The sorted thread counts of a sweep, 1 included; ValueError saying what is allowed. Lesson 02, section 2."""
    counts = sorted({1, *(require_workers(n, what="thread count") for n in threads)})
    if counts[-1] > MAX_THREADS:
        raise ValueError(f"thread counts must be at most {MAX_THREADS}, got {counts[-1]}")
    require_workers(tasks, what="tasks")
    require_workers(repeats, what="repeats")
    if tasks * require_delay(delay) * repeats > MAX_SWEEP_SECONDS:
        raise ValueError(
            f"{tasks} tasks x {delay:g} s x {repeats} repeats would take over "
            f"{MAX_SWEEP_SECONDS:.0f} s on one thread; use fewer tasks or a shorter delay"
        )
    return counts


def io_speedup(
    threads: Sequence[int] = (1, 2, 4, 8, 16, 32, 64), tasks: int = 64, delay: float = 0.02,
    repeats: int = 3, max_concurrent: int | None = None,
) -> IOSpeedupResult:
    """Fetch `tasks` URLs from a server that waits `delay` s per answer, over each thread count.

    The thread counts run interleaved, in alternating order (helpers.timing), `repeats`
    times; the table shows medians. One thread is always included: it is the baseline.
    max_concurrent: the server answers at most this many requests at once (default: all).
    Trap: the first requests pay for imports and connections; a warm-up run takes them.
    Lesson 02, section 2 and exercise 3.
    """
    counts = require_sweep(threads, tasks, delay, repeats)
    timeout = delay + DEFAULT_TIMEOUT
    runs: dict[int, list[tuple[float, float, float]]] = {n: [] for n in counts}
    in_flight = dict.fromkeys(counts, 0)
    with slow_server(delay, max_concurrent=max_concurrent) as server:
        urls = [server.url] * tasks
        with thread_pool(2) as pool:  # warm-up: first connections, imports
            list(pool.map(io.fetch, urls[:4], timeout=timeout))
        for n in alternating(counts, repeats):
            server.stats(reset=True)
            cpu0, server0, start = time.process_time(), server_cpu(server), time.perf_counter()
            with thread_pool(n) as pool:
                bodies = list(pool.map(io.fetch, urls, timeout=timeout))
            took = time.perf_counter() - start
            runs[n].append((took, time.process_time() - cpu0, server_cpu(server) - server0))
            in_flight[n] = max(in_flight[n], server.stats()["max_in_flight"])
            if len(bodies) != tasks:
                raise RuntimeError(f"{n} threads returned {len(bodies)} answers, not {tasks}")
    return sweep_result(runs, in_flight, tasks, delay, repeats, max_concurrent)


def sweep_result(runs, in_flight, tasks, delay, repeats, max_concurrent) -> IOSpeedupResult:
    """The Result of io_speedup: runs[n] holds (wall s, client CPU s, server CPU s) per repeat. Lesson 02, section 2."""
    counts = sorted(runs)
    result = IOSpeedupResult(
        title=f"{tasks} requests that each wait {delay * 1000:.0f} ms, over 1 to {counts[-1]} threads",
        params={"threads": counts, "tasks": tasks, "delay": delay, "repeats": repeats,
                "max_concurrent": max_concurrent},
        tasks=tasks, delay=delay, max_concurrent=max_concurrent, threads=counts,
        seconds={n: [r[0] for r in runs[n]] for n in counts},
        client_cpu={n: statistics.median(r[1] for r in runs[n]) for n in counts},
        server_cpu={n: statistics.median(r[2] for r in runs[n]) for n in counts},
        in_flight=in_flight,
    )
    result.rows = [
        {"threads": n, "time (s)": result.median(n), "speed-up": result.speedup(n),
         "rounds": result.rounds(n), "limit from rounds": result.rounds_limit(n),
         "client CPU (s)": result.client_cpu[n], "server CPU (s)": result.server_cpu[n],
         "limit from CPU": result.cpu_limit(n), "most in flight": in_flight[n]}
        for n in counts
    ]
    result.findings = io_findings(result)
    return result


def io_findings(r: IOSpeedupResult) -> list[str]:
    """What a sweep shows, in sentences with this run's figures: the best count and the limits. Lesson 02, section 2."""
    one = r.median(1)
    per_request = one / r.tasks
    best, top = max(r.threads, key=r.speedup), r.threads[-1]
    findings = [
        f"One thread took {one:.2f} s: {per_request * 1000:.1f} ms per request, of which "
        f"{r.delay * 1000:.0f} ms is the server's wait and {(per_request - r.delay) * 1000:.1f} "
        f"ms is connecting, sending and reading ({r.client_cpu[1] / r.tasks * 1000:.1f} ms of "
        "it CPU in this process).",
        f"The best run used {best} threads: {r.speedup(best):.1f}x faster than one thread. "
        + (
            f"The speed-up reaches 90% of that at {r.plateau} threads; more threads add little."
            if r.plateau < top
            else f"It was still growing at {top} threads, the most tried here."
        ),
    ]
    rounds, cpu, measured = r.rounds_limit(top), r.cpu_limit(top), r.speedup(top)
    if r.max_concurrent is not None and top > r.max_concurrent:
        why_rounds = (f"the server answers at most {r.max_concurrent} requests at once, so "
                      f"{r.tasks} requests take {r.rounds(top)} rounds whatever the thread count")
    elif top >= r.tasks:
        why_rounds = (f"{r.tasks} requests cannot keep more than {r.tasks} threads busy: "
                      f"{r.rounds(top)} round")
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
