"""Subinterpreters, one GIL each (PEP 684), measured beside threads and processes.

Introduced in 03_gil_contention.ipynb, section "Subinterpreters: one GIL each". Since
Python 3.12 one process can hold several interpreters, each with its own GIL; each runs
from the thread that calls its ``exec()``, so N interpreters driven from N threads can
use N cores for pure Python, in one process. Each has its own modules and objects; only a
few types cross between them.

Where ``interpreters`` (this module's name for the API) comes from:

    Python 3.14+   concurrent.interpreters (PEP 734), InterpreterPoolExecutor
    Python 3.13    the low-level _interpreters module, behind the same few calls
                   (create, exec, prepare_main, close) by LowLevelInterpreters below;
                   queues from test.support.interpreters (the 3.13 draft of PEP 734)
    3.11, 3.12     none: ``interpreters`` is None, WHY_NOT says why, and the lesson shows
                   the reference results recorded on 3.13 (reference_figures())

Trap: a package can claim to give interpreters their own GIL and not do it (the PyPI
``backports.interpreters`` 0.3.0 ran 2 interpreters at 1.0x here): compare_models()
measures it. Everything here closes the interpreters it creates, joins its threads and
ends its processes, with timeouts, even on an error or an interrupt.
"""

from __future__ import annotations

import concurrent.futures
import functools
import importlib
import importlib.util
import inspect
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

import psutil

from ...course.check import Effect, Rule, needs_cores, report_only
from ...course.feedback import call_with_timeout, feedback, is_stub, unanswered
from ...course.reference import ReferenceTable
from ...course.reference import figures as reference_figures_for
from ...footprint import footprint
from ...machine import mp_context, require_workers
from ...results import Result
from ...runner import DEFAULT_TIMEOUT, is_sampler, no_stray_processes, process_pool, wait
from ...timing import alternating, median_seconds
from ...units import MiB
from ...workloads import cpu
from ...workloads.interpreters import idle

LESSON = "interpreters"
# Judged on cores in use against sequential (cores_vs_sequential), as lesson 03 judges threads
# and processes: this VM's CPU speed swings between rounds, which moved the wall speed-up of
# 2 interpreters to 1.52x in a run where they kept 1.9 cores busy. The wall speed-up is reported.
SPEEDUP = Rule(LESSON, "speed-up of 2 interpreters (cores in use vs sequential)", ">=", 1.6, unit="x", cores=2)
WALL_SPEEDUP = "speed-up of 2 interpreters (wall time)"
STARTUP_EFFECT = "start-up: one process / one interpreter"
PSS_EFFECT = "PSS: one idle process / one idle interpreter"
VARIANTS = ("sequential", "threads", "interpreters", "processes")
# Modules to try importing in a subinterpreter, in order: stdlib modules whose C code
# refuses several interpreters, then a third-party one.
REFUSERS = ("readline", "_curses", "_tkinter", "numpy")
QUEUES_313 = "test.support.interpreters.queues"  # Python 3.13's draft of concurrent.interpreters


class ExecutionFailed(RuntimeError):
    """Code run by a 3.13 interpreter's exec() raised; the message is its traceback."""


@dataclass
class LowLevelInterpreter:
    """Python 3.13: one interpreter of _interpreters, with 3.14's method names.

    Created by LowLevelInterpreters.create() with the "isolated" config: its own GIL,
    its own memory allocator, and only extension modules that support several
    interpreters. Trap: 3.13.0 crashes when a non-shareable object is passed to
    _interpreters directly, so prepare_main() checks every value first.
    """

    low: object = field(repr=False)
    id: int

    def exec(self, code: str) -> None:
        """Run code in this interpreter's __main__, in the calling thread."""
        failed = self.low.exec(self.id, code)
        if failed is not None:
            raise ExecutionFailed(getattr(failed, "errdisplay", None) or str(failed))

    def prepare_main(self, ns: dict | None = None, /, **values) -> None:
        """Bind names in the interpreter's __main__; each value must be shareable."""
        values = {**(ns or {}), **values}
        refused = [name for name, v in values.items() if not self.low.is_shareable(v)]
        if refused:
            kinds = ", ".join(f"{n} ({type(values[n]).__name__})" for n in refused)
            raise self.low.NotShareableError(f"cannot share {kinds} with another interpreter")
        if any(type(v).__module__ == QUEUES_313 for v in values.values()):
            self.exec(f"import {QUEUES_313}")  # a queue arrives only where its module is loaded
        self.low.set___main___attrs(self.id, values)

    def close(self) -> None:
        """Destroy the interpreter (it must not be running)."""
        self.low.destroy(self.id)


@dataclass
class LowLevelInterpreters:
    """Python 3.13: the calls of concurrent.interpreters the lesson uses, over _interpreters;
    is_shareable(), list_all() and NotShareableError are _interpreters' own."""

    low: object
    ExecutionFailed = ExecutionFailed

    def __getattr__(self, name: str):
        if name == "low":  # not set yet (a copy being built): no endless recursion
            raise AttributeError(name)
        return getattr(self.low, name)

    def create(self) -> LowLevelInterpreter:
        return LowLevelInterpreter(self.low, self.low.create("isolated"))

    def create_queue(self, maxsize: int = 0):
        """A cross-interpreter queue (from the test package, CPython 3.13's draft of PEP 734)."""
        try:
            queues = importlib.import_module(QUEUES_313)
        except ImportError:
            raise ModuleNotFoundError(QUEUES_WHY_NOT) from None
        return queues.create(maxsize)


def _load():
    """(the interpreters API or None, where it comes from or why there is none)."""
    with suppress(ImportError):  # Python 3.14+
        return importlib.import_module("concurrent.interpreters"), "concurrent.interpreters"
    try:
        low = importlib.import_module("_interpreters")
    except ImportError:
        version = f"{sys.version_info[0]}.{sys.version_info[1]}"
        has = (
            "gives interpreters their own GIL only through its C API (PEP 684)"
            if sys.version_info >= (3, 12)
            else "has one GIL per process (one GIL per interpreter came in 3.12, PEP 684)"
        )
        return None, (
            f"Python {version} {has}; Python code gets them as _interpreters in 3.13 and "
            "as concurrent.interpreters in 3.14"
        )
    if getattr(low.new_config("isolated"), "gil", "own") != "own":
        return None, "this Python's isolated interpreters share one GIL"
    return LowLevelInterpreters(low), "_interpreters (Python 3.13, low level)"


interpreters, SOURCE = _load()
WHY_NOT = "" if interpreters is not None else SOURCE
InterpreterPoolExecutor = getattr(concurrent.futures, "InterpreterPoolExecutor", None)  # 3.14+


QUEUES_WHY_NOT = (
    "on Python 3.13, cross-interpreter queues come with CPython's test package "
    "(test.support.interpreters), which this Python was installed without; "
    "Python 3.14 has them as concurrent.interpreters.create_queue()"
)


def queues_available() -> bool:
    """Whether interpreters.create_queue() works here (3.14+, or 3.13 with its test package)."""
    if not isinstance(interpreters, LowLevelInterpreters):
        return interpreters is not None  # 3.14+ has them, 3.11 and 3.12 have no interpreters
    try:
        return importlib.util.find_spec(QUEUES_313) is not None
    except ImportError:  # the test package itself is missing
        return False


def require_interpreters() -> None:
    """Raise RuntimeError saying why, on a Python without own-GIL interpreters."""
    if interpreters is None:
        raise RuntimeError(WHY_NOT + "; the lesson shows reference results recorded on 3.13")


def open_interpreters() -> int:
    """Interpreters alive in this process besides the main one (0 after every experiment)."""
    return 0 if interpreters is None else max(0, len(interpreters.list_all()) - 1)


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its children, the sampler excepted: every
    interpreter runs on one of this process's threads, so this counts them all.
    Trap: a child that ended is no longer counted; measure while the workers are alive."""
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        with suppress(psutil.Error):  # ended between listing and reading
            if proc is me or not is_sampler(proc):
                total += sum(proc.cpu_times()[:2])  # user + system
    return total


def join_all(threads: list[threading.Thread], timeout: float) -> None:
    """Join every thread within timeout seconds in all; TimeoutError if one is still busy."""
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        raise TimeoutError(f"threads did not finish within {timeout:.0f} s; the machine is busy")


# -- 1. the same CPU-bound work on threads, interpreters and processes ----------------------


@dataclass
class ModelsResult(Result):
    """Wall time and CPU use of each variant, per round (median over rounds in the table)."""

    # (variant, round, wall s, CPU s) per run
    runs: list[tuple[str, int, float, float]] = field(default_factory=list)

    def speedup(self, variant: str) -> float:
        """Median over rounds of sequential wall time / this variant's, in the same round."""
        seq = {r: wall for v, r, wall, _ in self.runs if v == "sequential"}
        return statistics.median(seq[r] / wall for v, r, wall, _ in self.runs if v == variant)

    def cores_busy(self, variant: str) -> float:
        """Median CPU seconds per wall second: 1.0 = one core's worth."""
        return statistics.median(c / wall for v, _, wall, c in self.runs if v == variant)

    def cores_vs_sequential(self, variant: str) -> float:
        """cores_busy(variant) / cores_busy("sequential"): about 2 for 2 workers that run in
        parallel, even on a machine so busy that sequential gets only part of a core."""
        return self.cores_busy(variant) / self.cores_busy("sequential")

    def plot(self):
        ideal = min(self.params["workers"], self.machine["usable_cores"])
        names = [v for v in VARIANTS if any(r[0] == v for r in self.runs)]
        return _two_charts(
            (12, 4.2),
            names,
            dict(
                values=[self.speedup(v) for v in names],
                ylabel="speed-up (× sequential)",
                title="Speed-up",
                reference_label=f"ideal on this machine ({ideal}x)",
            ),
            dict(
                values=[self.cores_busy(v) for v in names],
                ylabel="CPU s per wall s",
                title="Cores in use",
                reference_label="cores usable",
            ),
            reference=ideal,
        )


def _two_charts(figsize: tuple[float, float], labels: list[str], left: dict, right: dict, **both):
    """Two charts.bars() side by side over the same labels; left, right: their own arguments."""
    import matplotlib.pyplot as plt

    from ...charts import bars, close_if_inline, style

    with style():
        fig, axes = plt.subplots(1, 2, figsize=figsize, layout="constrained")
        for ax, args in zip(axes, (left, right), strict=True):
            bars(labels, ax=ax, **args, **both)
        close_if_inline(fig)
        return fig


def compare_models(
    workers: int = 2,
    task_seconds: float = 0.25,
    repeats: int = 3,
    *,
    start_method: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ModelsResult:
    """workers tasks of count_steps, about task_seconds each: sequential, on threads, on
    interpreters (one per thread) and on a process pool, in alternating rounds.

    The interpreters and the pool are started and warmed up first, so start-up stays out
    of the comparison (start_up_and_memory() measures it). Lesson 03, subinterpreters.
    """
    require_interpreters()
    require_workers(workers)
    steps = cpu.units_for(task_seconds)
    source = inspect.getsource(cpu.count_steps)  # the same function, defined in each interpreter
    task = "count_steps(steps)"
    runs = []
    with (
        process_pool(workers, start_method=start_method) as pool,
        new_interpreters(workers, timeout) as interps,
    ):
        for interp in interps:
            interp.exec(source)
            interp.prepare_main(steps=steps)
        wait(pool.map_async(cpu.count_steps, [1000] * workers), timeout)
        for i, variant in enumerate(alternating(VARIANTS, repeats)):
            cpu0, start = cpu_seconds(), time.perf_counter()
            if variant == "sequential":
                for _ in range(workers):
                    cpu.count_steps(steps)
            elif variant == "processes":
                wait(pool.map_async(cpu.count_steps, [steps] * workers, chunksize=1), timeout)
            else:
                calls = [
                    (cpu.count_steps, steps) if variant == "threads" else (it.exec, task)
                    for it in interps
                ]
                threads = [threading.Thread(target=f, args=(a,), daemon=True) for f, a in calls]
                for t in threads:
                    t.start()
                join_all(threads, timeout)
            wall = time.perf_counter() - start
            runs.append((variant, i // len(VARIANTS), wall, cpu_seconds() - cpu0))
    return _models_result(runs, workers, task_seconds, repeats)


def close_all(interps: list, timeout: float = 10.0) -> None:
    """Close each interpreter, waiting up to timeout seconds for one still running."""
    deadline = time.monotonic() + timeout
    for interp in interps:
        while True:
            try:
                interp.close()
                break
            except Exception:  # still running its last exec (an interrupt left it busy)
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)


@contextmanager
def new_interpreters(count: int, timeout: float = 10.0) -> Iterator[list]:
    """count new interpreters, closed on leaving the block (close_all), even on an error."""
    interps = []
    try:
        for _ in range(count):
            interps.append(interpreters.create())
        yield interps
    finally:
        close_all(interps, timeout)


def _models_result(runs, workers, task_seconds, repeats) -> ModelsResult:
    result = ModelsResult(
        title=f"{workers} CPU-bound tasks: sequential, threads, interpreters, processes",
        params={
            "workers": workers,
            "task_seconds": task_seconds,
            "repeats": repeats,
            "interpreters from": SOURCE,
        },
        runs=runs,
    )
    result.rows = [
        {
            "variant": v,
            "median wall (s)": statistics.median(w for x, _, w, _ in runs if x == v),
            "speed-up (× sequential)": result.speedup(v),
            "cores in use": result.cores_busy(v),
        }
        for v in VARIANTS
    ]
    result.findings = _models_findings(result)
    return result


def _models_findings(r: ModelsResult) -> list[str]:
    n, cores = r.params["workers"], r.machine["usable_cores"]
    sub, thr, proc = (r.speedup(v) for v in ("interpreters", "threads", "processes"))
    effect = SPEEDUP.judge(r.cores_vs_sequential("interpreters"))  # what the check judges
    if effect.holds is None:
        verdict = (
            f"Interpreters cannot beat sequential here ({effect.why}); see the reference results."
        )
    elif effect.holds:
        verdict = (
            f"With 2 or more usable cores, interpreters should scale like processes "
            f"({SPEEDUP.effect} {SPEEDUP.op} {SPEEDUP.threshold:g}x): this run showed it, "
            "in one process, where threads could not."
        )
    else:
        verdict = (
            f"With {cores} usable cores, {SPEEDUP.effect} should reach {SPEEDUP.threshold:g}x; "
            f"this run measured {effect.measured:.2f}x. If processes fell short too, other "
            "programs were using a core: run the cell again. If only interpreters fell short, "
            "they share a GIL here."
        )
    return [
        f"{n} interpreters, each run from its own thread, ran {sub:.2f}x as fast as sequential "
        f"using {r.cores_busy('interpreters'):.2f} cores; {n} threads {thr:.2f}x "
        f"({r.cores_busy('threads'):.2f} cores); {n} processes {proc:.2f}x "
        f"({r.cores_busy('processes'):.2f} cores). Medians of {r.params['repeats']} rounds.",
        verdict,
    ]


# -- 2. what an interpreter and a process cost to start and to keep --------------------------


@dataclass
class CostResult(Result):
    """Start-up seconds and PSS bytes per interpreter and per process."""

    seconds: dict[str, float] = field(default_factory=dict)  # "interpreter"/"process" -> s
    pss: dict[str, float] = field(default_factory=dict)  # bytes per idle one

    def plot(self):
        names = list(self.seconds)
        ms, mib = [self.seconds[k] * 1e3 for k in names], [self.pss[k] / MiB for k in names]
        return _two_charts(
            (11, 4),
            names,
            dict(values=ms, ylabel="ms", title="Start and stop one (median)"),
            dict(values=mib, ylabel="MiB", title="Memory of one idle (PSS)"),
        )


def start_up_and_memory(
    count: int = 4,
    repeats: int = 5,
    *,
    start_methods: tuple[str, ...] | None = None,
    timeout: float = 30.0,
) -> CostResult:
    """Start-up time of one interpreter against one process per start method, and the
    memory (PSS) each idle one adds, per one over `count`. Lesson 03, subinterpreters.

    start_methods: default the course's start method, and spawn beside it. An interpreter
    runs "pass"; a process runs time.sleep(0). Trap: a process's cost depends on its start
    method: fork copies nothing until pages are written, spawn starts a fresh Python that
    imports the worker's module; an interpreter, too, builds its own modules from scratch.
    """
    require_interpreters()
    require_workers(count, what="count")
    methods = start_methods or tuple(dict.fromkeys((mp_context().get_start_method(), "spawn")))
    contexts = {f"{m} process": mp_context(m) for m in methods}

    def one_interpreter():
        with new_interpreters(1) as (interp,):
            interp.exec("pass")

    def one_process(ctx):
        proc = ctx.Process(target=time.sleep, args=(0,))
        proc.start()
        proc.join(timeout)
        if proc.is_alive():
            proc.kill()
            raise TimeoutError(f"a process did not start and end within {timeout:.0f} s")

    starts = {"interpreter": one_interpreter}
    starts |= {name: functools.partial(one_process, ctx) for name, ctx in contexts.items()}
    with no_stray_processes():
        seconds = median_seconds(starts, repeats)
        pss = {"interpreter": _pss_of_interpreters(count)}
        pss |= {name: _pss_of_processes(ctx, count, timeout) for name, ctx in contexts.items()}
    return CostResult(
        title="Start-up and memory: interpreters against processes",
        params={"count": count, "repeats": repeats, "start methods": methods},
        rows=[
            {"one": k, "start and stop (ms)": seconds[k] * 1e3, "PSS when idle (MiB)": pss[k] / MiB}
            for k in seconds
        ],
        findings=_cost_findings(seconds, pss, count),
        seconds=seconds,
        pss=pss,
    )


def _cost_findings(seconds: dict, pss: dict, count: int) -> list[str]:
    sub_s, sub_m = seconds["interpreter"], pss["interpreter"]
    return [
        f"Starting and closing an interpreter took {sub_s * 1e3:.1f} ms and kept "
        f"{sub_m / MiB:.1f} MiB (PSS, mean over {count}).",
        *(
            f"A {name}: {seconds[name] * 1e3:.1f} ms ({seconds[name] / sub_s:.2g}x the "
            f"interpreter's) and {pss[name] / MiB:.1f} MiB ({pss[name] / sub_m:.2g}x)."
            for name in seconds
            if name != "interpreter"
        ),
    ]


def _pss_of_interpreters(count: int) -> float:
    """Bytes of PSS this process grew by, per interpreter, with `count` idle interpreters."""
    before = _pss(psutil.Process())
    with new_interpreters(count) as interps:
        for interp in interps:
            interp.exec("pass")
        return (_pss(psutil.Process()) - before) / count


def _pss_of_processes(ctx, count: int, timeout: float) -> float:
    """Bytes of PSS the process tree grew by, per process, with `count` idle processes."""
    me = psutil.Process()
    before = _pss(me)
    ready, stop = ctx.Semaphore(0), ctx.Event()
    procs = [
        ctx.Process(target=idle, args=(ready, stop, timeout), daemon=True) for _ in range(count)
    ]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            if not ready.acquire(timeout=timeout):
                raise TimeoutError(f"the processes did not start within {timeout:.0f} s")
        after = _pss(me) + sum(_pss(psutil.Process(p.pid)) for p in procs)
        return (after - before) / count
    finally:
        stop.set()
        for p in procs:
            p.join(timeout)
            if p.is_alive():
                p.kill()
                p.join()


def _pss(proc: psutil.Process) -> int:
    """PSS in bytes, USS where PSS cannot be read (macOS, Windows)."""
    fp = footprint(proc)
    return fp.pss if fp.pss is not None else (fp.uss if fp.uss is not None else fp.rss)


# -- 3. what crosses between interpreters ----------------------------------------------------

# (what, an expression the sub-interpreter evaluates and puts on the queue)
SAMPLES = (
    ("None", "None"),
    ("int", "42"),
    ("float", "2.5"),
    ("str", "'text'"),
    ("bytes", "b'raw'"),
    ("tuple", "(1, 'two', b'3')"),
    ("list", "[1, 2, 3]"),
    ("dict", "{'a': 1}"),
    ("a lambda", "lambda: 1"),
    ("a lock", "__import__('threading').Lock()"),
)


def what_crosses(timeout: float = 10.0) -> Result:
    """Each SAMPLES object, made in another interpreter, put on a queue and read back here.

    is_shareable() says which types cross without pickle (their data is copied or, for
    buffers, shared); on 3.14 (and 3.13's queue) the others are pickled: a copy, and an
    object that cannot be pickled cannot cross at all. Lesson 03, subinterpreters.
    """
    require_interpreters()
    queue = interpreters.create_queue()
    with new_interpreters(1) as (interp,):
        interp.prepare_main(queue=queue)
        rows = [_cross_one(interp, queue, what, expr, timeout) for what, expr in SAMPLES]
    shareable = ", ".join(r["object"] for r in rows if r["is_shareable"])
    refused = ", ".join(r["object"] for r in rows if not r["arrived"]) or "none"
    return Result(
        title="What crosses between interpreters",
        params={"from": SOURCE},
        rows=rows,
        findings=[f"Shareable without pickle: {shareable}.", f"Could not cross at all: {refused}."],
    )


def _cross_one(interp, queue, what: str, expr: str, timeout: float) -> dict:
    value = eval(expr)  # the same object made here, to ask is_shareable about it
    row = {"object": what, "is_shareable": interpreters.is_shareable(value)}
    try:
        interp.exec(f"queue.put({expr})")
        got = queue.get(timeout=timeout)
        row |= {"arrived": True, "as": f"{type(got).__name__}: {got!r}"[:60]}
    except Exception as exc:  # what refusing looks like is the lesson
        row |= {"arrived": False, "as": _last_line(exc)}
    return row


def _last_line(exc: BaseException) -> str:
    """The line of an error that says what went wrong (numpy adds advice after it)."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    said = [line for line in lines if "does not support loading in subinterpreters" in line]
    return (said or lines or [type(exc).__name__])[-1][:120]


def refused_imports(modules: tuple[str, ...] = REFUSERS) -> Result:
    """Try `import m` in a fresh interpreter for each module: imported, refused, or absent.

    An extension module must declare that it supports several interpreters (multi-phase
    init, PEP 489; per-interpreter GIL, PEP 684); one that does not raises ImportError in
    a subinterpreter, even when it imports fine in the main one. Lesson 03, subinterpreters.
    """
    require_interpreters()
    said = {name: _import_in_new_interpreter(name) for name in modules}
    refused = ", ".join(m for m, s in said.items() if "does not support" in s) or "none"
    return Result(
        title="Importing extension modules in a subinterpreter",
        params={},
        rows=[{"module": m, "in a subinterpreter": s} for m, s in said.items()],
        findings=[f"Refused here: {refused}."],
    )


def _import_in_new_interpreter(name: str) -> str:
    if importlib.util.find_spec(name) is None:
        return "not installed here"
    with new_interpreters(1) as (interp,):
        try:
            interp.exec(f"import {name}")
            return "imported"
        except Exception as exc:  # refusing is the lesson
            return _last_line(exc)


# -- the pre-class check, the exercise, and reference results for older Pythons -------------


def check_interpreters(quick: bool = True) -> list[Effect]:
    """The "interpreters" section of python -m helpers check (about 3 s quick, 8 s full)."""
    if interpreters is None:
        return [SPEEDUP.judge(None, why=WHY_NOT)]
    models = compare_models(
        workers=2, task_seconds=0.15 if quick else 0.3, repeats=3 if quick else 5
    )
    cost = start_up_and_memory(
        count=2 if quick else 4,
        repeats=3 if quick else 5,
        start_methods=(mp_context().get_start_method(),),
    )
    process = next(k for k in cost.seconds if k != "interpreter")  # the course's start method
    return [
        SPEEDUP.judge(models.cores_vs_sequential("interpreters")),
        report_only(LESSON, WALL_SPEEDUP, models.speedup("interpreters"), unit="x"),
        *(
            report_only(LESSON, effect, of[process] / of["interpreter"], unit="x")
            for effect, of in ((STARTUP_EFFECT, cost.seconds), (PSS_EFFECT, cost.pss))
        ),
    ]


def reference_figures() -> ReferenceTable:
    """The interpreters section's figures recorded on other machines (3.13 and later)."""
    found = [f for f in reference_figures_for(LESSON) if f.measured is not None]
    return ReferenceTable(found, title="Subinterpreters: reference results from known machines")


EXERCISE = "interpreters in threads"


def feedback_interpreters(func, timeout: float = 60.0) -> bool | None:
    """Exercise (lesson 03, subinterpreters): the learner's func(code, n) runs `code` on n
    new interpreters at once, one thread each, closes them all, and raises in the caller
    when the code failed in an interpreter (as Pool.map does). Run twice under the
    instruments: with CPU-bound code (judged by the cores it kept busy, against one thread
    alone now) and with failing code (judged by the error and by what was left open).
    """
    if is_stub(func):
        return unanswered(
            "write on_interpreters(code, n): create n interpreters, run code in each from its "
            "own Thread, join the threads, close the interpreters, and raise if one failed.",
            exercise=EXERCISE,
        )
    if interpreters is None:
        return unanswered(f"{WHY_NOT}: this exercise needs Python 3.13+.", exercise=EXERCISE)
    steps = cpu.units_for(0.3)
    cpu0, start = cpu_seconds(), time.perf_counter()
    cpu.count_steps(steps)  # one core's worth on this machine now: a busy machine gives less
    one_core = (cpu_seconds() - cpu0) / (time.perf_counter() - start)
    code = inspect.getsource(cpu.count_steps) + f"count_steps({steps})\n"
    problem, _, cores = _observe(func, code, "CPU-bound code", timeout)
    failed, error, _ = _observe(func, "1 / 0", "code that raises", timeout)
    cores /= max(one_core, 1e-3)
    problem = problem or failed
    if not problem and not needs_cores(2) and cores < 1.5:
        problem = (
            f"on 2 interpreters it kept {cores:.2f} cores' worth busy (one thread "
            "alone: 1): they ran one after the other (start every thread before joining "
            "any), or other programs kept the cores busy (close them, run the check again)."
        )
    return feedback(
        not problem,
        f"2 interpreters kept {cores:.2f} cores' worth busy (one thread alone: 1), the "
        f"failure came back as {type(error).__name__}, and nothing was left open.",
        "not yet: " + problem,
        exercise=EXERCISE,
    )


def _observe(func, code: str, what: str, timeout: float) -> tuple[str, Exception | None, float]:
    """Run func(code, 2) in a thread, with a timeout: (what it did wrong with `what` code, or
    ""; what it raised; cores busy)."""
    before, threads_before = open_interpreters(), threading.active_count()
    cpu0, start = cpu_seconds(), time.perf_counter()
    how, error, _ = call_with_timeout(func, (code, 2), timeout)  # its error is judged, not raised
    cores = (cpu_seconds() - cpu0) / (time.perf_counter() - start)
    left, threads = open_interpreters() - before, threading.active_count() - threads_before
    error = {"returned": None, "raised": error}.get(how, TimeoutError())
    raising = what == "code that raises"
    if how == "timeout":
        said = "did not return in time: did you join every thread?"
    elif left > 0:
        said = f"left {left} interpreter(s) open: close each (try/finally)."
    elif threads > 0:
        said = f"left {threads} thread(s) running: join them."
    elif raising and error is None:
        said = "returned as if all went well: keep each thread's error and raise it after closing."
    elif not raising and error is not None:
        said = f"raised {type(error).__name__}: {_last_line(error)}"
    elif raising and "ZeroDivisionError" not in f"{error!r} {error}":
        said = f"raised {type(error).__name__}, not the interpreter's error: {_last_line(error)}"
    else:
        said = ""
    return (f"with {what} it {said}" if said else ""), error, cores
