"""CPU-bound work on threads and on processes, and the GIL's turns seen from inside.

Introduced in 03_gil_contention.ipynb, sections 1 and 2.

threads_vs_processes(): the same pure-Python tasks run one after another, on threads and
on a warm process pool, alternating, with the sampler watching per-core CPU use.
handoff(): CPU-bound threads stamp their progress; the gaps in each thread's stamps show
who held the interpreter when, and how long each turn lasted against sys.getswitchinterval().
"""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass, field
from itertools import pairwise

from ...charts import close_if_inline, color, style
from ...machine import require_workers
from ...probes import measure
from ...results import Result
from ...runner import DEFAULT_TIMEOUT, process_pool, wait
from ...workloads.gil import (
    Progress,
    block_steps,
    run_threads,
    stamped_spin,
    stamped_task,
    steps_for,
)

VARIANTS = ("sequential", "threads", "processes")


def _positive(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"{what} must be a positive number of seconds, got {value!r}")
    return float(value)


@dataclass
class Run:
    """One timed run of one variant: its wall-clock window and each worker's progress."""

    variant: str
    repeat: int
    start: float
    end: float
    progress: list[Progress]

    @property
    def wall(self) -> float:
        return self.end - self.start

    @property
    def cores_busy(self) -> float:
        """CPU seconds the workers' own threads used per wall second: 1.0 = one core's worth."""
        return sum(p.cpu for p in self.progress) / self.wall


def _segments(progress: Progress, block: float) -> list[tuple[float, float]]:
    """Spans where the worker made progress: stamps closer than 4 blocks are merged."""
    spans: list[tuple[float, float]] = []
    first = previous = None
    for t in progress.stamps:
        if previous is not None and t - previous > 4 * block:
            spans.append((first, previous))
            first = None
        if first is None:
            first = t - block
        previous = t
    if first is not None:
        spans.append((first, previous))
    return spans


@dataclass
class ThreadsVsProcessesResult(Result):
    """Sequential vs threads vs processes on the same CPU-bound tasks."""

    runs: list[Run] = field(default_factory=list)
    core_use: dict[str, list[float]] = field(default_factory=dict)  # variant -> % per core
    block: float = 0.0  # seconds of one stamped block

    def speedup(self, variant: str) -> float:
        """Median over repeats of sequential time / variant time, each pair from one round."""
        seq = {r.repeat: r.wall for r in self.runs if r.variant == "sequential"}
        ratios = [seq[r.repeat] / r.wall for r in self.runs if r.variant == variant]
        return statistics.median(ratios)

    def wall(self, variant: str) -> float:
        return statistics.median(r.wall for r in self.runs if r.variant == variant)

    def cores_busy(self, variant: str) -> float:
        return statistics.median(r.cores_busy for r in self.runs if r.variant == variant)

    def plot(self):
        return [self.plot_speedup(), self.plot_timelines()]

    def plot_speedup(self):
        """Speed-up per variant beside per-core CPU use per variant."""
        import matplotlib.pyplot as plt

        with style():
            fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
            values = [self.speedup(v) for v in VARIANTS]
            bars = left.bar(VARIANTS, values, color=[color(i) for i in range(len(VARIANTS))])
            left.bar_label(bars, fmt="%.2fx", padding=2)
            ideal = min(self.params["workers"], self.machine["usable_cores"])
            left.axhline(
                ideal, color="black", linestyle="--", label=f"ideal on this machine ({ideal}x)"
            )
            left.axhline(1, color="grey", linestyle=":", label="no gain (1x)")
            left.set_ylabel("speed-up (× sequential)")
            left.set_ylim(0, max(ideal, *values) * 1.25)
            left.set_title(f"{self.params['workers']} CPU-bound tasks: speed-up")
            left.legend(loc="upper left")
            left.grid(axis="x", visible=False)
            cores = min((len(v) for v in self.core_use.values()), default=0)
            width = 0.8 / max(1, cores)
            for c in range(cores):
                xs = [i + (c - (cores - 1) / 2) * width for i in range(len(VARIANTS))]
                ys = [self.core_use[v][c] for v in VARIANTS]
                right.bar(xs, ys, width=width, color=color(c + 4), label=f"core {c}")
            for i, v in enumerate(VARIANTS):
                right.text(
                    i, 104, f"our workers: {self.cores_busy(v):.2f} cores", ha="center", fontsize=10
                )
            right.set_xticks(range(len(VARIANTS)), VARIANTS)
            right.set_ylim(0, 115)
            right.set_ylabel("CPU use (%), whole machine")
            right.set_title("CPU use per core while each variant ran")
            if 0 < cores <= 8:  # past 8 cores the bars speak for themselves
                right.legend(loc="lower right")
            right.grid(axis="x", visible=False)
            close_if_inline(fig)
            return fig

    def plot_timelines(self, repeat: int | None = None):
        """One lane per worker: where it made progress, for one round of each variant."""
        import matplotlib.pyplot as plt

        repeat = self.params["repeats"] - 1 if repeat is None else repeat
        chosen = [r for r in self.runs if r.repeat == repeat]
        chosen.sort(key=lambda r: VARIANTS.index(r.variant))
        with style():
            fig, axes = plt.subplots(
                len(chosen),
                1,
                figsize=(11, 1.2 + 1.1 * len(chosen) * self.params["workers"] / 2),
                layout="constrained",
                sharex=True,
            )
            for i, (ax, run) in enumerate(zip(axes, chosen, strict=True)):
                for lane, p in enumerate(run.progress):
                    spans = [(s - run.start, e - s) for s, e in _segments(p, self.block)]
                    ax.broken_barh(spans, (lane - 0.4, 0.8), facecolors=color(i))
                ax.set_yticks(range(len(run.progress)), [p.label for p in run.progress])
                ax.invert_yaxis()
                ax.set_title(f"{run.variant}: {run.wall:.2f} s", loc="left", fontsize=12)
                ax.grid(axis="y", visible=False)
            axes[-1].set_xlabel("time since the variant started (s)")
            fig.suptitle("When each worker made progress (white gaps: it waited)", fontsize=14)
            close_if_inline(fig)
            return fig


def _mean_core_use(m, windows: list[tuple[float, float]]) -> list[float]:
    """Mean per-core load (%) over the samples that fall inside the windows."""
    if not m.core_load:  # the sampler took no second reading: nothing to average
        return []
    inside = [
        loads for t, loads in m.core_load if any(s + m.interval <= t <= e for s, e in windows)
    ]
    if not inside:  # windows shorter than the sampling interval: take the nearest samples
        mids = [(s + e) / 2 for s, e in windows]
        inside = [min(m.core_load, key=lambda tl, c=c: abs(tl[0] - c))[1] for c in mids]
    return [statistics.fmean(core) for core in zip(*inside, strict=True)]


def threads_vs_processes(
    workers: int = 2,
    task_seconds: float = 0.25,
    repeats: int = 3,
    *,
    start_method: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ThreadsVsProcessesResult:
    """CPU-bound tasks run sequentially, on threads and on processes, alternating rounds.

    workers tasks of task_seconds each. The process pool is started and warmed up first, so
    its start-up cost (lesson 01's subject) stays out of the comparison.
    """
    require_workers(workers)
    require_workers(repeats, what="repeats")
    _positive(task_seconds, "task_seconds")
    every = block_steps()
    steps = steps_for(task_seconds, every)
    runs: list[Run] = []
    with measure(interval=0.05) as m, process_pool(workers, start_method=start_method) as pool:
        wait(pool.starmap_async(stamped_task, [(every, every)] * workers, chunksize=1), timeout)
        for repeat in range(repeats):
            for k in range(len(VARIANTS)):  # rotate the order so no variant always goes first
                variant = VARIANTS[(k + repeat) % len(VARIANTS)]
                start = time.perf_counter()
                if variant == "sequential":
                    progress = [
                        stamped_spin(steps, every, label=f"task {i + 1}") for i in range(workers)
                    ]
                elif variant == "threads":
                    works = [
                        functools.partial(stamped_spin, steps, every, label=f"thread {i + 1}")
                        for i in range(workers)
                    ]
                    progress = run_threads(works, timeout=timeout)
                else:
                    job = pool.starmap_async(stamped_task, [(steps, every)] * workers, chunksize=1)
                    progress = wait(job, timeout)
                runs.append(Run(variant, repeat, start, time.perf_counter(), progress))
    seq_stamps = [p.stamps for r in runs if r.variant == "sequential" for p in r.progress]
    block = statistics.median(b - a for s in seq_stamps for a, b in pairwise(s))
    result = ThreadsVsProcessesResult(
        title=f"{workers} CPU-bound tasks: sequential, threads, processes",
        params={"workers": workers, "task_seconds": task_seconds, "repeats": repeats},
        measurement=m,
        runs=runs,
        block=block,
        core_use={
            v: _mean_core_use(m, [(r.start, r.end) for r in runs if r.variant == v])
            for v in VARIANTS
        },
    )
    result.rows = [
        {
            "variant": v,
            "median wall (s)": result.wall(v),
            "speed-up (x sequential)": result.speedup(v),
            "our CPU use (cores)": result.cores_busy(v),
            **{f"core {c} (%)": load for c, load in enumerate(result.core_use[v])},
        }
        for v in VARIANTS
    ]
    result.findings = _findings(result)
    return result


def _findings(r: ThreadsVsProcessesResult) -> list[str]:
    n, cores = r.params["workers"], r.machine["usable_cores"]
    thr, proc = r.speedup("threads"), r.speedup("processes")
    out = [
        f"{n} threads ran {thr:.2f}x as fast as sequential, using {r.cores_busy('threads'):.2f} "
        f"cores of CPU time; {n} processes ran {proc:.2f}x as fast, using "
        f"{r.cores_busy('processes'):.2f} cores (medians of {r.params['repeats']} rounds)."
    ]
    if not r.machine["gil_enabled"]:
        out.append("This interpreter runs without the GIL (free-threaded): threads can scale too.")
    elif cores < 2:
        out.append(
            f"This machine has {cores} usable core, so neither threads nor processes can beat "
            "sequential here (any gap from 1x is noise); the reference figures below, where "
            "recorded, show machines with more cores."
        )
    else:
        thr_ok, proc_ok = thr <= 1.2, proc >= 1.6
        out.append(
            "With 2 or more usable cores you should see threads at about 1x (at most 1.2x) and "
            f"processes near {min(n, cores)}x (at least 1.6x). This run "
            + ("showed both." if thr_ok and proc_ok else "did not show it: ")
            + ("" if thr_ok and proc_ok else _why_not(thr_ok, proc_ok))
        )
    return out


def _why_not(threads_ok: bool, processes_ok: bool) -> str:
    if not processes_ok:
        return (
            "processes did not reach 1.6x, which usually means other programs were using a "
            "core; close them and run the cell again."
        )
    return "threads beat 1.2x, which the GIL should prevent on a GIL build; run the cell again."
