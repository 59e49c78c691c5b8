"""What this machine offers a parallel program: usable cores, memory, start methods, the GIL.

Introduced in 00_start_here.ipynb; every experiment reads its sizes and start method here.
Everything is read from the machine itself (affinity, cgroup files, psutil), never assumed.
"""

from __future__ import annotations

import contextlib
import html
import math
import multiprocessing
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from .footprint import footprint
from .units import MiB

START_METHOD_VARIABLE = "HELPERS_START_METHOD"
KNOWN_START_METHODS = ("fork", "spawn", "forkserver")
# Share of the available memory that one experiment may use for its data (see memory_budget).
BUDGET_SHARE = 0.25
_NO_LIMIT = 2**60  # cgroup v1 writes a huge number (not "max") when there is no limit

_CGROUP_ROOT = Path("/sys/fs/cgroup")


# -- cores -------------------------------------------------------------------------------


def _affinity_cores() -> int:
    """Cores this process may run on (CPU affinity), or all logical cores where unknown."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    try:
        return len(psutil.Process().cpu_affinity())  # Windows, some BSDs
    except (AttributeError, psutil.Error, NotImplementedError):
        return os.cpu_count() or 1


def _own_cgroup_paths() -> dict[str, str]:
    """Map controller -> this process's cgroup path; '' is the cgroup v2 unified path."""
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for _, controllers, path in (line.split(":", 2) for line in lines if line.count(":") >= 2):
        for controller in controllers.split(","):  # "" (cgroup v2) splits into [""]
            paths[controller] = path
    return paths


def _cgroup_files(controller: str, name: str) -> list[Path]:
    """Candidate files for a cgroup setting, own cgroup first, then the mount's root."""
    relative = _own_cgroup_paths().get(controller, "").lstrip("/")
    # "": cgroup v2, or its "unified" mount beside v1 controllers; v1's cpu may be cpu,cpuacct
    mounts = {"": ["", "unified"], "cpu": ["cpu", "cpu,cpuacct"]}.get(controller, [controller])
    paths = [_CGROUP_ROOT / mount / part / name for mount in mounts for part in (relative, "")]
    return [path for path in paths if path.is_file()]


def _read_first(paths: list[Path]) -> str | None:
    for path in paths:
        with contextlib.suppress(OSError):
            return path.read_text().strip()
    return None


def cgroup_cpu_quota() -> float | None:
    """The container's CPU quota in cores (cgroup v2 cpu.max or v1 cfs quota), None if unlimited."""
    text = _read_first(_cgroup_files("", "cpu.max"))
    if text:
        quota, _, period = text.partition(" ")
        return int(quota) / int(period) if quota != "max" and period else None
    quota_text = _read_first(_cgroup_files("cpu", "cpu.cfs_quota_us"))
    period_text = _read_first(_cgroup_files("cpu", "cpu.cfs_period_us"))
    if quota_text and period_text and int(quota_text) > 0:
        return int(quota_text) / int(period_text)
    return None


def usable_cores() -> int:
    """Whole cores a parallel program can really use: affinity, capped by a cgroup quota."""
    quota = cgroup_cpu_quota()
    cores = _affinity_cores()
    return max(1, cores if quota is None else min(cores, math.floor(quota)))


# -- memory ------------------------------------------------------------------------------


def memory_limit_bytes() -> int | None:
    """The container's memory limit in bytes (cgroup v2 memory.max or v1), None if none."""
    for controller, name in (("", "memory.max"), ("memory", "memory.limit_in_bytes")):
        text = _read_first(_cgroup_files(controller, name))
        if text is not None:
            return None if text == "max" or int(text) >= _NO_LIMIT else int(text)
    return None


def cgroup_memory_usage_file() -> Path | None:
    """The file holding the memory charged to this process's cgroup (v2 or v1), if readable."""
    files = _cgroup_files("", "memory.current") + _cgroup_files("memory", "memory.usage_in_bytes")
    return files[0] if files else None


def memory_available_bytes() -> int:
    """Memory a new allocation can take, in bytes: the system's, or less under a container limit.

    Under a limit, what the cgroup is charged now counts as used (it follows allocations exactly).
    """
    available = psutil.virtual_memory().available
    limit = memory_limit_bytes()
    if limit is None:
        return available
    path = cgroup_memory_usage_file()
    used = _read_first([path]) if path else None
    return min(available, limit if used is None else max(0, limit - int(used)))


def memory_budget_bytes() -> int:
    """Bytes one experiment may spend on data: a quarter of what is available now.

    The lessons' data sizes shrink to this on small machines (Binder has about 2 GB), so an
    experiment never swaps the machine or gets killed by the container.
    """
    return int(memory_available_bytes() * BUDGET_SHARE)


def require_size(nbytes: int, *, what: str = "data") -> int:
    """Return nbytes if it fits in the memory budget; raise ValueError saying the budget if not."""
    if not isinstance(nbytes, int) or isinstance(nbytes, bool) or nbytes <= 0:
        raise ValueError(f"{what} size must be a positive number of bytes, got {nbytes!r}")
    budget = memory_budget_bytes()
    if nbytes > budget:
        raise ValueError(
            f"{what} of {nbytes / MiB:.0f} MiB exceeds this machine's memory budget of "
            f"{budget / MiB:.0f} MiB ({BUDGET_SHARE:.0%} of the memory available now); "
            "ask for a smaller size"
        )
    return nbytes


# -- start methods -----------------------------------------------------------------------


def start_methods() -> list[str]:
    """Start methods this platform offers, in multiprocessing's order."""
    return list(multiprocessing.get_all_start_methods())


def default_start_method() -> str:
    """The platform's own default start method (fork on Linux before 3.14, spawn on macOS/Windows)."""
    return multiprocessing.get_context().get_start_method()


def start_method() -> str:
    """The start method the course uses: $HELPERS_START_METHOD if set, else the platform default.

    An unknown value, or one this platform lacks, raises ValueError naming the allowed values.
    """
    wanted = os.environ.get(START_METHOD_VARIABLE, "").strip()
    source = f"${START_METHOD_VARIABLE}"
    return validate_start_method(wanted, source=source) if wanted else default_start_method()


def validate_start_method(name: str, *, source: str = "start method") -> str:
    """Return name if this platform offers it; raise ValueError naming the allowed ones if not."""
    available = start_methods()
    if name not in available:
        known = f" (known methods: {', '.join(KNOWN_START_METHODS)})"
        raise ValueError(
            f"{source}={name!r} is not available here; this platform allows "
            f"{', '.join(available)}{'' if name in KNOWN_START_METHODS else known}"
        )
    return name


def mp_context(method: str | None = None) -> multiprocessing.context.BaseContext:
    """A multiprocessing context with an explicit start method (default: start_method())."""
    chosen = start_method() if method is None else validate_start_method(method)
    return multiprocessing.get_context(chosen)


def require_seconds(value: object, *, what: str, low: float, high: float = math.inf) -> float:
    """Return value as a float if it is a number of seconds from low to high; else ValueError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        span = f"of at least {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
        raise ValueError(f"{what} must be a number of seconds {span}, got {value!r}")
    return float(value)


def require_workers(workers: object, *, what: str = "workers") -> int:
    """Return workers if it is a whole number of at least 1; raise a clear ValueError if not."""
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise ValueError(f"{what} must be a whole number of at least 1, got {workers!r}")
    if workers < 1:
        raise ValueError(f"{what} must be at least 1, got {workers}")
    return workers


# -- interpreter -------------------------------------------------------------------------


def gil_enabled() -> bool:
    """False only on a free-threaded CPython build running without the GIL (PEP 703)."""
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def pss_available() -> bool:
    """Whether PSS (proportional set size) can be read here: Linux with /proc smaps."""
    try:
        return footprint().pss is not None
    except (psutil.Error, AttributeError, OSError):
        return False


# -- the fingerprint ---------------------------------------------------------------------


@dataclass(frozen=True)
class Fingerprint:
    """What this machine offers a parallel program, as read now. Sizes in bytes."""

    python: str
    implementation: str
    platform: str
    cpu: str
    logical_cores: int
    usable_cores: int
    cgroup_cpu_quota: float | None
    memory_total_bytes: int
    memory_limit_bytes: int | None
    memory_available_bytes: int
    memory_budget_bytes: int
    start_method: str
    start_methods: list[str] = field(default_factory=list)
    gil_enabled: bool = True
    pss_available: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    def consequences(self) -> list[str]:
        """What these facts mean for the lessons, in plain sentences."""
        cores = self.usable_cores
        notes = [
            f"{cores} usable core: parallel speed-ups cannot show here; "
            "the lessons show reference results instead."
            if cores < 2
            else f"{cores} usable cores: process pools can run up to {cores} CPU-bound tasks "
            f"at once, so speed-ups up to {cores}x are possible."
        ]
        if self.logical_cores > cores:
            notes.append(
                f"This process may use {cores} of the {self.logical_cores} logical "
                "cores (CPU affinity or a container quota): os.cpu_count() overstates it."
            )
        if self.memory_limit_bytes is not None:
            notes.append(
                f"A container limits memory to {self.memory_limit_bytes / 2**30:.1f} GiB; "
                "experiments size their data to fit under it."
            )
        notes.append(
            f"Experiments use up to {self.memory_budget_bytes / MiB:.0f} MiB for data "
            f"(a quarter of the {self.memory_available_bytes / 2**30:.1f} GiB available)."
        )
        if not self.pss_available:
            notes.append(
                "PSS cannot be measured here (it needs Linux): memory totals use USS, "
                "which leaves out shared pages."
            )
        if self.start_method != "fork":
            notes.append(
                f"Start method {self.start_method}: workers start a fresh interpreter and "
                "rebuild module globals, so copy-on-write sharing of parent data does not apply."
            )
        notes.append(
            "The GIL is enabled: CPU-bound Python threads take turns on one core."
            if self.gil_enabled
            else "The GIL is disabled (free-threaded build): CPU-bound threads can scale."
        )
        return notes

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td style='text-align:left'>{html.escape(_human(k, v))}</td></tr>"
            for k, v in self.to_dict().items()
        )
        notes = "".join(f"<li>{html.escape(n)}</li>" for n in self.consequences())
        return f"<table>{rows}</table><p><b>What this means for the lessons</b></p><ul>{notes}</ul>"

    def __str__(self) -> str:
        width = max(len(k) for k in self.to_dict())
        lines = [f"{k:<{width}}  {_human(k, v)}" for k, v in self.to_dict().items()]
        lines += ["", "What this means for the lessons:"] + [f"- {n}" for n in self.consequences()]
        return "\n".join(lines)


def _human(key: str, value: object) -> str:
    if key.endswith("_bytes"):
        return "none" if value is None else f"{value / 2**30:.2f} GiB"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)


def _cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def fingerprint() -> Fingerprint:
    """Read this machine's facts now (takes a few milliseconds)."""
    return Fingerprint(
        python=platform.python_version(),
        implementation=platform.python_implementation(),
        platform=f"{platform.system()} {platform.release()} {platform.machine()}",
        cpu=_cpu_name(),
        logical_cores=os.cpu_count() or 1,
        usable_cores=usable_cores(),
        cgroup_cpu_quota=cgroup_cpu_quota(),
        memory_total_bytes=psutil.virtual_memory().total,
        memory_limit_bytes=memory_limit_bytes(),
        memory_available_bytes=memory_available_bytes(),
        memory_budget_bytes=memory_budget_bytes(),
        start_method=start_method(),
        start_methods=start_methods(),
        gil_enabled=gil_enabled(),
        pss_available=pss_available(),
    )


SMALL_VARIABLE = "HELPERS_SMALL"
SMALL_BUDGET_BYTES = 512 * MiB


def small_machine() -> bool:
    """True where lessons should shrink their work: $HELPERS_SMALL=1, or a memory budget under 512 MiB.

    The one switch notebooks read (``SMALL = helpers.machine.small_machine()``) to size
    their experiments for Binder-like machines.
    """
    answers = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}
    flag = os.environ.get(SMALL_VARIABLE, "").strip().lower()
    return answers[flag] if flag in answers else memory_budget_bytes() < SMALL_BUDGET_BYTES
