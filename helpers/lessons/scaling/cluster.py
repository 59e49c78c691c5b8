"""Lesson 06, section 3: the same CPU-bound tasks on a dask cluster and on a Pool.

Introduced in 06_choosing_and_scaling_out.ipynb. A LocalCluster is a real dask cluster
whose scheduler and worker processes all run on this machine, on loopback:

    this process                      scheduler (tcp://127.0.0.1:PORT)      worker processes
    Client(cluster) -- tasks ------>  decides where each task runs  ----->  run spin(steps)
                    <-- results ----                                <-----

The client knows only the scheduler's address, so the same code drives a real cluster given
its address. The cluster and the Pool stay up while their runs alternate, so both see the same
machine; tiny tasks then measure what each costs per task. Nothing outlives the experiment.
"""

from __future__ import annotations

import atexit
import functools
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ...events import cpu_inside
from ...machine import require_workers, start_method, usable_cores
from ...probes import measure
from ...results import Result
from ...runner import is_sampler, no_stray_processes, process_pool, wait
from ...timing import alternating, median_seconds
from ...workloads import cpu

TIMEOUT = 120.0  # seconds for any one batch; the lesson's batches take well under one
# LocalCluster's keywords that keep the course's clusters private to this machine: scheduler,
# workers and dashboards listen on loopback only, on ports the OS picks (no clash with another
# course on the machine), and dask's start-up chatter stays out of the notebook.
ON_LOOPBACK = dict(
    host="127.0.0.1", scheduler_port=0, dashboard_address="127.0.0.1:0",
    worker_dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR,
)
SCRATCH_PREFIX = "helpers-dask-"
# The tiny task: a builtin that does almost nothing, so what is timed is the machinery
# around it. (cpu.square is recorded as a task event, which would add its own cost.)
TINY = abs


@contextmanager
def scratch_space() -> Iterator[str]:
    """A fresh folder for dask's scratch files while the block runs; yields its path.

    Trap: by default every dask scheduler and worker writes `dask-scratch-space` into the
    system temp folder and leaves it there. Inside this block dask's `temporary-directory`
    is this folder (workers started in the block inherit it); leaving the block removes it,
    and so does the interpreter's exit if the block never ends (a kernel shut down mid-cell).
    Lesson 06, section 3.
    """
    import dask

    folder = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
    remove = functools.partial(shutil.rmtree, folder, ignore_errors=True)
    atexit.register(remove)
    try:
        with dask.config.set({"temporary-directory": folder}):
            yield folder
    finally:
        remove()
        atexit.unregister(remove)


@contextmanager
def local_cluster(workers: int, *, timeout: float = 60.0) -> Iterator[tuple[object, object]]:
    """A LocalCluster of `workers` single-threaded processes on loopback; yields (cluster, client).

    What the notebook writes in view, with its scratch folder and an end to any process left
    over: leaving the block closes the client, then the cluster, then removes the folder.
    """
    require_workers(workers)
    from distributed import Client, LocalCluster

    with (
        scratch_space(),
        no_stray_processes(),
        LocalCluster(n_workers=workers, threads_per_worker=1, **ON_LOOPBACK) as cluster,
        Client(cluster, timeout=f"{timeout:.0f}s") as client,
    ):
        yield cluster, client


def gathered(client, futures: list, timeout: float = TIMEOUT) -> list:
    """client.gather(futures), giving up after `timeout` seconds (gather alone waits forever)."""
    from distributed import wait as wait_for

    wait_for(futures, timeout=timeout)
    return client.gather(futures)


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
    per_task: dict[str, float] = field(default_factory=dict)  # way -> median s per tiny task
    tiny_tasks: int = 0
    scheduler_address: str = ""
    dashboard_link: str = ""
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
        """One core's time for the batch (measured before, in this process) / the batch's wall time."""
        return self.serial_estimate / self.batch_wall(side)

    def cores_busy(self, side: str) -> float | None:
        """Median over that side's batches of the tasks' CPU seconds inside it / its wall seconds.

        Task CPU and wall time come from the same moment, so a VM whose CPU speed swings cannot
        bias it as it can speedup(); tasks taking turns on one core count as one core. None
        without task events. Lesson 06, section 3; the check judges it.
        """
        tasks = self.measurement.tasks if self.measurement is not None else []
        ratios = [cpu_inside(tasks, "spin", b.start, b.end) / b.wall for b in self.batches if b.side == side]
        return statistics.median(ratios) if ratios and any(ratios) else None

    def overhead(self, way: str) -> float:
        """Median seconds per tiny task, minus the task's own time in this process."""
        return self.per_task[way] - self.per_task["in this process"]

    def break_even(self, way: str, share: float = 0.1) -> float:
        """Task length (s) at which the per-task overhead is `share` of the task's own time."""
        return max(self.overhead(way), 0.0) / share

    def plot(self):
        return [self.plot_compare(), self.plot_overheads()]

    def plot_compare(self):
        from .charts import cluster_compare

        return cluster_compare(self)

    def plot_overheads(self):
        from .charts import cluster_overheads

        return cluster_overheads(self)


def human_seconds(seconds: float) -> str:
    """'1.23 s', '4.56 ms' or '7.8 µs': a duration in the unit that reads best."""
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} µs"


def cluster_vs_pool(
    tasks: int = 8, task_seconds: float = 0.2, workers: int | None = None, tiny_tasks: int = 200,
    repeats: int = 3, timeout: float = TIMEOUT, show_link: bool = True,
) -> ClusterResult:
    """Run `tasks` CPU-bound tasks of task_seconds on a LocalCluster and on a Pool, alternately.

    workers: processes on each side (default: the usable cores). tiny_tasks: how many
    near-empty tasks measure each model's cost per task. show_link: print the dashboard's
    link as soon as the cluster is up (it lives only while the experiment runs).
    Lesson 06, section 3.
    """
    workers = usable_cores() if workers is None else require_workers(workers)
    require_workers(tasks, what="tasks")
    require_workers(tiny_tasks, what="tiny_tasks")
    require_workers(repeats, what="repeats")
    if not 0 < task_seconds <= 10:
        raise ValueError(f"task_seconds must be above 0 and at most 10, got {task_seconds!r}")
    import dask
    import distributed  # noqa: F401 (loads the distributed.* settings into dask.config)

    steps = cpu.units_for(task_seconds)
    one_task = median_seconds({"one task": lambda: cpu.count_steps(steps)}, 2)["one task"]
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
    _run_both(result, [steps] * tasks, timeout, show_link)
    result.left_behind = leftovers() - before
    _describe(result)
    return result


def _run_both(result: ClusterResult, jobs: list[int], timeout: float, show_link: bool) -> None:
    """Start the cluster, then the Pool; run the batches and the tiny tasks on both, in turns."""
    repeats, workers, tiny = result.params["repeats"], result.workers, list(range(result.tiny_tasks))
    t0 = time.perf_counter()
    with local_cluster(workers) as (cluster, client):
        gathered(client, client.map(cpu.square, range(workers), pure=False), timeout)  # all up
        result.startup["dask"] = time.perf_counter() - t0
        result.scheduler_address, result.dashboard_link = cluster.scheduler_address, client.dashboard_link
        if show_link:
            print(f"Cluster up: scheduler {result.scheduler_address}, dashboard {result.dashboard_link}")
        t0 = time.perf_counter()
        with process_pool(workers) as pool:
            pool.map(cpu.square, range(workers))
            result.startup["pool"] = time.perf_counter() - t0
            batch = {  # pure=False: equal inputs still run again
                "dask": lambda: gathered(client, client.map(cpu.spin, jobs, pure=False), timeout),
                "pool": lambda: wait(pool.map_async(cpu.spin, jobs, chunksize=1), timeout),
            }
            with measure(interval=0.05) as m:
                for side in alternating(batch, repeats):
                    start = time.perf_counter()
                    batch[side]()
                    result.batches.append(BatchRun(side, start, time.perf_counter()))
            result.measurement = m
            ways = {
                "in this process": lambda: [TINY(x) for x in tiny],
                "Pool.map, chunksize=1": lambda: wait(pool.map_async(TINY, tiny, chunksize=1), timeout),
                "Pool.map, default chunks": lambda: wait(pool.map_async(TINY, tiny), timeout),
                "dask Client.map": lambda: gathered(client, client.map(TINY, tiny, pure=False), timeout),
            }
            result.per_task = {w: s / len(tiny) for w, s in median_seconds(ways, repeats).items()}
        result.second_client_answer = _second_client(cluster.scheduler_address, timeout)
        closing = time.perf_counter()
    result.close_seconds = time.perf_counter() - closing


def _second_client(address: str, timeout: float) -> int:
    """Connect a second client by address alone, as to a remote cluster, and run one task."""
    from distributed import Client

    with Client(address, timeout=f"{timeout:.0f}s") as other:
        return other.submit(cpu.square, 12, pure=False).result(timeout=timeout)


def _describe(r: ClusterResult) -> None:
    r.rows = [
        {"side": name, "start-up (s)": r.startup[side], "median batch (s)": r.batch_wall(side),
         "speed-up vs one core": r.speedup(side), "per tiny task (ms)": r.per_task[way] * 1e3}
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
        "overhead": f"Each tiny task cost about {human_seconds(dask_overhead)} on the cluster "
        f"and {human_seconds(pool_overhead)} on the Pool (chunksize=1), beyond the task itself: "
        "for that overhead to stay under 10% a task should run at least "
        f"{human_seconds(r.break_even('dask Client.map'))} on the cluster, "
        f"{human_seconds(r.break_even('Pool.map, chunksize=1'))} on the Pool.",
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
    """What an experiment left behind in this process tree: processes, listening ports, and
    dask scratch folders in the system temp folder."""

    processes: list[str]
    listening: list[str]
    folders: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.processes or self.listening or self.folders)

    def __sub__(self, before: Leftovers) -> Leftovers:
        """What is new since `before` (a kernel's own ports, say, are not the experiment's)."""
        return Leftovers(
            [p for p in self.processes if p not in before.processes],
            [p for p in self.listening if p not in before.listening],
            [f for f in self.folders if f not in before.folders],
        )

    def __str__(self) -> str:
        if not self:
            return "Nothing left: no new child process, no new listening port, no scratch folder."
        return "Left behind: " + "; ".join(self.processes + self.listening + self.folders)


def leftovers() -> Leftovers:
    """Child processes (besides multiprocessing's own helpers), listening sockets of this tree,
    and the course's dask scratch folders in the system temp folder.

    Shown in 06 after the cluster closes: a cluster that stopped cleanly leaves none of them.
    """
    import psutil

    from ...processes import is_multiprocessing_helper

    tree, processes = [psutil.Process()], []
    for child in tree[0].children(recursive=True):
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
    scratch = sorted(Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"))
    return Leftovers(processes, listening, [f"folder {p}" for p in scratch])
