"""Lesson 06, part two: the same CPU-bound tasks on a dask cluster and on a Pool.

Introduced in 06_choosing_and_scaling_out.ipynb. A LocalCluster is a real dask cluster
whose scheduler and worker processes all run on this machine, on loopback:

    this process                      scheduler (tcp://127.0.0.1:PORT)      worker processes
    Client(address) -- tasks ------>  decides where each task runs  ----->  run spin(steps)
                    <-- results ----                                <-----

The client only knows the scheduler's address, so the same code drives a real cluster
when given that cluster's address. Both the cluster and the Pool stay up while their runs
alternate, so the comparison sees the same machine; start-up is timed on its own. Tiny
tasks then measure what each model costs per task, which is when a cluster does not pay.
Nothing outlives the experiment: the client, the cluster, its processes and its ports
are closed on success, error or interrupt.
"""

from __future__ import annotations

import logging
import statistics
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from ...machine import require_workers, start_method, usable_cores
from ...probes import measure
from ...results import Result
from ...runner import no_stray_processes, process_pool, wait
from ...workloads import cpu

TIMEOUT = 120.0  # seconds for any one batch; the lesson's batches take well under one
LOOPBACK = "127.0.0.1"
# The tiny task: a builtin that does almost nothing, so what is timed is the machinery
# around it. (cpu.square is recorded as a task event, which would add its own cost.)
TINY = abs


@contextmanager
def local_cluster(workers: int, *, timeout: float = 60.0) -> Iterator[tuple[object, object]]:
    """Start a LocalCluster of `workers` single-threaded processes on loopback; yield (cluster, client).

    Scheduler, workers and dashboard listen on 127.0.0.1 only, on ports the OS picks (no
    fixed port to clash with another course running on the machine). The client connects
    by the scheduler's address, exactly as it would to a remote cluster. On leaving the
    block the client and the cluster are closed, and any process left over is ended.
    """
    require_workers(workers)
    from distributed import Client, LocalCluster

    with no_stray_processes(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's start-up chatter, e.g. "bokeh is not installed"
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,  # one task per process at a time, like a Pool worker
            processes=True,
            host=LOOPBACK,
            scheduler_port=0,
            dashboard_address=f"{LOOPBACK}:0",
            worker_dashboard_address=f"{LOOPBACK}:0",
            silence_logs=logging.ERROR,
        )
        try:
            client = Client(cluster.scheduler_address, timeout=f"{timeout:.0f}s")
            try:
                yield cluster, client
            finally:
                client.close()
        finally:
            cluster.close()


def _dask_map(client, func, items: list, timeout: float) -> list:
    from distributed import wait as dask_wait

    futures = client.map(func, items, pure=False)  # pure=False: equal inputs still run again
    try:
        dask_wait(futures, timeout=timeout)
        return client.gather(futures)
    finally:
        for f in futures:
            f.release()


def _pool_map(pool, func, items: list, timeout: float, chunksize: int | None = 1) -> list:
    return wait(pool.map_async(func, items, chunksize=chunksize), timeout)


@dataclass
class BatchRun:
    """One batch of CPU-bound tasks on one side: 'dask' or 'pool'."""

    side: str
    start: float
    end: float

    @property
    def wall(self) -> float:
        return self.end - self.start


@dataclass
class ClusterResult(Result):
    """A LocalCluster against a Pool: start-up, CPU-bound batches, and cost per tiny task."""

    workers: int = 0
    tasks: int = 0
    task_seconds: float = 0.0
    one_task: float = 0.0  # measured in this process, seconds
    startup: dict[str, float] = field(default_factory=dict)  # side -> seconds
    close_seconds: float = 0.0
    batches: list[BatchRun] = field(default_factory=list)
    per_task: dict[str, list[float]] = field(default_factory=dict)  # way -> seconds per tiny task
    tiny_tasks: int = 0
    scheduler_address: str = ""
    dashboard_link: str = ""
    dashboard_served: bool = False
    second_client_answer: int | None = None
    dask_start_method: str = ""
    left_behind: Leftovers | None = None
    notes: dict[str, str] = field(default_factory=dict)  # the findings by topic, for the notebook

    def batch_wall(self, side: str) -> float:
        return statistics.median(b.wall for b in self.batches if b.side == side)

    @property
    def serial_estimate(self) -> float:
        """The batch on one core in this process: tasks x one measured task, seconds."""
        return self.tasks * self.one_task

    def speedup(self, side: str) -> float:
        return self.serial_estimate / self.batch_wall(side)

    def overhead(self, way: str) -> float:
        """Median seconds per tiny task, minus the task's own time in this process."""
        return statistics.median(self.per_task[way]) - statistics.median(self.per_task["in this process"])

    def break_even(self, way: str, share: float = 0.1) -> float:
        """Task length (s) at which the per-task overhead is `share` of the task's own time."""
        return max(self.overhead(way), 0.0) / share

    def plot(self):
        return [self.plot_compare(), self.plot_overheads()]

    def plot_compare(self):
        """Left: start-up and compute time per side. Right: the timeline of the last round."""
        import matplotlib.pyplot as plt

        from ...charts import color, style, timeline

        with style():
            fig, (left, right) = plt.subplots(
                1, 2, figsize=(13, 4.5), layout="constrained", width_ratios=[1, 1.6]
            )
            sides = ["pool", "dask"]
            names = [f"Pool({self.workers})", f"LocalCluster({self.workers})"]
            starts = [self.startup[s] for s in sides]
            computes = [self.batch_wall(s) for s in sides]
            left.bar(names, starts, color=color(5), label="start-up")
            drawn = left.bar(names, computes, bottom=starts, color=color(0), label="the batch")
            left.bar_label(drawn, labels=[f"{s + c:.2f} s" for s, c in zip(starts, computes, strict=True)])
            left.axhline(self.serial_estimate, color="black", linestyle="--", label="one core, no pool")
            left.set_ylabel("seconds")
            left.set_title(f"{self.tasks} tasks of {self.task_seconds:g} s each")
            left.legend(loc="upper left", fontsize=9)
            left.grid(axis="x", visible=False)
            last = self.batches[-2:]
            t0 = min(b.start for b in last)
            events = [
                e for e in (self.measurement.tasks if self.measurement else [])
                if any(b.start <= e.start and e.end <= b.end for b in last)
            ]
            timeline(events, origin=t0, ax=right, title="Last round: which process ran which task")
            side_of = {
                e.pid: ("dask" if b.side == "dask" else "Pool")
                for e in events for b in last if b.start <= e.start and e.end <= b.end
            }
            lanes = sorted({(e.pid, e.thread) for e in events})
            right.set_yticks(range(len(lanes)), [f"{side_of[pid]} worker\npid {pid}" for pid, _ in lanes])
            for b in last:
                right.axvspan(b.start - t0, b.end - t0, alpha=0.08,
                              color=color(1 if b.side == "dask" else 2))
            plt.close(fig)
            return fig

    def plot_overheads(self):
        """Seconds per tiny task, each way, on a log scale, in microseconds."""
        import matplotlib.pyplot as plt

        from ...charts import color, style

        with style():
            fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
            ways = list(self.per_task)
            micro = [statistics.median(self.per_task[w]) * 1e6 for w in ways]
            drawn = ax.barh(ways, micro, color=[color(i) for i in range(len(ways))])
            ax.bar_label(drawn, labels=[_human_seconds(v / 1e6) for v in micro], padding=3)
            ax.set_xscale("log")
            ax.invert_yaxis()
            ax.set_xlabel("time per tiny task (µs, log scale)")
            ax.set_title(f"What one task costs: {self.tiny_tasks} tiny tasks, {self.workers} workers")
            ax.grid(axis="y", visible=False)
            ax.set_xlim(right=max(micro) * 8)
            plt.close(fig)
            return fig


def _human_seconds(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _dashboard_served(link: str) -> bool:
    """Whether the dashboard answers with its pages (it needs the bokeh package)."""
    import importlib.util

    return bool(link) and importlib.util.find_spec("bokeh") is not None


def cluster_vs_pool(
    tasks: int = 8,
    task_seconds: float = 0.2,
    workers: int | None = None,
    tiny_tasks: int = 200,
    repeats: int = 3,
    hold: float = 0.0,
    timeout: float = TIMEOUT,
    show_link: bool = True,
) -> ClusterResult:
    """Run `tasks` CPU-bound tasks of task_seconds on a LocalCluster and on a Pool, alternately.

    workers: processes on each side (default: the usable cores). tiny_tasks: how many
    near-empty tasks measure each model's cost per task. hold: seconds to keep the cluster
    up at the end, to look at its dashboard. show_link: print the dashboard's link as soon
    as the cluster is up (it lives only while the experiment runs).
    """
    workers = usable_cores() if workers is None else require_workers(workers)
    require_workers(tasks, what="tasks")
    require_workers(tiny_tasks, what="tiny_tasks")
    require_workers(repeats, what="repeats")
    if not 0 < task_seconds <= 10:
        raise ValueError(f"task_seconds must be above 0 and at most 10, got {task_seconds!r}")
    if not 0 <= hold <= 600:
        raise ValueError(f"hold must be from 0 to 600 seconds, got {hold!r}")
    import dask
    import distributed  # noqa: F401 (loads the distributed.* settings into dask.config)

    steps = cpu.units_for(task_seconds)
    one_task = statistics.median(_timed(cpu.spin, steps) for _ in range(2))
    result = ClusterResult(
        title=f"{tasks} CPU-bound tasks on a local dask cluster and on a Pool, {workers} "
        f"worker{'s' if workers != 1 else ''} each",
        params={"tasks": tasks, "task_seconds": task_seconds, "workers": workers,
                "tiny_tasks": tiny_tasks, "repeats": repeats},
        workers=workers, tasks=tasks, task_seconds=task_seconds, one_task=one_task,
        tiny_tasks=tiny_tasks,
        dask_start_method=dask.config.get("distributed.worker.multiprocessing-method"),
    )
    before = leftovers()
    t0 = time.perf_counter()
    with local_cluster(workers) as (cluster, client):
        _dask_map(client, cpu.square, list(range(workers)), timeout)  # workers import helpers
        result.startup["dask"] = time.perf_counter() - t0
        result.scheduler_address = cluster.scheduler_address
        result.dashboard_link = client.dashboard_link or ""
        result.dashboard_served = _dashboard_served(result.dashboard_link)
        if show_link:
            print(f"Cluster up: scheduler {result.scheduler_address}, dashboard {result.dashboard_link}")
        t0 = time.perf_counter()
        with process_pool(workers) as pool:
            _pool_map(pool, cpu.square, list(range(workers)), timeout)
            result.startup["pool"] = time.perf_counter() - t0
            _batches(result, client, pool, steps, timeout)
            _tiny(result, client, pool, timeout)
        result.second_client_answer = _second_client(cluster.scheduler_address, timeout)
        if hold:
            time.sleep(hold)
        closing = time.perf_counter()
    result.close_seconds = time.perf_counter() - closing
    result.left_behind = leftovers() - before
    _describe(result)
    return result


def _timed(func, *args) -> float:
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


def _batches(result: ClusterResult, client, pool, steps: int, timeout: float) -> None:
    items = [steps] * result.tasks
    with measure(interval=0.05) as m:
        for round_ in range(result.params["repeats"]):
            for side in ("dask", "pool") if round_ % 2 == 0 else ("pool", "dask"):
                start = time.perf_counter()
                if side == "dask":
                    _dask_map(client, cpu.spin, items, timeout)
                else:
                    _pool_map(pool, cpu.spin, items, timeout)
                result.batches.append(BatchRun(side, start, time.perf_counter()))
    result.measurement = m


def _tiny(result: ClusterResult, client, pool, timeout: float) -> None:
    n = result.tiny_tasks
    items = list(range(n))
    ways = {
        "in this process": lambda: [TINY(x) for x in items],
        "Pool.map, chunksize=1": lambda: _pool_map(pool, TINY, items, timeout, 1),
        "Pool.map, default chunks": lambda: _pool_map(pool, TINY, items, timeout, None),
        "dask Client.map": lambda: _dask_map(client, TINY, items, timeout),
    }
    result.per_task = {way: [] for way in ways}
    for round_ in range(result.params["repeats"]):
        order = list(ways) if round_ % 2 == 0 else list(ways)[::-1]
        for way in order:
            result.per_task[way].append(_timed(ways[way]) / n)


def _second_client(address: str, timeout: float) -> int:
    """Connect a second client by address alone, as to a remote cluster, and run one task."""
    from distributed import Client

    with Client(address, timeout=f"{timeout:.0f}s") as other:
        return other.submit(cpu.square, 12, pure=False).result(timeout=timeout)


def _describe(r: ClusterResult) -> None:
    r.rows = [
        {
            "side": name,
            "start-up (s)": r.startup[side],
            "median batch (s)": r.batch_wall(side),
            "speed-up vs one core": r.speedup(side),
            "per tiny task (ms)": statistics.median(r.per_task[way]) * 1e3,
        }
        for side, name, way in (
            ("pool", f"Pool({r.workers}), {start_method()}", "Pool.map, chunksize=1"),
            ("dask", f"LocalCluster({r.workers}), {r.dask_start_method}", "dask Client.map"),
        )
    ]
    dask_overhead = r.overhead("dask Client.map")
    pool_overhead = r.overhead("Pool.map, chunksize=1")
    r.notes = {
        "batch": f"The batch took {r.batch_wall('pool'):.2f} s on the Pool and "
        f"{r.batch_wall('dask'):.2f} s on the cluster (median of {r.params['repeats']}), against "
        f"{r.serial_estimate:.2f} s on one core: speed-ups {r.speedup('pool'):.2f}x and "
        f"{r.speedup('dask'):.2f}x with {r.workers} worker{'s' if r.workers != 1 else ''}.",
        "startup": f"Starting took {r.startup['pool']:.2f} s for the Pool and "
        f"{r.startup['dask']:.2f} s for the cluster; closing the cluster took "
        f"{r.close_seconds:.2f} s.",
        "overhead": f"Each tiny task cost about {_human_seconds(dask_overhead)} on the cluster "
        f"and {_human_seconds(pool_overhead)} on the Pool (chunksize=1), beyond the task itself: "
        "for that overhead to stay under 10% a task should run at least "
        f"{_human_seconds(r.break_even('dask Client.map'))} on the cluster, "
        f"{_human_seconds(r.break_even('Pool.map, chunksize=1'))} on the Pool.",
        "address": f"A second client that knew only the address {r.scheduler_address} ran a "
        f"task there and got {r.second_client_answer}: for a real cluster, only this address "
        "changes.",
        "cleanup": f"After closing: {r.left_behind}",
    }
    if r.workers < 2:
        r.notes["one core"] = (
            "With 1 worker neither side can run tasks in parallel: this run shows costs, "
            "not speed-ups (the lesson shows the reference figures)."
        )
    r.findings = list(r.notes.values())


@dataclass(frozen=True)
class Leftovers:
    """What an experiment left behind in this process tree: processes and listening ports."""

    processes: list[str]
    listening: list[str]

    def __bool__(self) -> bool:
        return bool(self.processes or self.listening)

    def __sub__(self, before: Leftovers) -> Leftovers:
        """What is new since `before` (a kernel's own ports, say, are not the experiment's)."""
        return Leftovers(
            [p for p in self.processes if p not in before.processes],
            [p for p in self.listening if p not in before.listening],
        )

    def __str__(self) -> str:
        if not self:
            return "Nothing left: no new child process, no new listening port."
        return "Left behind: " + "; ".join(self.processes + self.listening)


def leftovers() -> Leftovers:
    """Child processes (besides multiprocessing's own helpers) and listening sockets of this tree.

    Shown in 06 after the cluster closes: a cluster that stopped cleanly leaves neither.
    """
    import psutil

    from ...processes import is_multiprocessing_helper
    from ...runner import is_sampler

    me = psutil.Process()
    tree = [me]
    processes = []
    for child in me.children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE or is_multiprocessing_helper(child) or is_sampler(child):
                continue
            processes.append(f"process {child.pid} ({' '.join(child.cmdline())[:60]})")
            tree.append(child)
        except psutil.Error:
            continue
    listening = []
    for proc in tree:
        try:
            connections = proc.net_connections(kind="inet")
        except (psutil.Error, AttributeError):
            continue
        listening += [
            f"pid {proc.pid} listens on {c.laddr.ip}:{c.laddr.port}"
            for c in connections
            if c.status == psutil.CONN_LISTEN
        ]
    return Leftovers(processes, listening)
