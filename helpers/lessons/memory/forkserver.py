"""forkserver and a script's module-level global: rebuilt in every worker, or built once?

Introduced in 04_memory_duplication.ipynb, section 5 (claim C6), and used by lesson 07's
check. The fork server is meant to import the main script once (``'__main__'`` is in its default
preload list), so that its workers share the script's module-level globals. From 2013 until
gh-126631 it never did (it asked spawn's preparation data for a key no longer there), so
every worker ran the script again. Fixed in 3.13.8 and 3.14.1 (gh-141859: "up until bug fix
PR GH-135295 in 3.14.1 and 3.13.8, the ``__main__`` module was never actually preloaded").
``set_forkserver_preload([module])`` with the data in an importable module shares it on
every version.

    run_script(preload)  writes main.py (and bigdata.py) to a temp folder, runs
        python main.py  ->  fork server  ->  N workers, each: which process built `data`,
                                             and the share of its pages it holds alone
        main.py prints PSS per process (the server included) as JSON; the folder is removed
    forkserver_main()    both runs side by side: a ForkserverResult (table, findings, chart)

Trap: a preload that fails to import is skipped without a word (before 3.15), so a typo
in the module name silently brings the copies back: measure, do not assume.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ...machine import memory_budget_bytes, require_size, start_methods
from ...processes import helpers_env
from ...results import Result
from ...units import MiB

FIXED_IN = ((3, 13, 8), (3, 14, 1))  # the first releases whose server imports the script

MAIN = '''\
import multiprocessing
import os

{data_lines}


def worker(task):
    """Runs in each worker: which process built `data`, and how much of it this one holds alone."""
    from helpers.lessons.memory.forkserver import worker_view

    return worker_view(data, built_in)


if __name__ == "__main__":
    ctx = multiprocessing.get_context("forkserver")
    {preload_line}
    with ctx.Pool({workers}) as pool:
        views = pool.map(worker, range({workers}), chunksize=1)
        from helpers.lessons.memory.forkserver import report

        report(views)  # PSS per process, the fork server included, printed as JSON
        pool.close()
        pool.join()
'''
GLOBAL_HERE = '''\
data = bytes(range(256)) * {blocks}  # a module-level global of {size_mb:g} MiB
built_in = os.getpid()  # the process that ran this line'''
GLOBAL_IMPORTED = "from bigdata import built_in, data  # the data lives in an importable module"
PRELOAD = 'ctx.set_forkserver_preload(["bigdata"])  # the server imports it once, before forking'


def expected_behaviour(version: tuple = tuple(sys.version_info[:3])) -> str:
    """'rebuilds' where forkserver workers run the script again, 'shares' where it is fixed."""
    minor = tuple(version[:2])
    fixed = (minor == (3, 13) and tuple(version) >= FIXED_IN[0]) or tuple(version) >= FIXED_IN[1]
    return "shares" if fixed else "rebuilds"


def version_sentence(version: tuple = tuple(sys.version_info[:3])) -> str:
    """The course's sentence about a script's globals under forkserver, for this version."""
    where = ".".join(map(str, version))
    if expected_behaviour(version) == "rebuilds":
        return (
            f"On Python {where} the fork server never imports your script (gh-126631, fixed "
            "in 3.13.8 and 3.14.1): every forkserver worker runs it again and rebuilds its "
            "module-level globals, one copy per worker."
        )
    return (
        f"On Python {where} the fork server imports your script once (gh-126631 is fixed "
        "here): workers forked from it share the script's module-level globals, and the "
        "server holds the one copy."
    )


def script_text(preload: bool, workers: int, size_mb: float) -> dict[str, str]:
    """The files run_script() writes: {'main.py': ..., and 'bigdata.py' with preload}."""
    here = GLOBAL_HERE.format(blocks=int(size_mb * MiB) // 256, size_mb=size_mb)
    files = {
        "main.py": MAIN.format(
            data_lines=GLOBAL_IMPORTED if preload else here,
            preload_line=PRELOAD if preload else "# no set_forkserver_preload(): the default",
            workers=workers,
        )
    }
    if preload:
        files["bigdata.py"] = f"import os\n\n{here}\n"  # the same global, in a module
    return files


def worker_view(data: bytes, built_in: int) -> dict:
    """Runs in each worker. Who built `data`, and the share of its pages this worker holds alone.

    From the kernel's pagemap (Linux): 1.0 a private copy, 0.0 all shared. Elsewhere None,
    and copies_per_worker() falls back on private memory (USS) against the data's size.
    """
    import numpy as np

    from ...pages import PAGE_SIZE, exclusive_pages, private_bytes

    start = id(data) + sys.getsizeof(b"") - 1  # where a bytes object's buffer begins
    pages = np.arange(-(-start // PAGE_SIZE), (start + len(data)) // PAGE_SIZE)
    alone = exclusive_pages(pages)
    return {
        "pid": os.getpid(),
        "built_here": built_in == os.getpid(),
        "alone": None if alone is None or not len(alone) else float(alone.mean()),
        "private": private_bytes(),
        "data_bytes": len(data),
    }


def report(views: list[dict]) -> None:
    """In the script's main process: print each process's memory and the workers' views as JSON."""
    import psutil

    from ...footprint import footprint
    from ...processes import is_multiprocessing_helper

    me = psutil.Process()
    rows = []
    for proc in [me, *me.children(recursive=True)]:
        try:
            f = footprint(proc)
            cmdline = " ".join(proc.cmdline())
        except psutil.Error:
            continue
        if proc.pid == me.pid:
            role = "main script"
        elif is_multiprocessing_helper(proc):
            role = "fork server" if "forkserver" in cmdline else "resource tracker"
        else:
            role = "worker"
        rows.append({"pid": proc.pid, "role": role, "rss": f.rss, "uss": f.uss, "pss": f.pss})
    print(json.dumps({"views": views, "processes": rows}))


def run_script(preload: bool, workers: int = 2, size_mb: float = 64, timeout: float = 60.0) -> dict:
    """Run the forkserver script once in a temp folder (removed after); its JSON report.

    Raises RuntimeError with the script's error output if it fails."""
    if "forkserver" not in start_methods():
        raise RuntimeError("this platform has no forkserver start method (it needs Unix)")
    require_size(int(size_mb * MiB) * (workers + 2), what=f"{workers + 2} copies of the global")
    with tempfile.TemporaryDirectory(prefix="course-forkserver-") as folder:
        for name, text in script_text(preload, workers, size_mb).items():
            Path(folder, name).write_text(text)
        proc = subprocess.Popen(
            [sys.executable, "main.py"],
            cwd=folder,  # the server finds bigdata.py here on every version (gh-117378)
            env=helpers_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,  # its own process group: a timeout ends all it started
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"the forkserver script did not finish within {timeout:.0f} s") from None
        finally:
            if proc.poll() is None:  # timed out or interrupted: end it and all it started
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
    if proc.returncode != 0 or not out.strip():
        raise RuntimeError(f"the forkserver script failed:\n{err.strip()[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])


def copies_per_worker(run: dict) -> float:
    """Copies of the global the median worker holds alone: ~1 rebuilt, ~0 shared."""
    views = list({v["pid"]: v for v in run["views"]}.values())  # one view per worker
    shares = [v["alone"] for v in views if v["alone"] is not None]
    if shares:
        return statistics.median(shares)
    workers = [p for p in run["processes"] if p["role"] == "worker" and p["uss"] is not None]
    return statistics.median(p["uss"] for p in workers) / views[0]["data_bytes"]


def default_size_mb(workers: int) -> float:
    """64 MiB, less where the worst case (workers + 2 copies) would not fit the budget."""
    fits = memory_budget_bytes() / MiB / (workers + 2)
    return float(max(1, min(64, int(fits))))


def forkserver_copies(preload: bool, quick: bool = True) -> float:
    """Copies of a script's module-level global per forkserver worker, measured now.

    preload: the data in an importable module and set_forkserver_preload() naming it.
    quick: 2 workers (else 4). About 1.0 where workers rebuild it, 0.0 where they share it.
    Lesson 04, section 5 teaches it; lesson 07's check reads it.
    """
    workers = 2 if quick else 4
    return copies_per_worker(run_script(preload, workers, default_size_mb(workers)))


@dataclass
class ForkserverResult(Result):
    """Both runs: per process memory, and the copies per worker without and with preload."""

    runs: dict[bool, dict] = field(default_factory=dict)
    copies: dict[bool, float] = field(default_factory=dict)
    expected: str = ""

    def plot(self):
        from ... import charts

        bars = [
            (f"{'preload' if preload else 'global'}: {p['role']}", p["pss"] / MiB)
            for preload, run in self.runs.items()
            for p in run["processes"]
            if p["pss"] is not None
        ]
        return charts.bars(
            [label for label, _ in bars], [value for _, value in bars], ylabel="PSS (MiB)",
            title="forkserver: each process's share of memory, without and with preload",
            reference=self.params["size_mb"], reference_label="one copy of the global",
        )


def forkserver_rows(runs: dict[bool, dict]) -> list[dict]:
    """One row per process of both runs (MiB)."""
    rows = []
    for preload, run in runs.items():
        views = {v["pid"]: v for v in run["views"]}
        for p in run["processes"]:
            view = views.get(p["pid"], {})
            rows.append(
                {
                    "script": "data module + preload" if preload else "global in the script",
                    "process": p["role"],
                    "PSS": None if p["pss"] is None else p["pss"] / MiB,
                    "USS": None if p["uss"] is None else p["uss"] / MiB,
                    "built the global here": view.get("built_here"),
                    "share of it held alone": view.get("alone"),
                }
            )
    return rows


def forkserver_findings(result: ForkserverResult) -> list[str]:
    """Sentences from the two runs, the version sentence and whether this run agrees."""
    without, with_preload = result.copies[False], result.copies[True]
    seen = "rebuilds" if without >= 0.5 else "shares"
    return [
        version_sentence(),
        f"Measured: without preload each worker held {without:.2f} copies of the global "
        f"alone; with set_forkserver_preload() of the data module, {with_preload:.2f}.",
        "This run agrees with the sentence for this version."
        if seen == result.expected
        else f"This run disagrees with the sentence for this version (it {seen}): the "
        "version rule may be wrong for this build; tell the course's maintainers.",
    ]


def forkserver_main(workers: int = 4, size_mb: float | None = None) -> ForkserverResult:
    """A script's global under forkserver, without and with set_forkserver_preload().

    Runs run_script() twice; size_mb default: default_size_mb(workers). Lesson 04, section 5.
    """
    size_mb = default_size_mb(workers) if size_mb is None else size_mb
    runs = {preload: run_script(preload, workers, size_mb) for preload in (False, True)}
    result = ForkserverResult(
        title=f"forkserver, {workers} workers, a {size_mb:g} MiB global: rebuilt or shared?",
        params={"workers": workers, "size_mb": size_mb, "python": sys.version.split()[0]},
        rows=forkserver_rows(runs), runs=runs, expected=expected_behaviour(),
        copies={preload: copies_per_worker(run) for preload, run in runs.items()},
    )
    result.findings = forkserver_findings(result)
    return result


def show_script(preload: bool = False, workers: int = 4, size_mb: float = 64) -> None:
    """Print the script (and data module) that run_script() writes, as the learner would."""
    for name, text in script_text(preload, workers, size_mb).items():
        print(f"# ---- {name}\n{text}")
