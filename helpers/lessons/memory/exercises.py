"""Lesson 04's exercises: the learner's code runs under the instruments and is judged by memory.

Introduced in 04_memory_duplication.ipynb, section 9. A check prints what happened in the
learner's terms, returns True when solved, and never raises (helpers.course.feedback).

    feedback_shared_data(my_data)       4 fork workers read every item of my_data(n):
                                        judged by each worker's private memory (USS) growth
    feedback_gc_safe_pool(my_pool_run)  the learner's parent-side Pool code, workers that run
                                        full collections: judged by USS growth and collections
    feedback_page_prediction(view, n)   pages made private by reading half a list: a number
"""

from __future__ import annotations

import gc
import statistics
import sys
from collections.abc import Callable

from ...course.feedback import feedback, is_stub, time_limit, unanswered
from ...machine import mp_context, start_methods
from ...probes import measure
from ...runner import no_stray_processes, wait
from ...units import MiB
from ...workloads import memory as work
from .findings import SHARED

SHARED_DATA = "share a dataset"
GC_SAFE = "GC without copies"
PAGES = "page arithmetic"
EXERCISES = [SHARED_DATA, GC_SAFE, PAGES]
GLOBAL_NAME = "course_exercise_data"  # the __main__ global the check's workers read
TIMEOUT = 60.0  # seconds the learner's code may take


def growth_per_worker(reports: list) -> float | None:
    """The median worker's private memory growth (bytes), from each worker's first report."""
    first = {r.pid: r for r in reversed(reports)}
    grown = [r.private_growth for r in first.values() if r.private_growth is not None]
    return statistics.median(grown) if grown else None


# -- exercise 1: hold the numbers so that readers copy nothing ----------------------------


def read_in_workers(data, workers: int) -> list:
    """Runs `workers` fork workers that read every item of `data`; their WorkerReports."""
    main = sys.modules["__main__"]
    setattr(main, GLOBAL_NAME, data)
    try:
        with no_stray_processes(), mp_context("fork").Pool(workers) as pool:
            tasks = pool.map_async(work.read_every_item, [GLOBAL_NAME] * workers, chunksize=1)
            reports = wait(tasks, TIMEOUT)
            pool.close()
            pool.join()
    finally:
        delattr(main, GLOBAL_NAME)
    return reports


def valid_numbers(data, n: int) -> str:
    """'' when data holds the n numbers 1000 .. 1000 + n - 1; else what is wrong."""
    try:
        size = len(data)
    except TypeError:
        return f"my_data(n) returned a {type(data).__name__}, which has no len(): return a sequence"
    if size != n or int(data[0]) != 1000 or int(data[-1]) != 1000 + n - 1:
        return f"my_data({n:,}) must hold the {n:,} numbers 1000 .. {1000 + n - 1:,} in order"
    if work.data_bytes(data) < n:
        return (
            f"a {type(data).__name__} computes its numbers when asked and holds no data; "
            "hold them in memory, as a real dataset would be"
        )
    return ""


def feedback_shared_data(my_data: Callable | None, n: int = 1_000_000, workers: int = 4) -> bool:
    """Exercise 1: my_data(n) holds n numbers that 4 forked workers read without copying.

    Passes when each worker's USS grows by at most findings.SHARED of the data's own size.
    """
    if is_stub(my_data):
        unanswered("write my_data(n), returning the numbers 1000 .. 1000 + n - 1, then run this cell",
                   exercise=SHARED_DATA)
        return False
    if "fork" not in start_methods():
        print("This exercise needs the fork start method, which this platform lacks.")
        return False
    data = my_data(n)
    if data is None:
        unanswered("my_data(n) returned None: return the numbers", exercise=SHARED_DATA)
        return False
    if wrong := valid_numbers(data, n):
        return feedback(False, "", wrong, exercise=SHARED_DATA)
    grown = growth_per_worker(read_in_workers(data, workers)) or 0
    size = work.data_bytes(data)
    held = (
        f"each worker's private memory grew by {grown / MiB:.1f} MiB reading your "
        f"{size / MiB:.1f} MiB {type(data).__name__} ({grown / size:.0%} of it)"
    )
    return feedback(
        grown <= SHARED * size,
        f"{held}: one buffer, whose items are made on the fly as they are read, so its pages "
        "stay shared.",
        f"{held}: it copied the data. Each item handed out is an object whose reference "
        "count is written inside it; hold the numbers in one buffer instead.",
        exercise=SHARED_DATA,
    )


# -- exercise 2: let the GC run in the workers, and copy nothing ---------------------------


def feedback_gc_safe_pool(my_pool_run: Callable | None, workers: int = 2, size_mb: float = 32) -> bool:
    """Exercise 2: my_pool_run(workers) starts a fork Pool whose full collections copy nothing.

    The parent holds ~size_mb of small lists; the learner's function runs under measure()
    with a time limit. Passes when its reports (from collect_garbage) show a full collection
    in every worker and each worker's USS grew by at most findings.SHARED of the lists.
    """
    if is_stub(my_pool_run):
        unanswered("write my_pool_run(workers): a fork Pool mapping collect_garbage, one task "
                   "per worker, returning the reports", exercise=GC_SAFE)
        return False
    if "fork" not in start_methods():
        print("This exercise needs the fork start method, which this platform lacks.")
        return False
    rows = work.build(work.DataSpec.for_size("rows", int(size_mb * MiB)))
    was_enabled = gc.isenabled()
    try:
        with time_limit(TIMEOUT), measure():
            reports = my_pool_run(workers)
    finally:  # undo a learner's gc.freeze() or gc.disable(): the notebook's GC works as before
        gc.unfreeze()
        if was_enabled:
            gc.enable()
    if reports is None:
        unanswered("my_pool_run(workers) returned None: return the reports", exercise=GC_SAFE)
        return False
    return judge_gc_run(reports, work.data_bytes(rows), workers)


def judge_gc_run(reports, size: int, workers: int) -> bool:
    """The verdict on exercise 2, from the reports the learner's function returned."""
    if not isinstance(reports, list) or not all(isinstance(r, work.WorkerReport) for r in reports):
        return feedback(False, "", "return what pool.map(work.collect_garbage, ...) gave back",
                        exercise=GC_SAFE)
    if len({r.pid for r in reports}) < workers:
        return feedback(False, "", f"give each of the {workers} workers one task", exercise=GC_SAFE)
    if any(r.full_collections == 0 for r in reports):
        return feedback(
            False, "",
            "no full collection ran in the workers: the GC is off there (gc.disable() is "
            "inherited), so cycles they make would never be freed. Keep it on.",
            exercise=GC_SAFE,
        )
    grown = growth_per_worker(reports) or 0
    held = f"each worker's private memory grew by {grown / MiB:.1f} MiB during its full collection"
    return feedback(
        grown <= SHARED * size,
        f"{held}: the frozen objects sit where the GC never looks, so their pages stay shared.",
        f"{held} ({grown / size:.0%} of the {size / MiB:.0f} MiB of small lists): the GC wrote "
        "into every object the parent had made. Move them out of its reach before the fork.",
        exercise=GC_SAFE,
    )


# -- exercise 3: page arithmetic -------------------------------------------------------------


def feedback_page_prediction(view, predicted_pages: float | None) -> bool:
    """Exercise 3: pages made private by reading half the list, predicted then measured."""
    if view.reason:
        print(f"The page-level view cannot run here ({view.reason}); nothing to compare with.")
        return False
    if predicted_pages is None:
        unanswered("write your prediction in my_pages_for_half, then run this cell", exercise=PAGES)
        return False
    measured = view.private_pages[view.fractions.index(0.5)]
    error = abs(predicted_pages - measured) / max(measured, 1)
    text = f"you predicted {predicted_pages:,.0f} pages; reading half made {measured:,} private"
    return feedback(
        error <= 0.15,
        f"{text} ({error:.0%} off).",
        f"{text} ({error:.0%} off). How many bytes does one int take in memory, and how many "
        "of them does a page hold?",
        exercise=PAGES,
    )
