"""What starting a pool costs under each start method: fork, spawn, forkserver.

Introduced in 01_process_pool.ipynb (section 6). Each pool counts as started when every
worker has run its initializer (started_pool()); the methods alternate round by round.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time
from dataclasses import dataclass, field

import psutil

from ... import machine
from ...results import Result
from ...runner import progress
from ...workloads import cpu
from . import charts as pool_charts
from .workers import DEFAULT_TIMEOUT, map_seconds, started_pool


def forkserver_sentence(version: tuple[int, ...] | None = None) -> str:
    """What forkserver does with a script's main module on this Python, in one sentence.

    Lesson 01, section 6 states it; the sentence and its version rule live once, in lesson
    04's forkserver module, whose section 5 measures it.
    """
    from ..memory.forkserver import version_sentence

    here = tuple((version or sys.version_info)[:3])
    return version_sentence(here) + " Lesson 04 measures what it costs in memory."


@dataclass
class StartupResult(Result):
    """How long a pool takes to start, answer and stop, under each start method."""

    workers: int = 2
    ready: dict[str, list[float]] = field(default_factory=dict)  # method -> seconds; [0] first
    round_trip: dict[str, list[float]] = field(default_factory=dict)
    shutdown: dict[str, list[float]] = field(default_factory=dict)
    forkserver_was_running: bool = False  # before the first forkserver pool of this run

    @property
    def methods(self) -> list[str]:
        return list(self.ready)

    def first(self, method: str) -> float:
        return self.ready[method][0]

    def later(self, method: str) -> float:
        """Median start-up of the pools after the first one (the first may start a server)."""
        return statistics.median(self.ready[method][1:] or self.ready[method])

    def plot(self):
        return pool_charts.startup_bars(self)


def startup_cost(
    methods: list[str] | None = None,
    *,
    workers: int = 2,
    repeats: int = 3,
    timeout: float = DEFAULT_TIMEOUT,
) -> StartupResult:
    """Start a pool of `workers` under each start method, 1 + repeats times, alternating methods.

    Measures the time from Pool() until every worker is ready, one round trip of a tiny task
    per worker, and close() + join().
    """
    machine.require_workers(workers)
    machine.require_workers(repeats, what="repeats")
    if methods is None:
        methods = machine.start_methods()
    chosen = [machine.validate_start_method(m) for m in methods]
    result = StartupResult(
        title=f"Starting a pool of {workers} workers, by start method",
        params={"workers": workers, "pools per method": repeats + 1},
        workers=workers,
        ready={m: [] for m in chosen},
        round_trip={m: [] for m in chosen},
        shutdown={m: [] for m in chosen},
    )
    # each round starts one method later than the one before: fork spawn, spawn fork, ...
    steps = [chosen[(r + i) % len(chosen)] for r in range(repeats + 1) for i in range(len(chosen))]
    expected = sum({"fork": 0.05, "spawn": 0.5, "forkserver": 0.3}.get(m, 0.5) for m in steps)
    result.forkserver_was_running = _forkserver_running()
    for method in progress(steps, desc="pools", expected_seconds=expected):
        with started_pool(workers, start_method=method, timeout=timeout) as started:
            result.ready[method].append(started.all_ready)
            result.round_trip[method].append(
                map_seconds(started.pool, cpu.increment, list(range(workers)), 1, timeout)
            )
            start = time.perf_counter()
            started.pool.close()
            started.pool.join()
            result.shutdown[method].append(time.perf_counter() - start)
    return _startup_described(result)


def _startup_described(result: StartupResult) -> StartupResult:
    """The run's table (one row per start method) and its findings."""
    result.rows = [
        {
            "start method": m,
            "first pool: all ready (ms)": result.first(m) * 1000,
            "later pools: all ready, median (ms)": result.later(m) * 1000,
            "first task round trip (ms)": statistics.median(result.round_trip[m]) * 1000,
            "close + join (ms)": statistics.median(result.shutdown[m]) * 1000,
        }
        for m in result.ready
    ]
    result.findings = _startup_findings(result)
    return result


def _forkserver_running() -> bool:
    """Whether this process has already started its forkserver (a child running its main)."""
    for child in psutil.Process().children():
        try:
            if "multiprocessing.forkserver" in " ".join(child.cmdline()):
                return True
        except psutil.Error:
            continue
    return False


def _startup_findings(r: StartupResult) -> list[str]:
    findings = [
        f"{m}: {r.workers} workers ready in {r.later(m) * 1000:.0f} ms (median of later pools)."
        for m in r.methods
    ]
    if "fork" in r.methods and "spawn" in r.methods:
        findings.append(
            f"spawn took {r.later('spawn') / r.later('fork'):.0f}x as long as fork: each spawned "
            "worker starts a new interpreter and imports the modules it needs."
        )
    if "forkserver" in r.methods:
        first, later = r.first("forkserver"), r.later("forkserver")
        if r.forkserver_was_running:
            findings.append(
                "The forkserver's server was already running (an earlier pool started it), so "
                f"even the first forkserver pool here did not pay for it ({first * 1000:.0f} ms)."
            )
        elif first > 1.2 * later:
            findings.append(
                f"The first forkserver pool also started the server, once: it took "
                f"{first * 1000:.0f} ms against {later * 1000:.0f} ms for later pools, which "
                "reuse the server."
            )
        else:
            findings.append(
                f"The first forkserver pool also started the server, but that added too little "
                f"to see here ({first * 1000:.0f} ms against {later * 1000:.0f} ms for later "
                "pools): most of the cost is each worker importing what it needs."
            )
    findings.append(
        "Python 3.14 makes forkserver the default start method on Linux; this Python "
        f"({platform.python_version()}, {platform.system()}) defaults to "
        f"{machine.default_start_method()}, and the course uses {machine.start_method()}."
    )
    if "forkserver" in r.methods:
        findings.append(forkserver_sentence())
    return findings
