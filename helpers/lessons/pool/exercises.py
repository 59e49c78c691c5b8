"""Lesson 01's exercise checks: each runs the learner's answer and judges what it measurably does.

Introduced in 01_process_pool.ipynb (Exercises). A check prints what to do while the
exercise is unanswered and never raises: CI runs the notebook with the exercises unsolved.
The learner's functions drive a pool from a helper thread, under a timeout, so a pool that
waits forever (a function defined in the notebook, under spawn) is reported, not a hang.
"""

from __future__ import annotations

import math
import os

from ...course.feedback import call_with_timeout, feedback, is_stub, unanswered
from ...machine import usable_cores
from ...probes import measure
from ...runner import no_stray_processes
from ...workloads import cpu
from .check import CHUNKSIZE
from .chunks import chunksize_sweep

PARALLEL = "parallelise a CPU-bound function"
ERRORS = "lose no error"
CHUNKSIZE_CHOICE = "choose a chunksize"
AMDAHL = "Amdahl's law by hand"
EXERCISES = [PARALLEL, ERRORS, CHUNKSIZE_CHOICE, AMDAHL]

CORES_AT_LEAST = 1.3  # cores in use that show 2 workers really ran at once (2 usable cores)
WORKER_SHARE_AT_LEAST = 0.7  # share of the CPU time spent in worker processes
AT_ONCE_AT_LEAST = 1.5  # tasks in flight at once in the workers, for a pool of 2


def expected_count(steps: int) -> int:
    """cpu.count_steps(steps) without running it: i*i % 7 repeats every 7 steps (sum 14)."""
    pattern = [i * i % 7 for i in range(7)]
    return 14 * (steps // 7) + sum(pattern[: steps % 7])


def timeout_hint(timeout: float) -> str:
    return (
        f"your function did not return within {timeout:.0f} s; its workers were stopped. If "
        "you gave the pool a function defined in this notebook, spawn and forkserver workers "
        "cannot find it and the pool waits forever (section 7): pass cpu.spin itself. "
        "Restart the kernel before trying again."
    )


# -- exercise 1: parallelise a CPU-bound function -------------------------------------------


def parallel_tasks(total_seconds: float = 0.8, tasks: int = 8) -> list[int]:
    """Step counts for the exercise: different sizes, so results in the wrong order show."""
    base = cpu.units_for(total_seconds / tasks)
    return [base + 7 * i + i % 5 for i in range(tasks)]


def feedback_parallel(my_function, *, total_seconds: float = 0.8, timeout: float = 30.0) -> bool | None:
    """Exercise 1: my_function(tasks) must return [cpu.spin(s) for s in tasks], using a Pool.

    Judged by its results (values, order), the share of the CPU time spent in worker
    processes and how many spin tasks ran at once in the workers. The cores in use are
    reported too; on a busy machine they fall while the code is right.
    """
    if is_stub(my_function):
        return unanswered("my_fast_counts is not written yet: make it return the same list as "
                          "slow_counts(tasks), computed by a Pool of 2 workers.", exercise=PARALLEL)
    tasks = parallel_tasks(total_seconds)
    with no_stray_processes(), measure(interval=0.05) as m:
        how, value, _ = call_with_timeout(my_function, (tasks,), timeout)
    if how != "returned":
        what = timeout_hint(timeout) if how == "timeout" else f"it raised {type(value).__name__}: {value}"
        return feedback(False, "", f"my_fast_counts(tasks): {what}", exercise=PARALLEL)
    return judge_parallel(m, list(value or []), tasks)


def at_once(m) -> float:
    """Tasks in flight at once in the workers, on average: the tasks' summed durations over
    the span from the first start to the last end (2.0: two workers always busy). Unlike the
    cores in use, it does not fall on a busy machine, which stretches tasks and span alike.
    """
    events = [e for e in m.tasks if e.task == "spin" and e.pid != os.getpid()]
    if not events:
        return 0.0
    span = max(e.end for e in events) - min(e.start for e in events)
    return sum(e.duration for e in events) / span if span > 0 else 0.0


def judge_parallel(m, results: list, tasks: list[int]) -> bool:
    """The verdict of exercise 1 from its measurement and results."""
    right = [expected_count(s) for s in tasks]
    cores = m.cpu_time / m.wall if m.wall else 0.0
    in_workers = 1 - m.caller_cpu / m.cpu_time if m.cpu_time else 0.0
    problems = []
    if results != right:
        problems.append(
            "the results are in another order than the tasks (use map, not imap_unordered)"
            if sorted(results) == sorted(right)
            else f"the results differ from slow_counts(tasks): got {results[:3]}..., "
            f"expected {right[:3]}..."
        )
    together = at_once(m)
    if in_workers < WORKER_SHARE_AT_LEAST:
        problems.append(f"only {in_workers:.0%} of the CPU time was spent in worker processes: "
                        "most of the counting ran here, in the notebook's process")
    elif together < AT_ONCE_AT_LEAST:
        problems.append(f"{together:.1f} tasks ran at once on average: the workers took turns "
                        "instead of running together (a pool of 1 worker? all tasks in one chunk?)")
    said = (f"{in_workers:.0%} of the CPU time ran in workers, {together:.1f} tasks at once, on "
            f"{cores:.1f} cores on average; all {len(tasks)} results are right, in order.")
    if usable_cores() >= 2 and cores < CORES_AT_LEAST:
        said += " (Fewer cores than tasks at once: other programs held the cores meanwhile.)"
    return feedback(not problems, said, "; ".join(problems) + ".", exercise=PARALLEL)


# -- exercise 2: lose no error --------------------------------------------------------------


def feedback_errors(my_function, *, inputs=range(6), bad: int = 4, timeout: float = 30.0) -> bool | None:
    """Exercise 2: my_function(xs) returns (values, errors) for cpu.fail_if(x, bad=4) over
    xs = range(6): every good value, and every failure as its exception.
    """
    if is_stub(my_function):
        return unanswered("my_run_all is not written yet: run fail_if(x, bad=4) for each x on a "
                          "Pool with apply_async, and return (values, errors).", exercise=ERRORS)
    with no_stray_processes():
        how, value, _ = call_with_timeout(my_function, (list(inputs),), timeout)
    if how == "timeout":
        return feedback(False, "", f"my_run_all: {timeout_hint(timeout)}", exercise=ERRORS)
    if how == "raised":
        return feedback(False, "", (
            f"my_run_all raised {type(value).__name__}: {value}. A failed task's error came "
            "out of the function and every other result was lost with it: catch it around "
            ".get(), or collect it with error_callback."), exercise=ERRORS)
    try:
        values, errors = value
    except (TypeError, ValueError):
        return feedback(False, "", f"my_run_all returned {value!r}: return (values, errors).", exercise=ERRORS)
    return judge_errors(list(values or []), list(errors or []), inputs, bad)


def judge_errors(values: list, errors: list, inputs, bad: int) -> bool:
    good = sorted(x for x in inputs if x != bad)
    failures = [e for e in errors if isinstance(e, ValueError) and f"task {bad}" in str(e)]
    problems = []
    if sorted(values) != good:
        problems.append(f"values should hold {good} (in any order); it holds {sorted(values)}")
    if not errors:
        problems.append(f"errors is empty: the ValueError of task {bad} was lost. Did you pass "
                        "error_callback=errors.append, or catch what .get() raises?")
    elif len(errors) != 1 or len(failures) != 1:
        problems.append(f"errors should hold exactly one ValueError (task {bad}); it holds {errors!r}")
    said = f"values holds every good result {sorted(values)}, and errors the one failure: {errors[0]!r}." if errors else ""
    return feedback(not problems, said, "; ".join(problems) + ".", exercise=ERRORS)


# -- exercise 3: choose a chunksize ---------------------------------------------------------


def feedback_chunksize(chunksize, *, tasks: int = 5000, workers: int = 2) -> bool | None:
    """Exercise 3: time chunksize 1 against the learner's choice on one pool, alternately;
    the choice must make the tiny tasks at least CHUNKSIZE.threshold times faster."""
    if chunksize is None or chunksize == 1:
        return unanswered("my_chunksize is still 1, the slow case: try bigger values, then "
                          "run this again.", exercise=CHUNKSIZE_CHOICE)
    try:
        r = chunksize_sweep(tasks, [chunksize], workers=workers, repeats=3, timeline_tasks=0)
    except ValueError as exc:
        return feedback(False, "", str(exc), exercise=CHUNKSIZE_CHOICE)
    gain = r.median(1) / r.median(chunksize)
    messages = math.ceil(tasks / chunksize)
    tip = "Try a bigger one." if messages > 100 else "Try a smaller one."
    return feedback(
        CHUNKSIZE.holds(gain),
        f"chunksize {chunksize}: {gain:.0f}x faster than chunksize 1 ({messages} messages "
        f"each way instead of {tasks}).",
        f"chunksize {chunksize}: {gain:.1f}x faster than chunksize 1; aim for at least "
        f"{CHUNKSIZE.threshold:g}x. {tip}", exercise=CHUNKSIZE_CHOICE)


# -- exercise 4: Amdahl's law ---------------------------------------------------------------


def feedback_amdahl(speedup_8_workers, speedup_limit, *, serial_share: float = 0.2) -> bool | None:
    """Exercise 4: Amdahl's law for a serial share, at 8 workers and with unlimited workers."""
    if speedup_8_workers is None or speedup_limit is None:
        return unanswered("speedup_8_workers and speedup_limit are still None: fill in the "
                          "cell above.", exercise=AMDAHL)
    s = serial_share
    wrong = []
    for name, answer, truth, hint in (
        ("speedup_8_workers", speedup_8_workers, 1 / (s + (1 - s) / 8), "1 / (s + (1 - s) / n)"),
        ("speedup_limit", speedup_limit, 1 / s, "what 1 / (s + (1 - s) / n) tends to"),
    ):
        if abs(answer - truth) > 0.02 * truth:
            wrong.append(f"{name} = {answer:.3g}x is not it: use {hint} with s = {s:g}")
    return feedback(not wrong, f"{speedup_8_workers:.3g}x with 8 workers, {speedup_limit:.3g}x "
                    "at most: right.", "; ".join(wrong) + ".", exercise=AMDAHL)

