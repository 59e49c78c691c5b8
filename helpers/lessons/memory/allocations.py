"""memray beside the course's USS: copy-on-read is not an allocation.

Introduced in 04_memory_duplication.ipynb, section 6 (issue 15). An allocation profiler
records every malloc and Python allocation. It sees the list of distinct ints being built
in the parent; it cannot see a forked worker's pages being copied when reading writes
reference counts, because no allocation happens: the kernel copies a page on the first
write. The course's USS growth per worker sees exactly those copies.

    write main.py (a list of distinct ints, fork workers that read it and report their USS
    growth) to a temp folder  ->  python -m memray run --follow-fork -o run.bin main.py
    ->  one capture file per process  ->  memray's peak and total per file  ->  side by side
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ...machine import require_size, start_methods
from ...processes import helpers_env
from ...results import Result
from ...units import MiB

SCRIPT = '''\
import json
import multiprocessing
import os
import time

data = list(range(1000, 1000 + {items}))  # distinct ints, built in the parent


def worker(task):
    """Runs in each worker: read every item; report how far its private memory grew."""
    from helpers.pages import private_bytes

    start = private_bytes()
    for item in data:
        pass
    grown = private_bytes() - start
    time.sleep(0.3)  # stay alive while the others read
    return os.getpid(), grown


if __name__ == "__main__":
    with multiprocessing.get_context("fork").Pool({workers}) as pool:
        print(json.dumps(pool.map(worker, range({workers}), chunksize=1)))
        pool.close()
        pool.join()
'''


def memray_reason() -> str:
    """'' where memray can run here; otherwise why not."""
    if importlib.util.find_spec("memray") is None:
        return "memray is not installed in this Python (pip install memray; no Windows wheels)"
    if "fork" not in start_methods():
        return "--follow-fork needs the fork start method, which this platform lacks"
    return ""


def memray_stats(capture: Path) -> dict:
    """memray's summary of one capture file: its pid, peak memory and bytes allocated.

    What `memray stats` prints ("peak memory", "total memory allocated"), read in this
    process: a `memray stats` command per file costs seconds of start-up each.
    """
    from memray import AllocatorType, FileReader

    frees = {AllocatorType.FREE, AllocatorType.MUNMAP}
    with FileReader(capture) as reader:
        allocated = sum(r.size for r in reader.get_allocation_records() if r.allocator not in frees)
        meta = reader.metadata
        return {"pid": meta.pid, "peak": meta.peak_memory, "allocated": allocated}


def run_under_memray(workers: int, items: int, timeout: float) -> tuple[list, list[dict]]:
    """Run the script under memray in a temp folder (removed after): (USS report, stats)."""
    with tempfile.TemporaryDirectory(prefix="course-memray-") as folder:
        Path(folder, "main.py").write_text(SCRIPT.format(items=items, workers=workers))
        command = [sys.executable, "-m", "memray", "run", "--follow-fork", "-q", "-o", "run.bin"]
        done = subprocess.run(
            [*command, "main.py"], cwd=folder, env=helpers_env(),
            capture_output=True, text=True, timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"memray run failed:\n{done.stderr.strip()[-2000:]}")
        growth = json.loads(done.stdout.strip().splitlines()[-1])
        captures = [p for p in sorted(Path(folder).glob("run.bin*")) if p.suffix != ".json"]
        stats = [memray_stats(p) for p in captures]
    return growth, stats


def memray_vs_uss(workers: int = 2, items: int = 1_000_000, timeout: float = 120.0) -> Result:
    """memray's allocations per process beside each worker's USS growth, same script.

    items: distinct ints in the parent's list (about 40 MB per million on 64-bit CPython).
    Where memray cannot run, the result says why instead of failing. Lesson 04, section 6.
    """
    title = f"memray vs USS: {workers} fork workers read {items:,} distinct ints"
    if reason := memray_reason():
        return Result(title=title, params={"workers": workers}, findings=[f"Skipped: {reason}."])
    require_size(items * 40 * (workers + 1), what=f"{workers + 1} copies of {items:,} ints")
    growth, stats = run_under_memray(workers, items, timeout)
    grown = {pid: nbytes / MiB for pid, nbytes in growth}
    rows = [
        {
            "process": "worker" if s["pid"] in grown else "parent",
            "pid": s["pid"],
            "memray: peak memory (MiB)": s["peak"] / MiB,
            "memray: allocated in all (MiB)": s["allocated"] / MiB,
            "course: USS growth while reading (MiB)": grown.get(s["pid"]),
        }
        for s in stats
    ]
    rows.sort(key=lambda r: r["process"] != "parent")
    params = {"workers": workers, "items": items}
    return Result(title=title, params=params, rows=rows, findings=memray_findings(rows))


def memray_findings(rows: list[dict]) -> list[str]:
    """Sentences from the side-by-side rows."""
    parent = [r for r in rows if r["process"] == "parent"]
    workers = [r for r in rows if r["process"] == "worker"]
    if not parent or not workers:
        return ["memray wrote no capture for some processes; nothing to compare."]
    peak = max(r["memray: peak memory (MiB)"] for r in workers)
    uss = [r["course: USS growth while reading (MiB)"] or 0 for r in workers]
    return [
        f"memray saw the parent's peak at {parent[0]['memray: peak memory (MiB)']:.1f} MiB: "
        "building the list is an allocation.",
        f"In each worker memray's peak stayed at {peak:.1f} MiB or less, while the worker's "
        f"private memory grew by {min(uss):.1f}-{max(uss):.1f} MiB: reading wrote reference "
        "counts and the kernel copied the pages, which no allocator call ever asked for.",
    ]
