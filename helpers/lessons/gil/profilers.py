"""The hand-off timeline checked against py-spy: who held the GIL, seen from outside.

Introduced in 03_gil_contention.ipynb, section 2 ("The same turns, seen by py-spy").

    py_spy_gil_share()
      py-spy record --gil --threads --format raw -- python -m helpers.workloads.gil OUT ...
        child: two CPU-bound threads, one with twice the other's work, stamping progress
               (helpers.workloads.gil.stamped_spin); their stamps -> OUT (JSON)
        py-spy: samples the child's stacks `rate` times a second, keeping only samples
               taken while a thread held the GIL (--gil); one line per stack and thread
      share per thread: py-spy's samples / all GIL samples of the two threads, against the
      course's time it ran (its progress stamps, as in section 1) / both threads' time

Both look at the same run. Where py-spy cannot read another process (no ptrace permission,
macOS without sudo) or is missing, the result says why and holds no figures. The temporary
folder is removed whatever happens.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ...machine import gil_enabled
from ...processes import helpers_env
from ...results import Result
from ...workloads.gil import Progress, block_steps, progress_spans, steps_for

LINE = re.compile(r"^thread \((?P<tid>0x[0-9a-fA-F]+|\d+)\)[^;]*;.* (?P<count>\d+)$")


def py_spy_path() -> str | None:
    """The py-spy program: next to this Python (a venv's bin folder) or on PATH."""
    beside = Path(sys.executable).with_name("py-spy" + (".exe" if os.name == "nt" else ""))
    return str(beside) if beside.exists() else shutil.which("py-spy")


def why_py_spy_cannot_run() -> str:
    """'' where py-spy can sample a child process here, else the reason, in plain words."""
    if not gil_enabled():
        return "this Python runs without the GIL, so there is no GIL holder to sample"
    if py_spy_path() is None:
        return "py-spy is not installed (pip install py-spy)"
    if sys.platform == "darwin" and os.geteuid() != 0:
        return "on macOS py-spy must run as root (sudo) to read another process's memory"
    return ""


@dataclass
class PySpyResult(Result):
    """Per thread: py-spy's share of GIL-holding samples beside the course's share of turn time."""

    why_not: str = ""
    command: list[str] = field(default_factory=list)
    samples: dict[str, int] = field(default_factory=dict)  # thread name -> GIL samples
    held: dict[str, float] = field(default_factory=dict)  # thread name -> s it ran (own stamps)

    def py_spy_share(self, thread: str) -> float:
        """The thread's share (0-1) of the samples py-spy took while one of the two held the GIL;
        the main thread's (starting Python, importing, waiting to join) are left out."""
        return self.samples.get(thread, 0) / max(1, sum(self.samples.get(t, 0) for t in self.held))

    def course_share(self, thread: str) -> float:
        """The thread's share (0-1) of the time the two ran, from their own progress stamps."""
        return self.held[thread] / max(1e-12, sum(self.held.values()))

    @property
    def disagreement_pp(self) -> float | None:
        """The largest gap between the two shares over the threads, in percentage points."""
        if not self.held:  # py-spy did not run
            return None
        return max(abs(self.py_spy_share(t) - self.course_share(t)) * 100 for t in self.held)


def count_samples(raw_text: str) -> dict[int, int]:
    """py-spy raw output -> GIL samples per OS thread id (one line per distinct stack).

    By thread id, not name: py-spy sometimes prints a thread without its Python name (it
    reads the names apart from the stacks), and matching by name then lost every sample of
    that thread.
    """
    counts: Counter[int] = Counter()
    for found in filter(None, (LINE.match(line.strip()) for line in raw_text.splitlines())):
        counts[int(found["tid"], 0)] += int(found["count"])
    return dict(counts)


def py_spy_gil_share(
    seconds: tuple[float, float] = (0.6, 0.3), rate: int = 500, timeout: float = 60.0
) -> PySpyResult:
    """Run two CPU-bound threads under py-spy record --gil; compare per-thread GIL shares.

    seconds: each thread's work (unequal, so the shares are not trivially 50/50). rate:
    py-spy samples per second. Lesson 03, section 2.
    """
    result = PySpyResult(
        title="Who held the GIL: py-spy beside the course's timeline",
        params={"seconds": seconds, "rate": rate},
    )
    result.why_not = why_py_spy_cannot_run()
    if result.why_not:
        result.findings = [f"Not run here: {result.why_not}."]
        return result
    folder = Path(tempfile.mkdtemp(prefix="helpers-pyspy-"))
    try:
        out, raw = folder / "stamps.json", folder / "gil.txt"
        every = block_steps()  # calibrated here, once, so the child starts its threads at once
        steps = [every, *(steps_for(s, every) for s in seconds)]
        child = [sys.executable, "-m", "helpers.workloads.gil", str(out), *map(str, steps)]
        spy = [py_spy_path() or "py-spy", "record", "--gil", "--threads", "--format", "raw"]
        result.command = [*spy, "--rate", str(rate), "--output", str(raw), "--", *child]
        done = subprocess.run(
            result.command, capture_output=True, text=True, timeout=timeout, env=helpers_env()
        )
        if done.returncode != 0 or not raw.exists() or not out.exists():
            said = (done.stderr or done.stdout).strip().splitlines()
            result.why_not = f"py-spy could not sample the child: {(said or ['no output'])[-1]}"
            if "ermission" in done.stderr or "ptrace" in done.stderr:
                result.why_not += (
                    " (no permission to read another process: run as root, or set "
                    "kernel.yama.ptrace_scope to 0 or 1)"
                )
        else:
            threads = json.loads(out.read_text())
            by_tid = count_samples(raw.read_text())
            result.samples = {name: by_tid.get(t["tid"], 0) for name, t in threads.items()}
            result.samples["other threads"] = sum(by_tid.values()) - sum(result.samples.values())
            result.held = time_running(threads)
    except subprocess.TimeoutExpired:
        result.why_not = f"py-spy did not finish within {timeout:.0f} s"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.rows = rows(result)
    result.findings = findings(result)
    return result


def time_running(stamps: dict[str, dict]) -> dict[str, float]:
    """Thread name -> seconds it ran holding the GIL: the stretches its own progress stamps
    show (progress_spans, as in section 1's timeline). A hand-off, when no thread holds the GIL
    and py-spy --gil keeps no sample, counts for neither. Trap: counting whole turns (from the
    previous turn's last stamp) gave each hand-off to the incoming thread and pulled the shares
    towards 50/50 on a busy machine, 10 points off py-spy's."""
    held = {}
    for name, s in stamps.items():
        progress = Progress(name, 0, name, s["start"], s["stamps"], 0.0)
        gaps = [b - a for a, b in itertools.pairwise(s["stamps"])]
        block = statistics.median_high(gaps) if gaps else 0.0
        held[name] = sum(end - start for start, end in progress_spans(progress, block))
    return held


def rows(r: PySpyResult) -> list[dict]:
    """The per-thread table (empty where py-spy did not run: nothing was held)."""
    return [
        {
            "thread": t,
            "py-spy GIL samples": r.samples.get(t, 0),
            "py-spy share (%)": 100 * r.py_spy_share(t),
            "course: seconds it ran": r.held[t],
            "course share (%)": 100 * r.course_share(t),
            "gap (percentage points)": 100 * abs(r.py_spy_share(t) - r.course_share(t)),
        }
        for t in r.held
    ]


def findings(r: PySpyResult) -> list[str]:
    """One sentence: how far py-spy's shares and the course's were apart, against PY_SPY."""
    from .check import PY_SPY

    if r.why_not:
        return [f"py-spy was not run: {r.why_not}. The course's timeline above stands alone here."]
    gap = r.disagreement_pp
    return [
        f"py-spy took {sum(r.samples.get(t, 0) for t in r.held)} samples in which one of the "
        f"two threads held the GIL ({r.samples.get('other threads', 0)} more of the main thread, "
        f"starting up, left out); its shares and the course's "
        f"{'agree' if PY_SPY.holds(gap) else 'disagree'}: at most {gap:.1f} percentage points "
        f"apart (the check allows {PY_SPY.threshold:g})."
    ]
