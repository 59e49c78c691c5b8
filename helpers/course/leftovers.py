"""What a run of the course left behind: shared memory, temporary folders, processes.

Introduced in 00_start_here.ipynb; the notebook run of ``make test`` uses it to prove that
every lesson cleans up (notebooks/conftest.py). ``Snapshot.take()`` before, ``take()``
after, ``after.left_since(before)`` names what appeared and is still there:

- /dev/shm: every new entry (semaphores ``sem.mp-*``, segments ``psm_*``, anything else);
- the system temp folder: new entries of the course or the libraries it drives
  (TEMP_PATTERNS: helpers.scratch and the events registry, multiprocessing, dask);
- processes: new ones still running that run this Python environment or a redis-server,
  outside the caller's own ancestry.

Trap: a process killed with its group (as nbval kills a kernel) cannot clean up after
itself, so anything it still held at that moment shows here.
"""

from __future__ import annotations

import fnmatch
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ..processes import is_multiprocessing_helper

try:
    import pytest
except ImportError:  # a learner's install without the test extra: the course runs without it
    pytest = None
# pytest's stash key under which notebooks/conftest.py keeps the snapshot taken before the run
BEFORE_NOTEBOOKS = pytest.StashKey["Snapshot"]() if pytest else None

TEMP_PATTERNS = ("helpers-*", "pymp-*", "dask-scratch-space", "dask-worker-space")
SHM = Path("/dev/shm")


def _listing(folder: Path, patterns: tuple[str, ...] | None = None) -> frozenset[str]:
    try:
        names = os.listdir(folder)
    except OSError:
        return frozenset()
    return frozenset(
        n for n in names if patterns is None or any(fnmatch.fnmatch(n, p) for p in patterns)
    )


def _ours(proc: psutil.Process) -> bool:
    """A process of this course: it runs this environment's Python, or a redis-server."""
    try:
        cmdline = " ".join(proc.cmdline())
        exe = proc.exe()
    except psutil.Error:
        return False
    return sys.prefix in exe or sys.prefix in cmdline or "redis-server" in cmdline


@dataclass(frozen=True)
class Snapshot:
    """The entries and processes present at one moment."""

    shm: frozenset[str]
    temp: frozenset[str]
    processes: frozenset[tuple[int, float]]  # (pid, create_time)
    taken: float = field(default_factory=time.time)

    @classmethod
    def take(cls) -> Snapshot:
        processes = frozenset(
            (proc.info["pid"], proc.info["create_time"])
            for proc in psutil.process_iter(["pid", "create_time"])
        )
        return cls(_listing(SHM), _listing(Path(tempfile.gettempdir()), TEMP_PATTERNS), processes)

    def left_since(self, before: Snapshot) -> list[str]:
        """What is here now that was not there before, one line each (empty: nothing left)."""
        found = [f"/dev/shm/{name}" for name in sorted(self.shm - before.shm)]
        temp = Path(tempfile.gettempdir())
        found += [str(temp / name) for name in sorted(self.temp - before.temp)]
        mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
        for pid, _ in sorted(self.processes - before.processes):
            if pid in mine:
                continue
            try:
                proc = psutil.Process(pid)
                if proc.status() == psutil.STATUS_ZOMBIE or not _ours(proc):
                    continue
                if proc.ppid() == os.getpid() and is_multiprocessing_helper(proc):
                    continue  # the checking process's own resource tracker, there on purpose
                found.append(f"process {pid}: {' '.join(proc.cmdline())[:160]}")
            except psutil.Error:
                continue
        return found


def left_since(before: Snapshot, *, settle: float = 10.0) -> list[str]:
    """What appeared since before and is still there after waiting up to settle seconds (the
    wait lets orphaned workers notice their parent is gone and exit)."""
    deadline = time.monotonic() + settle
    while True:
        found = Snapshot.take().left_since(before)
        if not found or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)
