"""The chunksize timeline seen by viztracer, a tracer learners already use, beside the course's.

Introduced in 01_process_pool.ipynb (section 4, "The same run through viztracer"). A small
script maps short tasks on a Pool at chunksize 1 and at Pool.map's default under ``viztracer``,
which follows the workers (fork, spawn and forkserver) into one trace; each task also times
itself in its worker (``cpu.spin_timed``), the course's timeline. The two views are compared:
the number of tasks each saw, and the median duration of a task.

Trap: a tracer slows what it traces (every Python call is recorded): the two views are
compared with each other, never with an untraced run. viztracer writes to a temporary folder
that is removed; ``save_as`` keeps a copy of the trace, for ``vizviewer <file>``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from ...machine import require_workers
from ...machine import start_method as course_start_method
from ...processes import helpers_env
from ...results import Result
from ...runner import reap
from ...workloads import cpu
from .workers import pool_default_chunksize, require_positive

SCRIPT = '''\
"""Short tasks on a Pool at two chunksizes; the course's own timeline goes to a JSON file."""
import json
import multiprocessing
import sys

from helpers.workloads.cpu import spin_timed


def map_at_chunksize(pool, steps, tasks, chunksize):
    return pool.map(spin_timed, [steps] * tasks, chunksize=chunksize)


def main():
    method, steps, tasks, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    chunksizes = [int(size) for size in sys.argv[5:]]
    ctx = multiprocessing.get_context(method)
    with ctx.Pool(2) as pool:
        done = {size: map_at_chunksize(pool, steps, tasks, size) for size in chunksizes}
        pool.close()
        pool.join()  # workers that exit normally write their part of the trace
    with open(out, "w") as file:
        json.dump(done, file)


if __name__ == "__main__":
    main()
'''
TASK_FUNCTION = "spin_timed"
MAP_FUNCTION = "map_at_chunksize"
# "--min_duration=20us" in one word: viztracer 1.1.1 passes on to spawn and forkserver workers
# its options minus every word that is also a word of the script's command line
# (main.py: `elem not in command`). With 20 tasks, "--min_duration" "20" reached the workers
# without its "20"; each worker then died at start-up and the Pool replaced it for ever.
VIZTRACER_OPTIONS = ["--quiet", "--ignore_c_function", "--min_duration=20us"]


def viztracer_missing() -> str:
    """'' where viztracer can run here, else why not (in a few words)."""
    missing = importlib.util.find_spec("viztracer") is None
    return "viztracer is not installed in this Python (pip install viztracer)" if missing else ""


@dataclass
class TraceResult(Result):
    """Tasks per chunksize as the course's timeline and viztracer's trace saw them."""

    start_method: str = ""
    course: dict[int, list[float]] = field(default_factory=dict)  # chunksize -> tasks' seconds
    traced: dict[int, list[float]] = field(default_factory=dict)  # the same, one per task seen
    command: str = ""
    saved_as: str = ""

    @property
    def count_difference(self) -> int:
        """Tasks viztracer saw minus tasks the course saw, over all chunksizes (0 = agree)."""
        return sum(len(self.traced.get(s, [])) - len(self.course[s]) for s in self.course)

    def duration_difference(self) -> float:
        """|median traced task / median course task - 1|, in percent, over all tasks."""
        course, traced = ([d for ds in v.values() for d in ds] for v in (self.course, self.traced))
        if not course or not traced:
            return float("nan")
        return abs(statistics.median(traced) / statistics.median(course) - 1) * 100


def trace_chunksize(
    tasks: int = 200,
    task_seconds: float = 0.0002,
    *,
    start_method: str | None = None,
    save_as: str | None = None,
    timeout: float = 60.0,
) -> TraceResult:
    """Run the chunksize timeline under viztracer; compare its tasks with the course's.

    tasks: tasks per chunksize; task_seconds: one core's seconds of work per task. The
    script maps them at chunksize 1 and at Pool.map's default, on 2 workers. Raises
    RuntimeError (with viztracer's own words) if the traced script fails or times out.
    """
    require_workers(tasks, what="tasks")
    require_positive(task_seconds, "task_seconds")
    if missing := viztracer_missing():
        raise RuntimeError(missing)
    method = start_method or course_start_method()
    sizes = [1, max(2, pool_default_chunksize(tasks, 2))]
    with tempfile.TemporaryDirectory(prefix="pool-viztracer-") as folder:
        here = Path(folder)
        (here / "chunks.py").write_text(SCRIPT)
        trace, timeline = here / "trace.json", here / "course.json"
        args = [str(cpu.units_for(task_seconds)), str(tasks), str(timeline)]
        command = [sys.executable, "-m", "viztracer", *VIZTRACER_OPTIONS, "-o", str(trace)]
        command += ["chunks.py", method, *args, *map(str, sizes)]
        run_traced(command, here, timeout)
        result = trace_result(trace, timeline, method)
        if save_as:
            shutil.copyfile(trace, save_as)
            result.saved_as = str(Path(save_as).resolve())
    result.command = f"viztracer -o trace.json chunks.py {method} ...   then: vizviewer trace.json"
    result.params = {"tasks": tasks, "task_seconds": task_seconds, "chunksizes": sizes}
    return result


def run_traced(command: list[str], folder: Path, timeout: float) -> None:
    """Run the traced script in folder; RuntimeError with its output if it fails or hangs."""
    with open(folder / "output.log", "w") as log:
        script = psutil.Popen(command, cwd=folder, env=helpers_env(), stdout=log, stderr=log)
    try:
        script.wait(timeout)
    except psutil.TimeoutExpired:
        reap([script, *script.children(recursive=True)])  # the pool's workers too
        raise RuntimeError(f"viztracer's run took over {timeout:.0f} s; it was stopped") from None
    if script.returncode != 0:
        output = (folder / "output.log").read_text().strip()
        raise RuntimeError(f"viztracer's run failed:\n{output[-800:]}")


def trace_result(trace: Path, timeline: Path, method: str) -> TraceResult:
    """Read both views of the run: the course's task times and viztracer's complete events."""
    course = {int(size): [end - start for _, start, end, _ in done]
              for size, done in json.loads(timeline.read_text()).items()}
    events = [e for e in json.loads(trace.read_text())["traceEvents"] if e.get("ph") == "X"]
    maps = [e for e in events if e["name"].startswith(MAP_FUNCTION + " ")]
    maps.sort(key=lambda e: e["ts"])  # they ran in the order of sorted(course)
    tasks = [e for e in events if e["name"].startswith(TASK_FUNCTION + " ")]
    traced: dict[int, list[float]] = {size: [] for size in course}
    for size, span in zip(sorted(course), maps, strict=False):
        inside = [e for e in tasks if span["ts"] <= e["ts"] <= span["ts"] + span["dur"]]
        traced[size] = [e["dur"] / 1e6 for e in inside]  # viztracer's times are in µs
    title = f"The chunksize timeline, traced by viztracer ({method})"
    result = TraceResult(title, {}, start_method=method, course=course, traced=traced)
    result.rows = [
        {
            "chunksize": size,
            "tasks, course's timeline": len(course[size]),
            "tasks, viztracer": len(traced[size]),
            "median task (µs), course": statistics.median(course[size]) * 1e6,
            "median task (µs), viztracer": statistics.median(traced[size] or [float("nan")]) * 1e6,
        }
        for size in sorted(course)
    ]
    result.findings = trace_findings(result)
    return result


def trace_findings(r: TraceResult) -> list[str]:
    course = sum(len(v) for v in r.course.values())
    agree = f"{r.count_difference:+d} tasks" if r.count_difference else "the same count"
    return [
        f"viztracer recorded {course + r.count_difference} calls of {TASK_FUNCTION} in the "
        f"workers; the course's timeline recorded {course} tasks: {agree}.",
        f"A task's median duration differs by {r.duration_difference():.1f}% between the two "
        "views of the same run. Both are slower than in an untraced run: the tracer records "
        "every Python call, and that costs time in the workers.",
    ]
