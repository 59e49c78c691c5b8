"""Run the post's re-created programs as the post did: each a script in its own process.

Lesson 07, sections 1-3. The programs live in ``notebooks/post_programs/`` (PROGRAMS), one
file each, so that a learner can open and run them. ``run_program()`` runs one with
``sys.executable``, a timeout and its output captured, inside ``helpers.measure()``, and
leaves nothing behind: the program runs in a process group of its own, and whatever of that
group is still alive when the program ends or times out (pool workers orphaned by a crash, a
hung pool) is killed and counted. ``traced=True`` runs it through helpers.lessons.post.trace,
which counts what the pool's tasks sent back to the parent.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ... import measure
from ...probes import Measurement
from ...processes import helpers_env
from ...results import html_table

PROGRAMS = Path(__file__).resolve().parents[3] / "notebooks" / "post_programs"
PROGRAM_FILES = {
    "program 1": "program1_pool.py",
    "program 1, corrected": "program1_corrected.py",
    "program 2": "program2_thread.py",
    "program 3": "program3_shared_list.py",
    "program 3 with .get()": "program3_get.py",
    "program 3, corrected": "program3_corrected.py",
}
DEFAULT_TIMEOUT = 60.0  # seconds; the slowest program needs about 5 s on an idle machine
GRACE = 3.0  # seconds multiprocessing's helpers get to exit after their program ended


def program_path(name: str) -> Path:
    """The file of a program by its name in PROGRAM_FILES ("program 3") or its file name."""
    path = PROGRAMS / PROGRAM_FILES.get(name, name)
    if not path.is_file():
        raise ValueError(f"no program {name!r} in {PROGRAMS}; known: {', '.join(PROGRAM_FILES)}")
    return path


@dataclass
class ProgramRun:
    """One run of a program: what it printed, how it ended, what it used.

    returncode: the script's exit status (None if it was killed at the timeout). seconds:
    wall time. left_behind: processes of its group still alive after it ended, killed by the
    runner (0 when the program cleaned up). trace: the tracer's counts (traced runs only).
    measurement: what helpers.measure() saw (the notebook's own process included, as caller).
    """

    command: list[str]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    left_behind: int
    measurement: Measurement
    trace: dict | None = None
    program_pids: set[int] = field(default_factory=set)
    pid: int | None = None

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()

    @property
    def failed_tasks(self) -> int:
        """Tasks whose outcome came back to the parent as an exception (traced runs)."""
        return sum(self.trace["failed"].values()) if self.trace else 0

    @property
    def lost_share(self) -> float | None:
        """Failed tasks whose error the program never saw (not raised by .get(), no callback)
        over the tasks the pool ran: 1.0 means every task failed unseen."""
        if not self.trace or not self.trace["tasks_sent"]:
            return None
        return max(0, self.failed_tasks - self.trace["surfaced"]) / self.trace["tasks_sent"]

    def processes(self) -> list:
        """The program's processes as measured (its own and its workers), peaks in bytes."""
        return [p for p in self.measurement.per_process() if p.pid in self.program_pids]

    def workers(self) -> list:
        """The program's processes other than the script itself and multiprocessing's helpers."""
        return [p for p in self.processes() if p.role == "worker" and p.pid != self.pid]

    def summary(self) -> str:
        """How it ended, in one line."""
        end = ("did not finish in time and was stopped" if self.timed_out
               else f"exited with status {self.returncode}")
        left = f"; {self.left_behind} leftover processes killed" if self.left_behind else ""
        return (
            f"{' '.join(Path(c).name if c.endswith('.py') else c for c in self.command[1:])}: "
            f"{end} after {self.seconds:.2f} s, {len(self.lines):,} lines on stdout, "
            f"{len(self.stderr.splitlines())} on stderr{left}"
        )

    def output(self, lines: int = 8) -> str:
        """stdout then stderr as the terminal would show them, long outputs cut in the middle
        (`lines` kept at each end)."""

        def cut(text: str) -> list[str]:
            rows = text.splitlines()
            if len(rows) <= 2 * lines:
                return rows
            return [*rows[:lines], f"... ({len(rows) - 2 * lines:,} more lines) ...", *rows[-lines:]]

        shown = cut(self.stdout) + [f"[stderr] {row}" for row in cut(self.stderr)]
        return "\n".join(shown) if shown else "(no output at all)"

    def __repr__(self) -> str:
        return f"{self.summary()}\n{self.output()}"

    def _repr_html_(self) -> str:
        return (
            f"<p><b>{html.escape(self.summary())}</b></p>"
            f"<pre style='max-height:20em;overflow:auto'>{html.escape(self.output())}</pre>"
        )

    def memory_bytes(self, metric: str) -> int:
        """The largest sum of metric over the program's processes at one sampling instant, bytes.

        Summing at one instant, not each process's own peak: the peaks of processes that
        start and grow at different moments would add up to more than was ever in use.
        """
        totals: Counter[float] = Counter()
        for s in self.measurement.samples:
            if s.pid in self.program_pids:
                totals[s.t] += getattr(s, metric) or 0
        return max(totals.values(), default=0)


def _survivors(proc: subprocess.Popen, known: set[int]) -> list[psutil.Process]:
    """The program's other processes still alive, zombies left out (see end_everything)."""
    grouped = hasattr(os, "killpg")
    alive = []
    for pid in (set(psutil.pids()) if grouped else known) - {proc.pid}:
        try:
            p = psutil.Process(pid)
            if not grouped or (os.getpgid(pid) == proc.pid and p.status() != psutil.STATUS_ZOMBIE):
                alive.append(p)
        except (OSError, psutil.Error):
            continue
    return alive


def end_everything(proc: subprocess.Popen, known: set[int], grace: float = 0.0) -> int:
    """Kill the program and every process it started still alive (POSIX: its process group;
    elsewhere: `known`, those seen under it); return how many. grace: seconds a finished
    program's helpers (a resource tracker, a forkserver) get to exit on their own first."""
    deadline = time.monotonic() + grace
    survivors = _survivors(proc, known)
    while survivors and time.monotonic() < deadline:
        time.sleep(0.05)
        survivors = _survivors(proc, known)
    if proc.poll() is None:
        proc.kill()
    for p in survivors:
        with contextlib.suppress(psutil.Error):
            p.kill()
    psutil.wait_procs(survivors, timeout=5)
    proc.wait()
    return len(survivors)


def _descendants(pid: int) -> set[int]:
    try:
        return {p.pid for p in psutil.Process(pid).children(recursive=True)}
    except psutil.Error:
        return set()


def run_program(
    name: str,
    *args: str,
    timeout: float = DEFAULT_TIMEOUT,
    traced: bool = False,
    start_method: str | None = None,
    interval: float = 0.1,
) -> ProgramRun:
    """Run a program as a script in its own process, measured; return what it did.

    name: see program_path(); args: its command line, run in PROGRAMS; timeout: seconds before
    it is stopped; traced: count its pools' task outcomes (start_method: multiprocessing's
    default for it). Trap: the measurement includes the notebook's process as "caller";
    ProgramRun.processes() keeps only the program's own. Lesson 07, sections 1-3.
    """
    command = [sys.executable, str(program_path(name)), *map(str, args)]
    if traced:  # python -m helpers.lessons.post.trace [--start-method M] PROGRAM ARGS
        method = ["--start-method", start_method] if start_method else []
        command[1:1] = ["-m", "helpers.lessons.post.trace", *method]
    timed_out = False
    with measure(interval=interval) as m:
        started = time.perf_counter()
        proc = subprocess.Popen(
            command, cwd=PROGRAMS, env=helpers_env(), stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, start_new_session=hasattr(os, "killpg"),
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            left = end_everything(proc, _descendants(proc.pid))
            out, err = proc.communicate()
        else:
            left = end_everything(proc, set(), grace=GRACE)
        finally:
            if proc.poll() is None:  # interrupted: still leave nothing behind
                end_everything(proc, _descendants(proc.pid))
        seconds = time.perf_counter() - started
    err, trace = _take_trace(err)
    return ProgramRun(
        command, None if timed_out else proc.returncode, out, err, seconds, timed_out, left, m,
        trace=trace, program_pids=_program_pids(m, proc.pid), pid=proc.pid,
    )


def _program_pids(m: Measurement, root: int) -> set[int]:
    """The program's process and those it started: every process not there before the block."""
    if not m.samples:
        return {root}
    first = m.samples[0].t
    before = {s.pid for s in m.samples if s.t == first}
    return {s.pid for s in m.samples} - before | {root}


def _take_trace(stderr: str) -> tuple[str, dict | None]:
    # imported here: the tracer runs as `python -m ...trace`, which must find it unimported
    from .trace import TRACE_PREFIX

    kept, trace = [], None
    for line in stderr.splitlines(keepends=True):
        if line.startswith(TRACE_PREFIX):
            trace = json.loads(line[len(TRACE_PREFIX):])
        else:
            kept.append(line)
    return "".join(kept), trace


@dataclass
class TraceTable:
    """Traced runs of one program, one row per start method: what the tasks sent back, what
    was reported. Lesson 07, section 3."""

    runs: dict[str, ProgramRun]

    def rows(self) -> list[dict]:
        out = []
        for method, run in self.runs.items():
            trace = run.trace or {}
            out.append({
                "start method": method,
                "tasks (chunks) sent": trace.get("tasks_sent"),
                "items in them": trace.get("items_sent"),
                "tasks that raised": run.failed_tasks,
                "what they raised": "; ".join(trace.get("messages", {})) or "nothing",
                "errors the program saw": trace.get("surfaced"),
                "share lost": run.lost_share,
                "exit status": run.returncode,
                "lines printed": len(run.lines),
                "left behind": run.left_behind,
            })
        return out

    def __repr__(self) -> str:
        return "\n".join(str(row) for row in self.rows())

    def _repr_html_(self) -> str:
        return html_table([{k: _cell(v) for k, v in row.items()} for row in self.rows()])


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0%}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def trace_table(runs: dict[str, ProgramRun]) -> TraceTable:
    """The table of traced runs (section 3 of lesson 07)."""
    return TraceTable(runs)
