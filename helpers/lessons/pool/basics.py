"""The first steps with a pool: the __main__ guard, and the ways to hand it work.

Introduced in 01_process_pool.ipynb (sections 1 and 3). guard_demo() runs two tiny scripts,
with and without ``if __name__ == "__main__":``, as a learner would from a terminal, and
stops the one that would otherwise restart itself forever. iteration_styles() runs the same
tasks through map, imap, imap_unordered and starmap and records when each result arrives.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from itertools import takewhile
from pathlib import Path

import psutil

from ...machine import require_workers, start_methods, validate_start_method
from ...processes import helpers_env, is_multiprocessing_helper
from ...results import Result
from ...runner import no_stray_processes, reap, wait
from ...workloads import cpu
from . import charts as pool_charts
from .workers import require_positive, started_pool

_SCRIPT = """\
import multiprocessing

from helpers.workloads.cpu import square

{body}"""
_POOL_CODE = """\
ctx = multiprocessing.get_context({method!r})
with ctx.Pool(2) as pool:
    print(pool.map(square, range(5)))
"""
_GUARDED = """\
def main():
{code}

if __name__ == "__main__":
    main()
"""


def script_text(method: str, guard: bool) -> str:
    """The source of the small pool script guard_demo() runs."""
    code = _POOL_CODE.format(method=method)
    body = _GUARDED.format(code=textwrap.indent(code, "    ")) if guard else code
    return _SCRIPT.format(body=body)


@dataclass
class GuardResult(Result):
    """What each script printed, and the start of the error a guard-less spawn script raises."""

    outputs: dict[str, str] = field(default_factory=dict)  # "method, guard" -> last output
    error_excerpt: str = ""


def _stop_tree(proc: psutil.Process) -> None:
    """Freeze the script first, so it cannot start more children, then end it and them.

    Its resource tracker is left to exit by itself: once every process that held its pipe
    is gone, it unlinks the semaphores the stopped pools never released (/dev/shm/sem.mp-*).
    Killing it too would leave them behind for good.
    """
    try:
        proc.suspend()
        family = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        family = [proc]
    trackers = [p for p in family if is_multiprocessing_helper(p)]
    reap([p for p in family if p not in trackers], grace=1.0)
    _, alive = psutil.wait_procs(trackers, timeout=5.0)
    reap(alive, grace=1.0)


def _run_script(path: Path, log: Path, timeout: float) -> tuple[str, float, str]:
    """Run one script; return (outcome, seconds, its output). Stops it on error or timeout."""
    start = time.perf_counter()
    with open(log, "w") as out:
        popen = psutil.Popen(
            [sys.executable, str(path)], stdout=out, stderr=out, env=helpers_env(), cwd=path.parent
        )
    try:
        seen_error_at = None
        while True:
            text = log.read_text()
            if popen.poll() is not None:
                outcome = "ran" if popen.returncode == 0 else f"exit code {popen.returncode}"
                return outcome, time.perf_counter() - start, text
            if seen_error_at is None and "RuntimeError" in text:
                seen_error_at = time.monotonic()
            if seen_error_at is not None and time.monotonic() - seen_error_at > 0.3:
                outcome = "RuntimeError in every new worker; stopped (it would loop forever)"
                return outcome, time.perf_counter() - start, text
            if time.perf_counter() - start > timeout:
                return f"no answer in {timeout:.0f} s; stopped", timeout, text
            time.sleep(0.05)
    finally:
        if popen.poll() is None:
            _stop_tree(popen)


def _excerpt(text: str) -> str:
    """The RuntimeError's message, dedented: the part that tells the learner what to do."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("RuntimeError")]
    if not starts:
        return ""
    message = takewhile(lambda line: not line.startswith("Traceback"), lines[starts[0] + 1 :][:13])
    return "RuntimeError:\n" + textwrap.dedent("\n".join(message)).strip()


def guard_demo(methods: list[str] | None = None, timeout: float = 20.0) -> GuardResult:
    """Run the pool script without the guard (fork, spawn) and with it (spawn).

    Each script runs as its own program, as from a terminal; one that keeps failing is
    stopped, with every process it started, as soon as its error shows.
    """
    if methods is None:
        methods = [m for m in ("fork", "spawn") if m in start_methods()]
    methods = [validate_start_method(m) for m in methods]
    runs = [(m, False) for m in methods] + [(m, True) for m in methods if m != "fork"]
    result = GuardResult(
        title="The same pool script, with and without the __main__ guard",
        params={"timeout": timeout},
    )
    with tempfile.TemporaryDirectory(prefix="pool-guard-") as folder, no_stray_processes():
        for method, guard in runs:
            key = f"{method}, {'with' if guard else 'without'} guard"
            path = Path(folder) / f"{key.replace(',', '').replace(' ', '_')}.py"
            path.write_text(script_text(method, guard))
            outcome, seconds, text = _run_script(path, path.with_suffix(".log"), timeout)
            excerpt = _excerpt(text)
            result.error_excerpt = result.error_excerpt or excerpt
            if outcome == "ran":
                result.outputs[key] = text.strip().splitlines()[-1] if text.strip() else ""
            else:  # the first line of the error says what went wrong
                result.outputs[key] = " ".join(excerpt.splitlines()[:2])
            result.rows.append(
                {
                    "start method": method,
                    "__main__ guard": "yes" if guard else "no",
                    "outcome": outcome,
                    "printed": result.outputs[key],
                    "seconds": seconds,
                }
            )
    result.findings = _guard_findings(result)
    return result


def _guard_findings(r: GuardResult) -> list[str]:
    return [
        f"{row['start method']}, {'with' if row['__main__ guard'] == 'yes' else 'without'} "
        + (
            f"the guard: the script ran and printed {row['printed']}."
            if row["outcome"] == "ran"
            else f"the guard: {row['outcome']}. Each new worker imports the script to find its "
            "functions, runs its top level again, and tries to start a pool of its own."
        )
        for row in r.rows
    ]


# -- 3. map, imap, imap_unordered, starmap ---------------------------------------------


@dataclass
class StylesResult(Result):
    """When each result reached the parent, for each way of handing the pool its tasks."""

    arrivals: dict[str, list[float]] = field(default_factory=dict)  # seconds since the call
    orders: dict[str, list[int]] = field(default_factory=dict)  # task labels, arrival order
    finished: dict[str, float] = field(default_factory=dict)

    @property
    def styles(self) -> list[str]:
        return list(self.arrivals)

    def plot(self):
        return pool_charts.arrivals(self)


def iteration_styles(
    tasks: int = 8,
    longest_seconds: float = 0.2,
    *,
    workers: int = 2,
    start_method: str | None = None,
    timeout: float = 60.0,
) -> StylesResult:
    """Hand the same tasks to one pool four ways; record when and in what order results arrive.

    Task 0 takes longest_seconds of one core, each of the others a quarter of that.
    """
    require_workers(tasks, what="tasks")
    require_workers(workers)
    require_positive(longest_seconds, "longest_seconds")
    jobs = [(i, cpu.units_for(longest_seconds / (1 if i == 0 else 4))) for i in range(tasks)]
    result = StylesResult(
        title=f"{tasks} tasks, a long one first, on {workers} workers: four ways to hand them over",
        params={"tasks": tasks, "longest_seconds": longest_seconds, "workers": workers},
    )
    with started_pool(workers, start_method=start_method, timeout=timeout) as started:
        pool = started.pool
        runs = {
            "map": lambda: wait(pool.map_async(cpu.spin_labelled_job, jobs, chunksize=1), timeout),
            "imap": lambda: pool.imap(cpu.spin_labelled_job, jobs, chunksize=1),
            "imap_unordered": lambda: pool.imap_unordered(cpu.spin_labelled_job, jobs, chunksize=1),
            "starmap": lambda: wait(
                pool.starmap_async(cpu.spin_labelled, jobs, chunksize=1), timeout
            ),
        }
        for style, run in runs.items():
            start = time.perf_counter()
            iterator = iter(run())
            times = result.arrivals[style] = []
            order = result.orders[style] = []
            for _ in range(tasks):  # imap's next(timeout), so that a stuck task cannot hang us
                label = iterator.next(timeout) if hasattr(iterator, "next") else next(iterator)
                order.append(label)
                times.append(time.perf_counter() - start)
            result.finished[style] = times[-1]
    return _styles_described(result)


def _styles_described(result: StylesResult) -> StylesResult:
    """The run's table (one row per style) and its findings."""
    result.rows = [
        {
            "style": style,
            "results arrived in order": " ".join(map(str, result.orders[style])),
            "first result after (s)": result.arrivals[style][0],
            "all results after (s)": result.finished[style],
            "returns": "a list, when all are done"
            if style in ("map", "starmap")
            else "an iterator, result by result",
        }
        for style in result.styles
    ]
    result.findings = _styles_findings(result)
    return result


def _styles_findings(r: StylesResult) -> list[str]:
    first = {s: r.arrivals[s][0] for s in r.styles}
    findings = [
        f"map and starmap handed over nothing until every task was done "
        f"({first['map']:.2f} s and {first['starmap']:.2f} s).",
        f"imap gave its first result after {first['imap']:.2f} s: results come one by one, "
        "but in task order, so the long task 0 holds back the quick ones finished behind it.",
        f"imap_unordered gave its first result after {first['imap_unordered']:.2f} s, "
        f"from task {r.orders['imap_unordered'][0]}: results come as tasks finish.",
    ]
    if r.orders["imap_unordered"] == sorted(r.orders["imap_unordered"]):
        findings.append(
            "This time imap_unordered's order happened to match the task order; on a busy "
            "machine or with other task sizes it need not."
        )
    return findings
