"""CPU-bound work one after another, on threads and on processes: timed, drawn, judged.

Introduced in 03_gil_contention.ipynb, section 1. The notebook writes the three variants
itself (two ``threading.Thread(target=work)``, two ``Process(target=work)``) and hands them
to compare(), which only times them. threads_vs_processes() is the same experiment, with the
same Thread and Process calls, for the pre-class check and ``python -m helpers run``.

    compare(variants)                      each worker: helpers.workloads.gil.work
      with measure() as m:                   loop, stamping every ~50 us
        for each round, alternating:         at its end: a "work" event (start, end, CPU)
          start = now; variant(); end = now    and a "progress" event per stretch it ran
      events grouped by run -> Run -> ThreadsVsProcessesResult (rows, findings, charts)

What is judged is the work itself, from the workers' own clock readings (Run.work_span,
Run.cores_busy). Starting a process (tens of ms under spawn, lesson 01's subject) is in the
wall time the table also shows, never in the judged figures.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ...events import TaskEvent
from ...machine import mp_context, require_workers
from ...probes import Measurement, measure
from ...results import Result
from ...runner import DEFAULT_TIMEOUT, no_stray_processes
from ...timing import alternating
from ...workloads.gil import steps_for, work
from .charts import threads_speedup, threads_timelines
from .check import PROCESSES, THREADS, THREADS_NO_GIL

VARIANTS = ("sequential", "threads", "processes")


@dataclass
class Run:
    """One timed call of one variant: its wall-clock window and what its workers reported.

    work: one "work" event per worker; progress: the stretches each ran (perf_counter s).
    """

    variant: str
    repeat: int
    start: float
    end: float
    work: list[TaskEvent]
    progress: list[TaskEvent]

    @property
    def wall(self) -> float:
        """Seconds the variant's call took, starting threads or processes included."""
        return self.end - self.start

    @property
    def work_span(self) -> float:
        """Seconds from the first worker's first step to the last worker's last step."""
        if not self.work:
            return float("nan")
        return max(e.end for e in self.work) - min(e.start for e in self.work)

    @property
    def start_skew(self) -> float:
        """Seconds between the first and the last worker's first step (0 for one worker)."""
        starts = [e.start for e in self.work]
        return max(starts) - min(starts) if starts else float("nan")

    @property
    def cores_busy(self) -> float:
        """Cores in use while every worker was running: 1.0 = one core's worth of progress.

        The seconds of progress inside the window from the last worker's first step to the
        first worker's last step (the whole work span if they never overlapped, as in
        sequential), divided by its length. Trap: CPU seconds over wall time count a worker's
        start-up and the result's trip back as idle time; judged so, processes looked 1.5 cores.
        """
        if not self.work:
            return float("nan")
        starts, ends = [e.start for e in self.work], [e.end for e in self.work]
        begin, finish = max(starts), min(ends)
        if finish - begin < 0.2 * self.work_span:  # they did not run side by side
            begin, finish = min(starts), max(ends)
        ran = sum(max(0.0, min(p.end, finish) - max(p.start, begin)) for p in self.progress)
        return ran / (finish - begin)

    def lanes(self) -> dict[str, list[tuple[float, float]]]:
        """Worker label -> its stretches of progress, in seconds since the run started."""
        kind = {"processes": "process", "threads": "thread"}.get(self.variant, "task")
        out = {}
        for i, w in enumerate(sorted(self.work, key=lambda e: e.start), 1):
            out[f"{kind} {i}"] = [
                (p.start - self.start, p.end - self.start)
                for p in self.progress
                if (p.pid, p.thread) == (w.pid, w.thread) and w.start - 1e-3 <= p.start <= w.end
            ]
        return out


@dataclass
class ThreadsVsProcessesResult(Result):
    """Sequential vs threads vs processes on the same CPU-bound work (lesson 03, section 1)."""

    runs: list[Run] = field(default_factory=list)
    core_use: dict[str, list[float]] = field(default_factory=dict)  # variant -> % per core

    @property
    def variants(self) -> list[str]:
        return list(dict.fromkeys(r.variant for r in self.runs))

    def _paired(self, variant: str, baseline: str | None, ratio) -> float:
        """Median over rounds of ratio(baseline's run, variant's run), paired per round.

        baseline: default the first variant given to compare() (sequential).
        """
        baseline = baseline or self.params.get("baseline", "sequential")
        base = {r.repeat: r for r in self.runs if r.variant == baseline}
        runs = [r for r in self.runs if r.variant == variant]
        return statistics.median(ratio(base[r.repeat], r) for r in runs)

    def speedup(self, variant: str, *, baseline: str | None = None) -> float:
        """Baseline work span / variant work span, the median of rounds (x)."""
        return self._paired(variant, baseline, lambda b, r: b.work_span / r.work_span)

    def wall_speedup(self, variant: str, *, baseline: str | None = None) -> float:
        """As speedup(), from each call's wall time: starting the workers included (x)."""
        return self._paired(variant, baseline, lambda b, r: b.wall / r.wall)

    def core_speedup(self, variant: str, *, baseline: str | None = None) -> float:
        """The speed-up at equal CPU speed: cores in use / the baseline's, median of rounds (x).

        What the check judges. Trap: the work-span ratio (speedup()) swings by a third on a
        virtual machine whose CPU speed changes from one second to the next (seen here: the
        same loop took 0.15 to 0.28 CPU seconds within one run); the cores in use do not
        depend on how fast each step ran, only on whether the workers ran side by side.
        """
        return self._paired(variant, baseline, lambda b, r: r.cores_busy / b.cores_busy)

    def wall(self, variant: str) -> float:
        """Median seconds one call of the variant took."""
        return statistics.median(r.wall for r in self.runs if r.variant == variant)

    def cores_busy(self, variant: str) -> float:
        """Median over rounds of Run.cores_busy (cores)."""
        return statistics.median(r.cores_busy for r in self.runs if r.variant == variant)

    def plot(self):
        return [self.plot_speedup(), self.plot_timelines()]

    def plot_speedup(self):
        """Speed-up per variant beside per-core CPU use per variant."""
        return threads_speedup(self)

    def plot_timelines(self, repeat: int | None = None):
        """One lane per worker: where it made progress, for one round of each variant."""
        return threads_timelines(self, repeat)


def mean_core_use(m: Measurement, windows: list[tuple[float, float]]) -> list[float]:
    """Mean per-core load (%) over the sampler's readings inside the windows (perf_counter s)."""
    if not m.core_load:  # the sampler took no second reading: nothing to average
        return []
    inside = [
        loads for t, loads in m.core_load if any(s + m.interval <= t <= e for s, e in windows)
    ]
    if not inside:  # windows shorter than the sampling interval: take the nearest samples
        mids = [(s + e) / 2 for s, e in windows]
        inside = [min(m.core_load, key=lambda tl, c=c: abs(tl[0] - c))[1] for c in mids]
    return [statistics.fmean(core) for core in zip(*inside, strict=True)]


def compare(
    variants: dict[str, Callable[[], object]], repeats: int = 3, *, workers: int = 2
) -> ThreadsVsProcessesResult:
    """Time each variant (a function of no arguments), round by round in alternating order.

    Everything runs inside one helpers.measure(); the workers must call helpers.workloads.gil.work,
    whose events say when each worked. The first variant is the baseline of the speed-ups;
    workers: how many each variant starts (the charts' ideal line). Lesson 03, section 1.
    """
    require_workers(repeats, what="repeats")
    if not variants:
        raise ValueError("give at least one variant: {'name': function}")
    windows: list[tuple[str, int, float, float]] = []
    with measure(interval=0.05) as m:
        for i, name in enumerate(alternating(list(variants), repeats)):
            start = time.perf_counter()
            variants[name]()
            windows.append((name, i // len(variants), start, time.perf_counter()))

    def events(task: str, start: float, end: float) -> list[TaskEvent]:
        """One call's events, by their end: a stamp taken inside it (a start is estimated)."""
        return [e for e in m.tasks if e.task == task and start < e.end <= end]

    runs = [
        Run(name, repeat, start, end, events("work", start, end), events("progress", start, end))
        for name, repeat, start, end in windows
    ]
    missing = sorted({r.variant for r in runs if not r.work})
    if missing:
        raise ValueError(
            f"{', '.join(missing)}: no worker reported its work. Each variant must run "
            "helpers.workloads.gil.work (in a thread, a process or this thread)."
        )
    result = ThreadsVsProcessesResult(
        title=f"{workers} CPU-bound tasks: " + ", ".join(variants),
        params={"workers": workers, "repeats": repeats, "baseline": next(iter(variants))},
        measurement=m,
        runs=runs,
        core_use={
            v: mean_core_use(m, [(r.start, r.end) for r in runs if r.variant == v])
            for v in variants
        },
    )
    result.rows = rows(result)
    result.findings = findings(result)
    return result


def threads_vs_processes(
    workers: int = 2,
    task_seconds: float = 0.25,
    repeats: int = 3,
    *,
    start_method: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ThreadsVsProcessesResult:
    """`workers` CPU-bound tasks of `task_seconds` each: sequentially, on threads, on processes.

    The notebook's own code of section 1, for the pre-class check, with one addition: the
    processes wait at a Barrier until all are up, so their work starts together and the work
    span does not depend on how long each took to start (spawn: up to a second on a busy
    machine). Lesson 03, section 1.
    """
    require_workers(workers)
    steps = steps_for(task_seconds)  # raises ValueError unless a positive number of seconds
    ctx = mp_context(start_method)

    def sequential():
        for _ in range(workers):
            work(steps)

    def on_threads():
        stop = threading.Event()  # ends the loops at once if the call is interrupted
        threads = [
            threading.Thread(target=work, args=(steps,), kwargs={"stop": stop})
            for _ in range(workers)
        ]
        try:
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout)
        finally:
            stop.set()

    def on_processes():
        ready = ctx.Barrier(workers + 1)  # the work starts once every process is up
        with no_stray_processes():
            processes = [
                ctx.Process(target=work, args=(steps,), kwargs={"ready": ready})
                for _ in range(workers)
            ]
            for p in processes:
                p.start()
            try:
                ready.wait(timeout)
            except threading.BrokenBarrierError:
                codes = [p.exitcode for p in processes]
                why = f"a worker ended before its work began (exit codes {codes})"
                raise RuntimeError(why) from None
            for p in processes:
                p.join(timeout)

    variants = {"sequential": sequential, "threads": on_threads, "processes": on_processes}
    result = compare(variants, repeats, workers=workers)
    result.params.update(task_seconds=task_seconds, start_method=ctx.get_start_method())
    return result


def rows(r: ThreadsVsProcessesResult) -> list[dict]:
    """The table: per variant, wall time, work span, speed-ups, cores in use, per-core load."""
    return [
        {
            "variant": v,
            "median wall (s)": r.wall(v),
            "work span (s)": statistics.median(x.work_span for x in r.runs if x.variant == v),
            "speed-up of the work (x)": r.speedup(v),
            "speed-up with start-up (x)": r.wall_speedup(v),
            "cores in use": r.cores_busy(v),
            "cores in use (x sequential)": r.core_speedup(v),
            **{f"core {c} (%)": load for c, load in enumerate(r.core_use.get(v, []))},
        }
        for v in r.variants
    ]


def findings(r: ThreadsVsProcessesResult) -> list[str]:
    """What this run showed, against the check's rules (THREADS, PROCESSES)."""
    if not {"threads", "processes"} <= set(r.variants):
        return []
    n, cores = r.params["workers"], r.machine["usable_cores"]
    thr, proc = r.speedup("threads"), r.speedup("processes")
    out = [
        f"{n} threads did the work {thr:.2f}x as fast as one after another, using "
        f"{r.cores_busy('threads'):.2f} cores; {n} processes {proc:.2f}x, using "
        f"{r.cores_busy('processes'):.2f} cores (medians of {r.params['repeats']} rounds). With "
        "the time to start them counted, processes came out at "
        f"{r.wall_speedup('processes'):.2f}x."
    ]
    if not r.machine["gil_enabled"]:
        out.append(
            "This interpreter runs without the GIL (free-threaded): threads can scale too "
            f"(the check expects {THREADS_NO_GIL.op} {THREADS_NO_GIL.threshold:g}x)."
        )
    elif cores < 2:
        out.append(
            f"This machine has {cores} usable core, so neither threads nor processes can beat "
            "one after another here (any gap from 1x is noise); the reference figures below, "
            "where recorded, show machines with more cores."
        )
    else:
        proc_ok = PROCESSES.holds(r.core_speedup("processes"))
        both = THREADS.holds(r.core_speedup("threads")) and proc_ok
        verdict = "showed both." if both else "did not show it: " + why_not(r, proc_ok)
        out.append(
            f"With 2 or more usable cores you should see threads at about 1x (at most "
            f"{THREADS.threshold:g}x) and processes near {min(n, cores)}x (at least "
            f"{PROCESSES.threshold:g}x), counted in cores in use against one after another "
            f"(here {r.core_speedup('threads'):.2f}x and {r.core_speedup('processes'):.2f}x), "
            "which the CPU's speed of the moment does not sway. This run " + verdict
        )
    return out


def why_not(r: ThreadsVsProcessesResult, processes_ok: bool) -> str:
    """The likely reason a run missed the expected speed-ups, in the learner's terms."""
    runs = [x for x in r.runs if x.variant == "processes"]
    skew = statistics.median(x.start_skew for x in runs)
    if not processes_ok and skew > 0.1 * statistics.median(x.work_span for x in runs):
        return (
            f"the second process began its work {skew * 1e3:.0f} ms after the first (median), "
            f"because starting a process under {r.machine['start_method']} takes that long "
            "(lesson 01); the cores in use while both ran show what they did side by side."
        )
    if not processes_ok:
        return (
            f"processes did not reach {PROCESSES.threshold:g}x, which usually means other "
            "programs were using a core; close them and run the cell again."
        )
    return (
        f"threads beat {THREADS.threshold:g}x, which the GIL should prevent on a GIL build; "
        "run the cell again."
    )
