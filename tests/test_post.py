"""Lesson 07: the post's re-created programs do what they really do; the checks judge rightly."""

from __future__ import annotations

import os

import numpy as np
import pytest

from helpers.lessons import post
from helpers.lessons.post import exercises, tasks, verdicts
from helpers.machine import start_methods

FORK = pytest.mark.skipif("fork" not in start_methods(), reason="needs fork")


def test_program_1_fails_with_name_error_before_any_worker():
    run = post.run_program("program 1")
    assert run.returncode == 1
    assert run.lines == []
    assert "NameError: name 'multiprocessing' is not defined" in run.stderr
    assert run.left_behind == 0


def test_program_2_counts_to_five_on_its_named_thread():
    run = post.run_program("program 2")
    assert run.returncode == 0
    assert run.lines[0] == "thread MainThread starts"
    assert [line for line in run.lines if "says" in line] == [
        f"thread Counter says {n}" for n in range(1, 6)
    ]
    assert run.lines[-1] == "thread MainThread ends"
    assert run.seconds >= 5.0  # five one-second sleeps
    assert sum(p.cpu_time for p in run.processes()) < 2.0  # sleeping, not computing


def test_a_program_that_times_out_leaves_nothing_behind():
    run = post.run_program("program 2", timeout=1.0)
    assert run.timed_out and run.returncode is None


@FORK
def test_program_3_as_written_loses_every_tasks_name_error():
    run = post.run_program("program 3", traced=True, start_method="fork")
    assert run.returncode == 0
    assert run.stdout == "" and run.stderr == ""  # the parent reported nothing
    assert run.trace["tasks_sent"] > 0
    assert run.trace["failed"] == {"NameError": run.trace["tasks_sent"]}  # every task raised
    assert run.trace["surfaced"] == 0
    assert run.lost_share == 1.0
    assert run.left_behind == 0


@FORK
def test_get_shows_the_first_error_only():
    run = post.run_program("program 3 with .get()", traced=True, start_method="fork")
    assert run.returncode == 1
    assert "NameError" in run.stderr
    assert run.trace["surfaced"] == 1 < run.failed_tasks


@FORK
def test_corrected_program_3_prints_every_item():
    run = post.run_program("program 3, corrected", "fork", "post", "2")
    assert run.returncode == 0
    # one "0" per item; workers' 8 KiB writes to the shared pipe may split a line between them
    assert run.stdout.count("0") == 1_000_000 and set(run.stdout) == {"0", "\n"}


def test_program_names_are_checked():
    with pytest.raises(ValueError, match="known"):
        post.program_path("program 4")


def test_thread_verdicts_follow_their_rules():
    rows = verdicts.thread_rows(
        {"cores": 1.0, "slowdown": 1.0}, {"speedup": 7.0, "threads": 8}
    )
    assert rows[1].verdict == verdicts.PART  # no faster, not 10% slower
    assert rows[2].verdict == verdicts.HOLDS
    slower = verdicts.thread_rows({"cores": 1.0, "slowdown": 1.3}, {"speedup": 1.0, "threads": 8})
    assert slower[1].verdict == verdicts.HOLDS and slower[2].verdict == verdicts.NOT


# -- exercises -------------------------------------------------------------------------------


def lose_errors(pool, func, items):
    pool.map_async(func, items)
    return []


def first_error_only(pool, func, items):
    return pool.map(func, items)


def every_error(pool, func, items):
    pending = [pool.apply_async(func, (i,)) for i in items]
    errors = []
    for result in pending:
        try:
            result.get(timeout=30)
        except Exception as error:
            errors.append(error)
    return errors


def test_feedback_every_error(capsys):
    assert exercises.feedback_every_error(None) is None
    assert exercises.feedback_every_error(lambda pool, func, items: None) is None
    assert exercises.feedback_every_error(lose_errors) is False
    assert exercises.feedback_every_error(first_error_only) is False
    assert "first error only" in capsys.readouterr().out
    assert exercises.feedback_every_error(every_error) is True


def readers_with_copies(ctx, numbers, workers):
    with ctx.Pool(workers, initializer=tasks.keep, initargs=(numbers,)) as pool:
        reports = pool.map(tasks.sum_array, [None] * workers, chunksize=1)
        pool.close()
        pool.join()
    return reports


def readers_sharing(ctx, numbers, workers):
    shared = ctx.RawArray("d", len(numbers))
    np.frombuffer(shared, dtype=np.float64)[:] = numbers
    with ctx.Pool(workers, initializer=tasks.keep, initargs=(shared,)) as pool:
        reports = pool.map(tasks.sum_array, [None] * workers, chunksize=1)
        pool.close()
        pool.join()
    return reports


def test_feedback_one_copy(capsys):
    assert exercises.feedback_one_copy(None) is None
    assert exercises.feedback_one_copy(readers_with_copies) is False
    assert "its own copy" in capsys.readouterr().out
    assert exercises.feedback_one_copy(readers_sharing) is True


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_feedback_pool_size():
    assert exercises.feedback_pool_size(None) is None
    assert exercises.feedback_pool_size(lambda: os.cpu_count()) is (os.cpu_count() == 1)
    assert exercises.feedback_pool_size(lambda: len(os.sched_getaffinity(0))) is True
