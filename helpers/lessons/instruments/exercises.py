"""Lesson 00's exercise checks: the learner's code run under helpers.measure() and judged.

Introduced in 00_start_here.ipynb, "Exercises". Each ``feedback_*`` says in the learner's
terms what their code measurably did (MiB counted, processes started, private memory per
worker) and records the outcome for the notebook's summary. None raises: an unanswered
exercise prints what to do (CI runs the notebook as shipped).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psutil

from ...course.feedback import feedback, unanswered
from ...course.progress import reveal
from ...pages import rollup
from ...probes import Measurement, measure
from ...processes import helpers_env, is_multiprocessing_helper
from ...units import MiB
from .views import nearest_sample

READ = "read a Measurement"
TREE = "the PSS of a process tree"
WORKERS = "workers that hold memory"
EXERCISES = [READ, TREE, WORKERS]
TOLERANCE = 0.05  # an answer within 5% of what the sampler measured is right


def feedback_uss_growth(answer_mib: float | None, m: Measurement) -> bool:
    """Exercise 1: is answer_mib the growth of this process's USS in m, in MiB (within 5%)?"""
    truth = m.growth("uss") / MiB
    if answer_mib is None:
        unanswered("Set uss_growth_mib to an expression that uses m2, then run this cell.", exercise=READ)
        return False
    hint = ("That looks like bytes: divide by 2**20 for MiB." if answer_mib > 100 * truth
            else "Use m2.growth('uss'): the growth, in bytes, of the USS total over the block.")
    return feedback(
        abs(answer_mib - truth) <= TOLERANCE * truth,
        f"uss_growth_mib = {answer_mib:.1f} MiB, as measured: {truth:.1f} MiB for the 40 MiB allocated.",
        f"uss_growth_mib = {answer_mib:.3g}, but the USS grew by {truth:.1f} MiB. {hint}",
        exercise=READ,
    )


@contextmanager
def running_tree(children: int, shared_mib: int, private_mib: int) -> Iterator[subprocess.Popen]:
    """A process tree (helpers.lessons.instruments.tree) holding its memory; always ended."""
    tree = subprocess.Popen(
        [sys.executable, "-m", "helpers.lessons.instruments.tree", str(children), str(shared_mib), str(private_mib)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=helpers_env(),
    )
    watchdog = threading.Timer(60, tree.kill)  # a tree that never says ready is ended
    watchdog.start()
    try:
        if tree.stdout.readline().strip() != "ready":
            raise RuntimeError("the process tree did not start")
        yield tree
    finally:
        watchdog.cancel()
        tree.stdin.close()  # the tree ends its children and exits
        try:
            tree.wait(15)
        except subprocess.TimeoutExpired:
            tree.kill()
            tree.wait()
        tree.stdout.close()


def tree_figures(m: Measurement, pids: list[int], t: float) -> dict[str, float]:
    """The sampler's figures for the tree at instant t, in bytes, as right and wrong sums give."""
    samples = [nearest_sample(m, pid, t) for pid in pids]
    if any(s is None or s.pss is None for s in samples):
        return {}
    return {
        "PSS summed over the tree": sum(s.pss for s in samples),
        "summed RSS": sum(s.rss for s in samples),
        "summed USS": sum(s.uss for s in samples),
        "the parent's PSS alone": samples[0].pss,
        "the children's PSS without the parent": sum(s.pss for s in samples[1:]),
    }


def feedback_pss_of_tree(pss_of_tree: Callable[[int], int] | None, children: int = 3,
                         shared_mib: int = 60, private_mib: int = 10) -> bool:
    """Exercise 2: does pss_of_tree(pid) give the tree's total PSS in bytes, as the sampler does
    (within 5%, at the same instant)? The tree: a parent holding shared_mib MiB that its
    `children` read, each holding private_mib MiB more.
    """
    if pss_of_tree is None:
        unanswered("Write pss_of_tree(pid) in the cell above, run it, then this cell.", exercise=TREE)
        return False
    if rollup() is None:
        unanswered("PSS needs Linux's /proc; on this system the exercise cannot be judged.", exercise=TREE)
        return False
    with measure(interval=0.05) as m, running_tree(children, shared_mib, private_mib) as tree:
        time.sleep(0.15)  # the sampler sees the tree settled
        start = time.perf_counter()
        try:
            answer = pss_of_tree(tree.pid)
        except Exception as exc:  # the learner's code: reported, not raised
            return feedback(False, "", f"pss_of_tree raised {type(exc).__name__}: {exc}", exercise=TREE)
        t = (start + time.perf_counter()) / 2
        pids = [tree.pid, *(p.pid for p in psutil.Process(tree.pid).children(recursive=True))]
        time.sleep(0.15)  # and after the answer
    if answer is None:
        unanswered("pss_of_tree returned None: return the total, in bytes.", exercise=TREE)
        return False
    return judge_tree_answer(answer, tree_figures(m, pids, t), children, shared_mib)


def judge_tree_answer(answer, figures: dict[str, float], children: int, shared_mib: int) -> bool:
    """Feedback on a tree total: right, or which wrong sum it looks like, in MiB."""
    if not figures:
        unanswered("The sampler could not read PSS here: this exercise cannot be judged.", exercise=TREE)
        return False
    truth = figures["PSS summed over the tree"]
    if not isinstance(answer, int | float):
        return feedback(False, "", f"pss_of_tree returned {type(answer).__name__}, not a number of bytes.", exercise=TREE)
    closest = min(figures, key=lambda k: abs(figures[k] - answer))
    if answer < truth / 1000:
        why = "That is far too small: return bytes, not MiB."
    elif closest != "PSS summed over the tree" and abs(figures[closest] - answer) <= TOLERANCE * figures[closest]:
        why = f"It matches {closest} ({figures[closest] / MiB:.0f} MiB). " + {
            "summed RSS": f"RSS counts the parent's {shared_mib} MiB buffer once in every one of the "
            f"{children + 1} processes that map it.",
            "summed USS": "USS leaves out every shared page, so the buffer is not counted at all.",
            "the parent's PSS alone": "Add the children: psutil's children(recursive=True).",
            "the children's PSS without the parent": "Add the parent itself.",
        }[closest]
    else:
        why = "Sum footprint(p).pss (or psutil's memory_full_info().pss) over the process and its children."
    return feedback(
        abs(answer - truth) <= TOLERANCE * truth,
        f"{answer / MiB:.1f} MiB, and the sampler measured {truth / MiB:.1f} MiB at the same instant.",
        f"{answer / MiB:.1f} MiB, but the sampler measured {truth / MiB:.1f} MiB of PSS. {why}",
        exercise=TREE)


def children_left(grace: float = 2.0) -> list[int]:
    """Pids of this process's children still running (multiprocessing's own helpers aside)."""
    deadline = time.monotonic() + grace
    while True:
        left = []
        for p in psutil.Process().children(recursive=True):
            try:
                if p.status() != psutil.STATUS_ZOMBIE and not is_multiprocessing_helper(p):
                    left.append(p.pid)
            except psutil.Error:
                continue
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def feedback_workers_memory(start_workers: Callable[[int, int], object] | None, workers: int = 3,
                            mib: int = 30, predicted_mib: float | None = None) -> bool:
    """Exercise 3: does start_workers(workers, mib) run `workers` processes that each hold mib MiB?

    Judged under helpers.measure(): how many workers' private memory (USS, MiB) peaked at 80%
    of mib or more, and that none is left running afterwards.
    """
    if start_workers is None:
        unanswered("Write start_workers(n, mib) in the cell above, run it, then this cell.", exercise=WORKERS)
        return False
    error = ""
    with measure(interval=0.05) as m:
        try:
            start_workers(workers, mib)
        except Exception as exc:  # the learner's code: reported, not raised
            error = f"start_workers raised {type(exc).__name__}: {exc}"
    left = children_left()
    peaks = [p.peak_uss / MiB for p in m.per_process() if p.role == "worker" and p.peak_uss]
    holders = sorted((peak for peak in peaks if peak >= 0.8 * mib), reverse=True)
    if not error and not peaks and m.growth("uss") < mib * MiB / 2:
        unanswered("start_workers started no process yet: complete it, then run this cell.", exercise=WORKERS)
        return False
    if holders:
        reveal(f"private memory (USS) of a worker holding {mib} MiB", predicted_mib,
               statistics.median(holders), unit=" MiB")
    return feedback(
        not error and len(holders) == workers and not left,
        f"{workers} workers each held their {mib} MiB: private memory (USS) peaked at "
        + ", ".join(f"{p:.0f}" for p in holders) + " MiB, and none is left running.",
        error or workers_problem(holders, peaks, left, workers, mib, m), exercise=WORKERS)


def workers_problem(holders, peaks, left, workers, mib, m: Measurement) -> str:
    """Why exercise 3's answer is not right yet, from what the measurement saw."""
    if not peaks:
        return (f"No worker process ran; this process's own USS grew by {m.growth('uss') / MiB:.0f}"
                " MiB: hold_memory ran here. Hand it to a Pool's workers.")
    if len(holders) != workers:
        seen = ", ".join(f"{p:.0f}" for p in sorted(peaks, reverse=True))
        return (f"{len(holders)} of {workers} workers held {mib} MiB ({len(peaks)} worker "
                f"processes seen, private memory peaks {seen} MiB). Start a Pool of {workers} and "
                f"give it {workers} tasks, one per worker (chunksize=1).")
    return f"Workers still running after start_workers returned (pids {left}): close() and join() the pool."
