"""A shared-memory segment's life: who creates, closes and unlinks it, and what is left over.

Introduced in 05_sharing_memory.ipynb. Each scenario runs in fresh Python processes, so the
resource tracker's warnings (printed when a process exits) can be read here without ever
touching the notebook's own tracker. Every segment is named psm_h<our pid>_..., so
leftovers() can tell whether anything of ours is still in /dev/shm.

The rules the scenarios show (POSIX; Windows frees a segment with its last handle):
- close() in every process that opened it; unlink() once, by the owner, when all are done;
- before Python 3.13, *attaching* registers the segment with the attaching process's
  resource tracker, which unlinks it when that process exits: fine for pool workers (they
  share their parent's tracker), a premature unlink for an unrelated process. Python 3.13
  adds SharedMemory(name, track=False); before it, unregister right after attaching.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing import shared_memory
from pathlib import Path

import psutil

from ...machine import start_method
from ...processes import helpers_env
from ...results import Result
from ...servers.redis import folders_of, servers_of
from . import charts
from .local import memmap_folders_of, segment_name, segments_of

TIMEOUT = 60.0  # seconds for one scenario's processes

# -- the scripts each scenario runs in a fresh interpreter (stdlib only, but for one import) --

_DONE_RIGHT = """
import sys
from multiprocessing import get_context, shared_memory
from helpers.lessons.sharing.lifecycle import attach_and_read

name, method = sys.argv[1], sys.argv[2]
shm = shared_memory.SharedMemory(name, create=True, size=4096)  # the owner creates it
shm.buf[0] = 42
with get_context(method).Pool(1) as pool:            # a worker attaches, reads, closes
    print("worker read", pool.apply(attach_and_read, (name,)), flush=True)
shm.close()                                           # the owner closes its view...
shm.unlink()                                          # ...and removes the segment, once
"""

_FORGETS_UNLINK = """
import sys
from multiprocessing import shared_memory

shm = shared_memory.SharedMemory(sys.argv[1], create=True, size=4096)
shm.buf[0] = 42
shm.close()  # closed, but never unlinked
"""

_OWNER_WAITS = """
import sys
from contextlib import suppress
from multiprocessing import shared_memory

name = sys.argv[1]
shm = shared_memory.SharedMemory(name, create=True, size=4096)
shm.buf[0] = 42
print("ready", flush=True)
sys.stdin.readline()  # meanwhile, another program attaches and exits
try:
    shared_memory.SharedMemory(name).close()
    print("still there", flush=True)
except FileNotFoundError:
    print("gone", flush=True)
shm.close()
with suppress(FileNotFoundError):
    shm.unlink()
"""

_OTHER_PROGRAM_ATTACHES = """
import sys
from multiprocessing import resource_tracker, shared_memory

if sys.argv[2] == "defaults":
    shm = shared_memory.SharedMemory(sys.argv[1])
elif sys.version_info >= (3, 13):
    shm = shared_memory.SharedMemory(sys.argv[1], track=False)
else:  # before 3.13: attach, then take the segment back off this process's tracker
    shm = shared_memory.SharedMemory(sys.argv[1])
    resource_tracker.unregister(shm._name, "shared_memory")
print("read", shm.buf[0], flush=True)
shm.close()
"""

_CLOSE_WITH_AN_ARRAY = """
import sys
import numpy as np
from multiprocessing import shared_memory

shm = shared_memory.SharedMemory(sys.argv[1], create=True, size=4096)
shm.unlink()  # the name goes now; the memory stays until the last mapping ends
if sys.argv[2] == "frombuffer":
    array = np.frombuffer(shm.buf, dtype=np.int64)
else:
    array = np.ndarray((512,), dtype=np.int64, buffer=shm.buf)
array[0] = 42
try:
    shm.close()
    print("close(): no error", flush=True)
except BufferError as exc:
    print(f"close(): BufferError: {exc}", flush=True)
print("reading the array after close():", array[0], flush=True)
del array  # the right order: drop every array over the buffer, then close
shm.close()
print("del array, then close(): fine", flush=True)
"""


def attach_and_read(name: str) -> int:
    """Worker: attach to segment name, read its first byte, close (never unlink: not ours)."""
    shm = shared_memory.SharedMemory(name)
    try:
        return int(shm.buf[0])
    finally:
        shm.close()


def _python(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True,
                          timeout=TIMEOUT, env=helpers_env())


def _warnings(*stderrs: str) -> list[str]:
    """The resource tracker's warnings in stderr, without file paths and line numbers."""
    found = (
        line.split("UserWarning: ", 1)[1].strip()
        for text in stderrs
        for line in text.splitlines()
        if "UserWarning: resource_tracker" in line
    )
    return list(dict.fromkeys(found))  # each warning once, in order


def _on_new_segment(script: str, *args: str) -> tuple[subprocess.CompletedProcess, bool]:
    """Run script on a new segment name; return the run and whether the segment was left."""
    name = segment_name()
    try:
        run = _python(script, name, *args)
        return run, segment_exists(name)
    finally:
        remove_segment(name)


def segment_exists(name: str) -> bool:
    """Whether segment name exists now, looked up without taking any part in its life."""
    if Path("/dev/shm").is_dir():  # Linux lists segments as files
        return (Path("/dev/shm") / name).exists()
    return _python(_OTHER_PROGRAM_ATTACHES, name, "untracked").returncode == 0


def remove_segment(name: str) -> None:
    """Unlink segment name if it still exists (attach, then unlink: the tracker stays balanced)."""
    try:
        shm = shared_memory.SharedMemory(name)
    except FileNotFoundError:
        return
    shm.close()
    shm.unlink()


def _row(scenario: str, code: str, left: bool, warnings: list[str], outcome: str) -> dict:
    return {
        "scenario": scenario,
        "what the code does": code,
        "segment left afterwards": "yes" if left else "no",
        "resource-tracker warnings": " | ".join(warnings) if warnings else "none",
        "outcome": outcome,
    }


def _done_right(method: str) -> dict:
    run, left = _on_new_segment(_DONE_RIGHT, method)
    warnings = _warnings(run.stderr)
    read = run.stdout.strip().rsplit(" ", 1)[-1] if run.returncode == 0 else "nothing (it failed)"
    return _row(
        "done right",
        f"owner creates; a {method} pool worker attaches, reads, closes; owner closes, then unlinks",
        left,
        warnings,
        f"the worker read {read}; {'nothing was left' if not left else 'the segment was LEFT'}"
        + (", no warning" if not warnings else f", {len(warnings)} warning(s)"),
    )


def _forgets_unlink() -> dict:
    run, left = _on_new_segment(_FORGETS_UNLINK)
    warnings = _warnings(run.stderr)
    cleaned = "the resource tracker removed it when the program exited" if not left else "it stayed"
    return _row(
        "owner forgets unlink()",
        "a program creates a segment, closes it, exits without unlink()",
        left,
        warnings,
        f"{cleaned}{', and warned' if warnings else ''}: a leak that only the tracker saved",
    )


def _other_program(untracked: bool) -> dict:
    name = segment_name()
    pipe = subprocess.PIPE
    owner = subprocess.Popen([sys.executable, "-c", _OWNER_WAITS, name], stdin=pipe, stdout=pipe,
                             stderr=pipe, text=True, env=helpers_env())
    try:
        if owner.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the owner program failed: {owner.communicate(timeout=TIMEOUT)[1]}")
        other = _python(_OTHER_PROGRAM_ATTACHES, name, "untracked" if untracked else "defaults")
        out, err = owner.communicate("go\n", timeout=TIMEOUT)
        left = segment_exists(name)
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        remove_segment(name)
    warnings = _warnings(other.stderr, err)
    how = "track=False" if sys.version_info >= (3, 13) else "resource_tracker.unregister()"
    if "still there" in out:
        outcome = "the owner still had its segment"
    else:
        outcome = "the OTHER program's tracker unlinked the segment under the owner"
    return _row(
        "another program attaches" + (f", with {how}" if untracked else ""),
        f"owner creates and waits; a separate program attaches ({how if untracked else 'defaults'})"
        ", reads, closes, exits; owner unlinks",
        left,
        warnings,
        outcome + (f"; {len(warnings)} warning(s)" if warnings else "; no warning"),
    )


def _close_with_an_array(how: str) -> dict:
    run, left = _on_new_segment(_CLOSE_WITH_AN_ARRAY, how)
    said = [line for line in run.stdout.splitlines() if line]
    if run.returncode < 0:
        crash = f"the program CRASHED ({signal.Signals(-run.returncode).name})"
        said.append(f"{crash}: close() had unmapped the memory under the array")
    code = "np.frombuffer(shm.buf)" if how == "frombuffer" else "np.ndarray(..., buffer=shm.buf)"
    return _row(
        f"close() while {code} uses it",
        f"owner makes {code}, calls close(), reads the array; then del array and close()",
        left,
        _warnings(run.stderr),
        "; ".join(said),
    )


def scenarios() -> list[dict]:
    """Run every life-cycle scenario; one row each: what was done, what was left, warnings."""
    if sys.platform == "win32":
        why = "Windows frees a segment when its last handle closes: no tracker, no unlink"
        return [_row("Windows", "any", False, [], why)]
    return [
        _done_right(start_method()),
        _forgets_unlink(),
        _other_program(untracked=False),
        _other_program(untracked=True),
        _close_with_an_array("frombuffer"),
        _close_with_an_array("ndarray"),
    ]


@dataclass
class LifeCycleResult(Result):
    """What happened to a shared-memory segment in each scenario."""

    def plot(self):
        return charts.message(self.title, "This experiment is a table: it has no chart.")


def shm_life_cycle() -> LifeCycleResult:
    """Run each life-cycle scenario (in fresh processes) and say what was left. Lesson 05, section 5."""
    rows = scenarios()
    return LifeCycleResult(
        title="A shared-memory segment's life: who closes, who unlinks", params={}, rows=rows,
        findings=[f"{r['scenario']}: {r['outcome']}" for r in rows],
    )


# -- what is left behind ----------------------------------------------------------------------


def _is_kept_helper(proc: psutil.Process) -> bool:
    """multiprocessing's resource tracker and forkserver, and helpers' sampler, are not leaks."""
    try:
        cmdline = " ".join(proc.cmdline())
        return proc.status() == psutil.STATUS_ZOMBIE or any(
            word in cmdline for word in ("resource_tracker", "forkserver", "helpers._sampler")
        )
    except psutil.Error:
        return True


def leftovers(pid: int | None = None) -> dict[str, list]:
    """What helpers.lessons.sharing.stores left behind for process pid (default: this one), by kind.

    Shared-memory segments in /dev/shm, Redis servers, temporary folders (Redis, memmap), and,
    for this process, child processes such as a Manager's server.
    """
    pid = os.getpid() if pid is None else pid
    found: dict[str, list] = {
        "shared-memory segments": segments_of(pid),
        "Redis servers": [p.pid for p in servers_of(pid)],
        "temporary folders": [str(p) for p in folders_of(pid) + memmap_folders_of(pid)],
    }
    if pid == os.getpid():
        found["child processes"] = [
            f"{p.pid} {p.name()}"
            for p in psutil.Process().children(recursive=True)
            if not _is_kept_helper(p)
        ]
    return found


def nothing_left(pid: int | None = None) -> bool:
    """True when leftovers(pid) found nothing of any kind."""
    return not any(leftovers(pid).values())


def report_leftovers(pid: int | None = None) -> str:
    """One line for a notebook: nothing left, or what is left and of which kind."""
    found = {kind: items for kind, items in leftovers(pid).items() if items}
    if not found:
        return (
            "Nothing left behind: no shared-memory segment, no Redis server, "
            "no temporary folder, no child process."
        )
    return "LEFT BEHIND: " + "; ".join(f"{kind}: {items}" for kind, items in found.items())
