"""Task events: who ran which task when, recorded inside workers and threads.

Introduced in 01_process_pool.ipynb (the timeline charts). A workload decorated with
``@recorded`` (or a block inside ``with task("name"):``) writes one line per task to a
folder that ``helpers.measure()`` opens for its block. Workers find that folder by walking
up their parent processes, not the environment, so events arrive under forkserver too.
Outside a measurement, recording costs one directory lookup and writes nothing.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TypeVar

import psutil

F = TypeVar("F", bound=Callable)


@dataclass(frozen=True)
class TaskEvent:
    """One task's run. start and end are time.perf_counter() seconds; cpu is the thread's CPU seconds."""

    task: str
    pid: int
    thread: str
    start: float
    end: float
    cpu: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def _registry() -> str:
    """One folder per user that holds a sub-folder per active measurement, named by its pid."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    return os.path.join(tempfile.gettempdir(), f"helpers-events-{user}")


def events_dir_for(pid: int) -> Path:
    """The folder where a measurement taken in process pid collects task events."""
    return Path(_registry()) / str(pid)


_lineage: tuple[int, tuple[int, ...]] | None = None  # (pid, [pid, ppid, ...]) cached per process
_found: tuple[tuple, str | None] | None = None  # (registry state, folder) of the last lookup
_open_files: dict[Path, tuple[tuple | None, int]] = {}  # folder -> (registry state, fd)
_lock = threading.Lock()


def _this_process_and_ancestors() -> tuple[int, ...]:
    global _lineage
    pid = os.getpid()
    if _lineage is None or _lineage[0] != pid:  # recompute after a fork
        try:
            chain = (pid, *(p.pid for p in psutil.Process(pid).parents()))
        except psutil.Error:
            chain = (pid, os.getppid())
        _lineage = (pid, chain)
    return _lineage[1]


def _active_dir() -> Path | None:
    """The folder of the measurement this process runs under, if any.

    Called once per task, so it must be cheap: one stat of the registry folder, whose
    modification time and link count change whenever a measurement starts or ends; the
    ancestors are searched again only then.
    """
    global _found
    registry = _registry()
    try:
        st = os.stat(registry)
    except OSError:
        return None
    state = (os.getpid(), st.st_mtime_ns, st.st_nlink, st.st_ino)
    if _found is None or _found[0] != state:
        candidates = (os.path.join(registry, str(pid)) for pid in _this_process_and_ancestors())
        _found = (state, next((c for c in candidates if os.path.isdir(c)), None))
    return None if _found[1] is None else Path(_found[1])


def emit(event: TaskEvent) -> None:
    """Write one event where the enclosing measurement collects them (nothing if there is none)."""
    folder = _active_dir()
    if folder is None:
        return
    line = (json.dumps(asdict(event)) + "\n").encode()
    state = _found[0] if _found else None
    with _lock:
        opened = _open_files.get(folder)
        if opened is not None and opened[0] != state:  # a new measurement reuses the folder name
            os.close(opened[1])
            opened = None
        if opened is None:
            path = folder / f"{os.getpid()}.jsonl"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            except OSError:  # the measurement ended between the lookup and the open
                return
            opened = _open_files[folder] = (state, fd)
        os.write(opened[1], line)  # one small O_APPEND write: atomic between threads and processes


def close_files(folder: Path) -> None:
    """Close this process's open event file for folder (the measurement calls this at its end)."""
    with _lock:
        opened = _open_files.pop(folder, None)
    if opened is not None:
        os.close(opened[1])


@contextmanager
def task(name: str) -> Iterator[None]:
    """Record the enclosed block as one task event named name."""
    start, cpu0 = time.perf_counter(), time.thread_time()
    try:
        yield
    finally:
        end, cpu1 = time.perf_counter(), time.thread_time()
        emit(TaskEvent(name, os.getpid(), threading.current_thread().name, start, end, cpu1 - cpu0))


def recorded(func: F) -> F:
    """Decorate a module-level workload so each call is recorded as a task event.

    The wrapper keeps the function's name, so it stays picklable for process pools.
    """

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with task(func.__name__):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def read_events(folder: Path) -> list[TaskEvent]:
    """All events written to folder, sorted by start time."""
    events = []
    for path in folder.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            try:
                events.append(TaskEvent(**json.loads(line)))
            except (ValueError, TypeError):
                continue  # an empty line, or one cut short by a worker killed mid-write
    return sorted(events, key=lambda e: e.start)


def cpu_inside(events: list[TaskEvent], name: str, start: float, end: float) -> float:
    """CPU seconds that tasks called name spent between start and end (perf_counter seconds).

    A task that straddles a boundary counts in proportion to its part inside. Divided by
    (end - start), this is the cores the tasks kept busy: unlike their durations, their CPU
    time does not count two tasks taking turns on one core as two cores. Lesson 01, section 5.
    """
    return sum(
        e.cpu * (min(e.end, end) - max(e.start, start)) / e.duration
        for e in events
        if e.task == name and e.end > start and e.start < end and e.duration > 0
    )
