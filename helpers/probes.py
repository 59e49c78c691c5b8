"""Measure a block of code and every process it starts, from outside: ``helpers.measure()``.

Introduced in 00_start_here.ipynb; every lesson's memory and CPU charts come from here.

    caller process                         sampler process (python -m helpers._sampler)
    with measure() as m:  --- Popen --->   baseline sample, then {"ready"}
        ... your code, workers ...         every interval: RSS/USS/PSS/CPU of the caller's
        workers write task events          tree, per-core CPU, system available memory
    block ends            --- "stop" -->   closing sample, then all ticks as JSON
    m = Measurement(ticks, processes, task events)

The sampler is a separate process so it never takes the measured process's GIL and adds
no thread to it. Task events reach the block through helpers.events.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psutil

from . import events
from .events import TaskEvent
from .footprint import trim_heap
from .machine import require_seconds
from .processes import helpers_env
from .units import MiB

METRICS = ("rss", "uss", "pss")
MIN_INTERVAL = 0.01
_START_TIMEOUT = 30.0  # seconds for the sampler to take its baseline (a cold import on Binder)


@dataclass(frozen=True)
class Sample:
    """One process at one instant. Sizes in bytes; cpu in percent of one core; t in perf_counter s."""

    t: float
    pid: int
    rss: int
    uss: int | None
    pss: int | None
    cpu: float


@dataclass(frozen=True)
class ProcessSummary:
    """One process's peaks over the block, in bytes. role: caller, worker, server or helper."""

    pid: int
    role: str
    name: str
    peak_rss: int
    peak_uss: int | None
    peak_pss: int | None
    cpu_time: float


@dataclass(frozen=True)
class MemoryProfilerView:
    """What memory_profiler reported during the block, in bytes (it reads RSS and adds it up).

    include_children: the series memory_usage(..., include_children=True) gives.
    per_process: the peaks that multiprocess=True gives, one per child (pid -> bytes).
    """

    times: list[float]
    include_children: list[int]
    per_process: dict[int, int]

    @property
    def include_children_peak(self) -> int:
        return max(self.include_children, default=0)

    @property
    def include_children_growth(self) -> int:
        """Peak minus the first reading: what a learner reads as "the block used this much"."""
        return self.include_children_peak - next(iter(self.include_children), 0)

    @classmethod
    def from_readings(cls, readings: list[tuple[float, list]]) -> MemoryProfilerView:
        per_process: dict[int, int] = {}
        for _, (_, children) in readings:
            for pid, value in children.items():
                per_process[int(pid)] = max(per_process.get(int(pid), 0), int(value * MiB))
        return cls(
            times=[t for t, _ in readings],
            include_children=[int(total * MiB) for _, (total, _) in readings],
            per_process=per_process,
        )


@dataclass
class Measurement:
    """What helpers.measure() saw: samples of the process tree, per-core load, task events."""

    interval: float
    start: float
    end: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    core_load: list[tuple[float, list[float]]] = field(default_factory=list)
    available: list[tuple[float, int]] = field(default_factory=list)
    charged: list[tuple[float, int]] = field(default_factory=list)
    processes: dict[int, dict] = field(default_factory=dict)
    tasks: list[TaskEvent] = field(default_factory=list)
    caller_cpu: float = 0.0
    sampler_cpu: float = 0.0
    memory_profiler: MemoryProfilerView | None = None
    _cpu_by_pid: dict[int, float] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"<Measurement {self.wall:.2f} s, {len(self.per_process())} processes, "
            f"{len({s.t for s in self.samples})} samples, {len(self.tasks)} tasks>"
        )

    # -- time and CPU -----------------------------------------------------------------

    @property
    def wall(self) -> float:
        """Seconds the block took (perf_counter)."""
        return self.end - self.start

    @property
    def cpu_time(self) -> float:
        """CPU seconds used by the caller and its descendants during the block.

        The caller's own time is exact; other processes' are sampled, so one that ended
        between two samples misses at most one interval of CPU.
        """
        others = (cpu for pid, cpu in self._cpu_by_pid.items() if self.role(pid) != "caller")
        return self.caller_cpu + sum(others)

    def role(self, pid: int) -> str:
        return self.processes.get(pid, {}).get("role", "worker")

    # -- memory -----------------------------------------------------------------------

    def _require_metric(self, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {', '.join(METRICS)}; got {metric!r}")
        if metric == "pss" and any(s.pss is None for s in self.samples):
            raise ValueError("PSS cannot be measured on this platform (it needs Linux); use 'uss'")
        return metric

    def totals(self, metric: str = "pss") -> list[tuple[float, int]]:
        """The metric summed over the tree at each sampling instant: [(t, bytes), ...]."""
        self._require_metric(metric)
        by_time: dict[float, int] = defaultdict(int)
        for s in self.samples:
            by_time[s.t] += getattr(s, metric) or 0
        return sorted(by_time.items())

    def peak(self, metric: str = "pss") -> int:
        """The largest total of metric over the tree at one instant, in bytes."""
        return max((total for _, total in self.totals(metric)), default=0)

    def baseline(self, metric: str = "pss") -> int:
        """The metric summed over the tree just before the block, in bytes."""
        return next(iter(self.totals(metric)), (None, 0))[1]

    def growth(self, metric: str = "pss") -> int:
        """How far the tree's total grew during the block: peak minus baseline, in bytes."""
        return self.peak(metric) - self.baseline(metric)

    @property
    def baseline_available(self) -> int:
        return self.available[0][1] if self.available else 0

    def drops(self) -> list[tuple[float, int]]:
        """The ground truth over time: memory taken since just before the block, in bytes.

        From the cgroup's memory accounting where it can be read (Linux containers and
        systemd sessions): it follows every allocation exactly, whereas the system's free
        and available counts miss pages that cycle through the kernel's per-CPU free lists.
        Elsewhere, the drop in the system's available memory.
        """
        if self.charged:
            base = self.charged[0][1]
            return [(t, max(0, used - base)) for t, used in self.charged]
        base = self.baseline_available
        return [(t, max(0, base - a)) for t, a in self.available]

    @property
    def system_drop(self) -> int:
        """The ground truth: the most memory the system lost during the block, in bytes.

        See drops(). The tree's PSS growth is compared with it; other programs disturb it.
        """
        return max((drop for _, drop in self.drops()), default=0)

    def per_process(self) -> list[ProcessSummary]:
        """Each process's peaks and role, caller first."""
        peaks: dict[int, dict[str, int | None]] = {}
        for s in self.samples:
            p = peaks.setdefault(s.pid, dict.fromkeys(METRICS))
            for metric in METRICS:
                if (value := getattr(s, metric)) is not None:
                    p[metric] = max(p[metric] or 0, value)
        order = {"caller": 0, "worker": 1, "server": 2, "helper": 3}
        rows = []
        for pid, p in peaks.items():
            role, name = self.role(pid), self.processes.get(pid, {}).get("name", "?")
            cpu = self.caller_cpu if role == "caller" else self._cpu_by_pid.get(pid, 0.0)
            rows.append(ProcessSummary(pid, role, name, p["rss"], p["uss"], p["pss"], cpu))
        return sorted(rows, key=lambda r: (order.get(r.role, 9), r.pid))

    @property
    def pss_available(self) -> bool:
        return bool(self.samples) and all(s.pss is not None for s in self.samples)

    @property
    def total_metric(self) -> str:
        """'pss' where it can be measured, else 'uss' (macOS, Windows)."""
        return "pss" if self.pss_available else "uss"

    # -- display ----------------------------------------------------------------------

    def summary(self) -> dict[str, float]:
        """Headline figures: seconds, CPU seconds, and MiB."""
        out = {
            "wall_s": self.wall,
            "cpu_s": self.cpu_time,
            "processes": len(self.per_process()),
            "peak_rss_total_MiB": self.peak("rss") / MiB,
            "peak_uss_total_MiB": self.peak("uss") / MiB,
            "system_drop_MiB": self.system_drop / MiB,
            "tasks": len(self.tasks),
        }
        if self.pss_available:
            out["peak_pss_total_MiB"] = self.peak("pss") / MiB
        return out

    def _repr_html_(self) -> str:
        def cell(v):
            return "n/a" if v is None else f"{v / MiB:.1f}"

        head = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{f'{v:.3f}' if isinstance(v, float) else v}</td></tr>"
            for k, v in self.summary().items()
        )
        rows = "".join(
            f"<tr><td>{p.pid}</td><td>{p.role}</td><td>{html.escape(p.name)}</td>"
            f"<td>{cell(p.peak_rss)}</td><td>{cell(p.peak_uss)}</td><td>{cell(p.peak_pss)}</td>"
            f"<td>{p.cpu_time:.2f}</td></tr>"
            for p in self.per_process()
        )
        return (
            f"<table>{head}</table><table><tr><th>pid</th><th>role</th><th>name</th>"
            "<th>peak RSS (MiB)</th><th>peak USS (MiB)</th><th>peak PSS (MiB)</th>"
            f"<th>CPU (s)</th></tr>{rows}</table>"
        )

    def plot(self, title: str = "What the block did"):
        """Memory per process, per-core CPU, and the task timeline when there are tasks."""
        from .charts import measurement_overview

        return measurement_overview(self, title=title)


# -- taking a measurement ----------------------------------------------------------------


def _own_cpu() -> float:
    t = psutil.Process().cpu_times()
    return t.user + t.system


_active: Measurement | None = None


@contextmanager
def sampler_process(interval: float, memory_profiler: bool = False) -> Iterator[subprocess.Popen]:
    """Start the sampler on this process's tree, wait for its baseline, and always end it."""
    command = [sys.executable, "-m", "helpers._sampler", str(os.getpid()), repr(float(interval))]
    sampler = subprocess.Popen(
        [*command, "--memory-profiler"] if memory_profiler else command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=helpers_env(),
        text=True,
    )
    try:
        _wait_until_ready(sampler)
        yield sampler
    finally:
        if sampler.poll() is None:
            sampler.kill()
            sampler.wait()
        for stream in (sampler.stdin, sampler.stdout, sampler.stderr):
            stream.close()  # all three are pipes; closing one communicate() closed does nothing


@contextmanager
def measure(interval: float = 0.05, *, memory_profiler: bool = False) -> Iterator[Measurement]:
    """Measure the block: ``with measure() as m: ...``; m holds the results after the block.

    interval: seconds between samples, at least 0.01. Samples cover this process and all its
    descendants, including those that start and end inside the block (if they live at least
    one interval), but not the sampler itself. Measurements do not nest.
    memory_profiler: also record what memory_profiler reports at each sample (m.memory_profiler).
    """
    global _active
    require_seconds(interval, what="interval", low=MIN_INTERVAL)
    if _active is not None:
        raise RuntimeError("measure() blocks do not nest: end the outer one first")
    folder = events.events_dir_for(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)  # a stale folder left by a killed run
    for attempt in range(3):  # another process may remove the empty registry meanwhile
        try:
            folder.mkdir(parents=True)
            break
        except FileNotFoundError:
            if attempt == 2:
                raise
    m = _active = Measurement(interval=float(interval), start=0.0)
    trim_heap()  # freed memory goes back first, so growth counts only what the block adds
    try:
        with sampler_process(interval, memory_profiler) as sampler:
            cpu0 = _own_cpu()
            m.start = time.perf_counter()
            try:
                yield m
            finally:
                m.end = time.perf_counter()
                m.caller_cpu = _own_cpu() - cpu0
                report = _stop(sampler)
                _fill(m, report)
                events.close_files(folder)
                m.tasks = events.read_events(folder)
    finally:
        _active = None
        events.close_files(folder)
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            folder.parent.rmdir()  # the events registry goes with the last measurement using it


def _wait_until_ready(sampler: subprocess.Popen) -> None:
    line = sampler.stdout.readline()  # the sampler answers after its baseline sample
    if not line.startswith("{"):
        sampler.kill()
        _, err = sampler.communicate(timeout=_START_TIMEOUT)
        raise RuntimeError(f"the sampler process failed to start:\n{err.strip()}")


def _stop(sampler: subprocess.Popen) -> dict:
    try:
        out, err = sampler.communicate("stop\n", timeout=_START_TIMEOUT)
    except subprocess.TimeoutExpired:
        sampler.kill()
        sampler.communicate()
        raise RuntimeError("the sampler process did not stop in time") from None
    if sampler.returncode != 0 or not out.strip():
        raise RuntimeError(f"the sampler process failed:\n{err.strip()}")
    return json.loads(out.strip().splitlines()[-1])


def _fill(m: Measurement, report: dict) -> None:
    ticks = report["ticks"]  # [t, available, cores, rows, charged, memory_profiler reading]
    m.processes = {int(pid): info for pid, info in report["processes"].items()}
    m.sampler_cpu = report["sampler_cpu"]
    m.available = [(t, available) for t, available, *_ in ticks]
    m.charged = [(t, charged) for t, _, _, _, charged, _ in ticks if charged is not None]
    m.core_load = [(t, cores) for t, _, cores, *_ in ticks[1:]]  # meaningless at the first tick
    # each row: pid, rss, uss, pss, cpu (percent), cpu_total (seconds since the process started)
    m.samples = [Sample(t, *row[:5]) for t, _, _, rows, *_ in ticks for row in rows]
    # processes already running at the baseline count from there, new ones from zero
    first_cpu = {pid: cpu_total for pid, *_, cpu_total in ticks[0][3]} if ticks else {}
    last_cpu = {pid: cpu_total for _, _, _, rows, *_ in ticks for pid, *_, cpu_total in rows}
    m._cpu_by_pid = {pid: cpu - first_cpu.get(pid, 0.0) for pid, cpu in last_cpu.items()}
    mp_readings = [(t, reading) for t, *_, reading in ticks if reading is not None]
    if mp_readings:
        m.memory_profiler = MemoryProfilerView.from_readings(mp_readings)
