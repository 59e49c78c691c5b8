"""Lesson 07's exercises: each check runs the learner's code, measures what it did, says so.

Lesson 07, section 5. Every check prints what to do while the exercise is unanswered and
raises nothing; the learner's code runs with a timeout, and its pool is ended if it hangs.

    feedback_every_error(collect_errors)   exercise 1: program 3's lost errors, all surfaced
    feedback_one_copy(run_readers)         exercise 2: one copy of the data under spawn
    feedback_pool_size(workers_for_here)   exercise 3: program 1's pool, sized to this process
"""

from __future__ import annotations

import os
import statistics
from multiprocessing import get_context

import numpy as np

from ...course.feedback import call_with_timeout, feedback, unanswered
from ...machine import memory_budget_bytes, mp_context, usable_cores
from ...units import MiB
from . import tasks

TIMEOUT = 60.0  # seconds a learner's function may take before the check gives up on it
ITEMS, EVERY = 30, 3  # exercise 1: items 0..29, those divisible by 3 fail
EX_ERRORS, EX_COPY, EX_SIZE = "every error surfaces", "one copy under spawn", "pool sized to this process"


def _run_with_timeout(func, *args):
    """(finished, result, error) of func(*args) run in a thread, waiting at most TIMEOUT s."""
    how, value, _ = call_with_timeout(func, args, TIMEOUT)
    return how != "timeout", value if how == "returned" else None, value if how == "raised" else None


def feedback_every_error(collect_errors) -> bool | None:
    """Exercise 1: collect_errors(pool, func, items) must return every exception func raised.

    Runs it on a pool of 2 workers (the course's start method) over 30 items, a third of which
    fail with ValueError (tasks.fail_on_multiples), and compares what came back.
    """
    if collect_errors is None:
        return unanswered("Write collect_errors(pool, func, items) above, then run this cell.", exercise=EX_ERRORS)
    items = list(range(ITEMS))
    failing = [i for i in items if i % EVERY == 0]
    with mp_context().Pool(2) as pool:
        finished, errors, raised = _run_with_timeout(collect_errors, pool, tasks.fail_on_multiples, items)
        pool.terminate()
        pool.join()
    if finished and raised is None and errors is None:
        return unanswered("collect_errors returned None: return the list of exceptions it collected.", exercise=EX_ERRORS)
    if not finished:
        return feedback(False, "", f"collect_errors did not finish in {TIMEOUT:g} s: does it wait for a result that never comes?", exercise=EX_ERRORS)
    if raised is not None:
        return feedback(
            False, "",
            f"collect_errors raised {type(raised).__name__}: {raised}. That is the first error only: "
            f"{len(failing)} tasks failed. Catch each task's error instead of stopping at the first.",
            exercise=EX_ERRORS,
        )
    got = [e for e in list(errors) if isinstance(e, ValueError)]
    return feedback(
        len(got) == len(failing),
        f"all {len(failing)} errors surfaced, none lost.",
        f"{len(got)} of the {len(failing)} errors came back"
        + (": the rest were lost, as in program 3" if len(got) < len(failing) else ": some twice?")
        + ". Give every task its own result (apply_async) and read each one, or an error_callback.",
        exercise=EX_ERRORS,
    )


def _shm_names() -> set[str]:
    """Shared memory segments (SharedMemory's psm_ names) now in /dev/shm."""
    try:
        return {name for name in os.listdir("/dev/shm") if name.startswith("psm_")}
    except OSError:  # no /dev/shm (macOS, Windows): leftovers cannot be seen this way
        return set()


def feedback_one_copy(run_readers, workers: int = 2) -> bool | None:
    """Exercise 2: run_readers(ctx, numbers, workers) under spawn, holding ONE copy of numbers.

    It must return each worker's report from tasks.sum_array. Judged by the sums, by each
    worker's private memory against a worker that holds no data, and by /dev/shm after it.
    """
    if run_readers is None:
        return unanswered("Write run_readers(ctx, numbers, workers) above, then run this cell.", exercise=EX_COPY)
    ctx = get_context("spawn")
    # 16 MiB, less where a copy per worker (and the parent's) would not fit the memory budget
    numbers = np.arange(int(min(16 * MiB, memory_budget_bytes() // 6)) // 8, dtype=np.float64)
    before = _shm_names()
    finished, reports, raised = _run_with_timeout(run_readers, ctx, numbers, workers)
    left = sorted(_shm_names() - before)
    if finished and raised is None and reports is None:
        return unanswered("run_readers returned None: return the list of reports from tasks.sum_array.", exercise=EX_COPY)
    if not finished or raised is not None:
        why = f"raised {type(raised).__name__}: {raised}" if raised else f"did not finish in {TIMEOUT:g} s"
        return feedback(False, "", f"run_readers {why}.", exercise=EX_COPY)
    reports = list(reports)
    expected = float(numbers.sum())
    if len(reports) < workers or any(r["sum"] != expected for r in reports):
        return feedback(False, "", f"expected {workers} reports each summing to {expected:g}; got {[r['sum'] for r in reports]}.", exercise=EX_COPY)
    with ctx.Pool(workers, initializer=tasks.keep, initargs=(None,)) as pool:  # holding no data
        bare = pool.map(tasks.sum_array, [None] * workers, chunksize=1)
        pool.close()
        pool.join()
    bare_uss = int(statistics.median(r["uss"] for r in bare))
    grown = statistics.median(r["uss"] for r in reports) - bare_uss
    if grown > numbers.nbytes / 2:
        return feedback(
            False, "",
            f"each worker's private memory was {grown / MiB:.1f} MiB above a worker with no data, for "
            f"{numbers.nbytes / MiB:.0f} MiB of numbers: it got its own copy (pickled through initargs or "
            "a task's arguments). Put the numbers in shared memory first.",
            exercise=EX_COPY,
        )
    if left:
        return feedback(False, "", f"one copy, but shared memory {', '.join(left)} was left in /dev/shm: unlink it when done.", exercise=EX_COPY)
    return feedback(
        True,
        f"{workers} spawn workers summed {numbers.nbytes / MiB:.0f} MiB each, holding {max(grown, 0) / MiB:.1f} MiB "
        "more than a worker with no data: one copy, shared, and nothing left behind.",
        "",
        exercise=EX_COPY,
    )


def feedback_pool_size(workers_for_here) -> bool | None:
    """Exercise 3: workers_for_here() must give the cores this process may use, not the machine's.

    Where the platform allows it, called once with this process limited to one core (then
    restored), so that os.cpu_count() and the right answer differ even on a small machine.
    """
    if workers_for_here is None:
        return unanswered("Write workers_for_here() above, then run this cell.", exercise=EX_SIZE)
    can_limit = hasattr(os, "sched_setaffinity")
    if can_limit:
        allowed = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(allowed)})
    try:
        finished, answer, raised = _run_with_timeout(workers_for_here)
        right = usable_cores()
    finally:
        if can_limit:
            os.sched_setaffinity(0, allowed)
    if finished and raised is None and answer is None:
        return unanswered("workers_for_here() returned None: return a number of workers.", exercise=EX_SIZE)
    if raised is not None:
        return feedback(False, "", f"workers_for_here() raised {type(raised).__name__}: {raised}.", exercise=EX_SIZE)
    limited = " with this process limited to one core" if can_limit else ""
    return feedback(
        answer == right,
        f"{answer} worker(s){limited}: the cores this process may really use.",
        f"your function said {answer}{limited}, but this process may use {right}. os.cpu_count() counts "
        "the machine's cores, not those this process is allowed (affinity, taskset, a container).",
        exercise=EX_SIZE,
    )
