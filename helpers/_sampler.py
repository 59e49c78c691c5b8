"""The sampler process behind helpers.measure(): watches a process tree from outside.

Run as ``python -m helpers._sampler ROOT_PID INTERVAL [--memory-profiler]``. A plain
subprocess, not a multiprocessing child, so it works whatever the start method and whatever
``__main__`` is (a notebook, a script, code piped on standard input).

Protocol, one JSON document per line on stdout:
    sampler -> caller   {"ready": true}                after the baseline sample
    caller  -> sampler  "stop" on stdin (or stdin closes: the caller died)
    sampler -> caller   {"ticks": [...], "processes": {...}, "sampler_cpu": s}

Timestamps are time.perf_counter(), a system-wide monotonic clock on Linux, macOS and
Windows, so they line up with the caller's own perf_counter() readings.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from pathlib import Path

import psutil

from helpers.footprint import footprint
from helpers.machine import cgroup_memory_usage_file
from helpers.processes import is_multiprocessing_helper


def _describe(proc: psutil.Process, root: int) -> dict:
    """Name, parent and command line, and the role: caller, server, helper or worker."""
    try:
        name, ppid = proc.name(), proc.ppid()
        cmdline = " ".join(proc.cmdline())
    except psutil.Error:
        name, ppid, cmdline = "?", None, ""
    if proc.pid == root:
        role = "caller"
    elif "redis-server" in name or "helpers.servers" in cmdline or "redis-server" in cmdline:
        role = "server"
    else:
        role = "helper" if is_multiprocessing_helper(proc) else "worker"
    return {"role": role, "name": name, "ppid": ppid, "cmdline": cmdline[:200]}


def _memory_profiler_reading(root: int) -> list | None:
    """What memory_profiler reports for root now, in MiB: [include_children total, {pid: MiB}].

    These are the per-tick functions behind memory_profiler.memory_usage(include_children=True)
    and its multiprocess=True mode (mprof run --multiprocess): both add up RSS, and both count
    every descendant, the monitoring process included (memory_profiler's own MemTimer child
    when it is used on a function; this sampler here).
    """
    import memory_profiler

    try:
        total = memory_profiler._get_memory(root, "psutil", include_children=True)
        children = {pid: mib for pid, mib in memory_profiler._get_child_memory(root) if pid}
    except psutil.Error:
        return None
    return [total, children]


class Sampler:
    def __init__(self, root: int, memory_profiler: bool = False) -> None:
        self.me = os.getpid()
        self.root = root
        self.memory_profiler = memory_profiler
        self.tracked: dict[int, psutil.Process] = {}
        self.processes: dict[int, dict] = {}
        self.ticks: list[list] = []
        self.charge_file = cgroup_memory_usage_file()  # found once: the cgroup does not change
        self.fast_children = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").exists()
        psutil.cpu_percent(percpu=True)  # the first call returns a meaningless 0.0: prime it

    def _charged(self) -> int | None:
        if self.charge_file is not None:
            with contextlib.suppress(OSError, ValueError):
                return int(self.charge_file.read_text())
        return None

    def _descendants(self, pid: int) -> list[int]:
        """Pids below pid, from Linux's per-thread children lists: no scan of every process."""
        found, stack = [], [pid]
        while stack:
            parent = stack.pop()
            try:
                tasks = os.listdir(f"/proc/{parent}/task")
            except OSError:
                continue
            for tid in tasks:
                try:
                    with open(f"/proc/{parent}/task/{tid}/children") as f:
                        kids = [int(k) for k in f.read().split()]
                except (OSError, ValueError):
                    continue
                found += kids
                stack += kids
        return found

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.root)
            if self.fast_children:
                procs = [root]
                for pid in self._descendants(self.root):
                    with contextlib.suppress(psutil.Error):  # it ended since it was listed
                        procs.append(psutil.Process(pid))
            else:
                procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        alive = []
        for proc in procs:
            if proc.pid == self.me:
                continue
            try:
                known = self.tracked.get(proc.pid)
                if known is None or known.create_time() != proc.create_time():
                    known = proc
                    proc.cpu_percent(None)  # prime: the first reading is meaningless
                    self.processes[proc.pid] = _describe(proc, self.root)
                    self.tracked[proc.pid] = proc
            except psutil.Error:  # it ended between the listing and now
                continue
            alive.append(known)
        return alive

    def sample(self) -> None:
        t = time.perf_counter()
        rows = []
        for proc in self._tree():
            try:
                with proc.oneshot():
                    if proc.status() == psutil.STATUS_ZOMBIE:  # ended, not reaped: no memory
                        continue
                    rss, uss, pss = footprint(proc)
                    cpu = proc.cpu_percent(None)
                    times = proc.cpu_times()
                rows.append([proc.pid, rss, uss, pss, cpu, times.user + times.system])
            except psutil.Error:  # the process ended mid-sample: skip it this tick
                continue
        available = psutil.virtual_memory().available
        charged = self._charged()
        cores = psutil.cpu_percent(percpu=True)
        mp_reading = _memory_profiler_reading(self.root) if self.memory_profiler else None
        self.ticks.append([t, available, cores, rows, charged, mp_reading])


def main(argv: list[str]) -> int:
    root, interval = int(argv[0]), float(argv[1])
    with_memory_profiler = "--memory-profiler" in argv[2:]
    # No wake-up preemption: on a busy core the sampler waits for the running task's
    # time slice to end instead of interrupting it 20 times a second (Linux only).
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    with contextlib.suppress(AttributeError, OSError):
        os.nice(5)  # and a smaller share when the measured work wants the core too
    sampler = Sampler(root, memory_profiler=with_memory_profiler)
    stop = threading.Event()

    def wait_for_stop() -> None:
        sys.stdin.readline()  # "stop", or "" when the caller died and the pipe closed
        stop.set()

    threading.Thread(target=wait_for_stop, daemon=True).start()
    sampler.sample()  # the baseline, taken before the block starts
    print(json.dumps({"ready": True}), flush=True)
    next_tick = time.perf_counter() + interval
    while not stop.wait(max(0.0, next_tick - time.perf_counter())):
        sampler.sample()
        next_tick += interval
        if next_tick < time.perf_counter():  # fell behind: skip ticks rather than burst
            next_tick = time.perf_counter() + interval
        if not psutil.pid_exists(root):
            break
    sampler.sample()  # the closing sample, just after the block
    cpu = psutil.Process().cpu_times()
    report = {"ticks": sampler.ticks, "processes": sampler.processes}
    print(json.dumps({**report, "sampler_cpu": cpu.user + cpu.system}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
