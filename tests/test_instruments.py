"""Lesson 00: the four instruments at one instant, the exercise checks, the check's rows."""

from __future__ import annotations

import sys

import psutil
import pytest

from helpers import measure, mp_context
from helpers.footprint import footprint
from helpers.lessons import instruments
from helpers.lessons.instruments import check
from helpers.units import MiB

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PSS and smaps_rollup are Linux-only")


@linux_only
def test_sampler_agrees_with_smaps_rollup_and_ps_with_psutil():
    r = instruments.instant_views(workers=2, mib_each=20, hold=1.5)
    assert len(r.rows) == 2
    assert check.ROLLUP_VS_SAMPLER.holds(r.worst_pss_gap), r.rows
    for row in r.rows:
        assert row["ps RSS (top's RES)"] == pytest.approx(row["psutil RSS"], rel=0.02)
        assert row["psutil RSS"] >= 20
        assert row["sampler PSS"] < row["psutil RSS"]  # shared pages are split


def test_hold_memory_rejects_typos():
    with pytest.raises(ValueError, match="mib must be"):
        instruments.hold_memory(0)
    with pytest.raises(ValueError, match="hold"):
        instruments.hold_memory(10, hold=3600)


def test_tool_rows_come_from_the_lessons_that_run_the_tools():
    import importlib

    for package, _ in check.TOOL_ROWS:  # their own tests judge the agreement itself
        assert callable(importlib.import_module(f"helpers.lessons.{package}.check").tool_agreement)


def test_a_lesson_without_tool_agreement_gives_a_row_that_says_so(monkeypatch):
    monkeypatch.setattr(check, "TOOL_ROWS", (("threads", "a tool vs the course's"),))
    (row,) = check.tool_agreement(quick=True)
    assert row.holds is None and "no tool_agreement" in row.why


# -- exercise checks: each rejects a typical wrong answer, accepts the solution, and says what
# to do while unanswered, raising nothing ---------------------------------------------------------


def test_feedback_uss_growth(capsys):
    with measure(interval=0.02) as m:
        block = bytearray(20 * MiB)
        block[::4096] = b"x" * len(block[::4096])
    del block
    assert instruments.feedback_uss_growth(None, m) is False
    assert "Set uss_growth_mib" in capsys.readouterr().out
    assert instruments.feedback_uss_growth(m.growth("uss"), m) is False  # bytes, not MiB
    assert "bytes" in capsys.readouterr().out
    assert instruments.feedback_uss_growth(m.growth("uss") / MiB, m) is True


def solution_pss_of_tree(pid):
    root = psutil.Process(pid)
    return sum(footprint(p).pss for p in [root, *root.children(recursive=True)])


def summed_rss(pid):
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])


def parent_only(pid):
    return footprint(psutil.Process(pid)).pss


@linux_only
def test_feedback_pss_of_tree(capsys):
    assert instruments.feedback_pss_of_tree(summed_rss) is False
    assert "summed RSS" in capsys.readouterr().out
    assert instruments.feedback_pss_of_tree(parent_only) is False
    assert "Add the children" in capsys.readouterr().out
    assert instruments.feedback_pss_of_tree(solution_pss_of_tree) is True


def test_feedback_pss_of_tree_unanswered_raises_nothing(capsys):
    def shipped(pid):
        ...  # your code here

    assert instruments.feedback_pss_of_tree(None) is False
    assert instruments.feedback_pss_of_tree(shipped) is False
    assert "➡️" in capsys.readouterr().out


def solution_start_workers(n, mib):
    with mp_context().Pool(n) as pool:
        pool.map(instruments.hold_memory, [mib] * n, chunksize=1)
        pool.close()
        pool.join()


def one_task_only(n, mib):
    with mp_context().Pool(n) as pool:
        pool.map(instruments.hold_memory, [mib], chunksize=1)
        pool.close()
        pool.join()


def in_the_parent(n, mib):
    instruments.hold_memory(mib, hold=0.3)


@pytest.mark.skipif(sys.platform == "win32", reason="USS per worker: measured on Linux and macOS")
def test_feedback_workers_memory(capsys):
    assert instruments.feedback_workers_memory(one_task_only) is False
    assert "1 of 3 workers" in capsys.readouterr().out
    assert instruments.feedback_workers_memory(in_the_parent) is False
    assert "ran here" in capsys.readouterr().out
    assert instruments.feedback_workers_memory(solution_start_workers, predicted_mib=30) is True
    assert "you predicted 30 MiB" in capsys.readouterr().out


def test_feedback_workers_memory_unanswered_raises_nothing(capsys):
    def shipped(n, mib):
        ...  # your code here

    assert instruments.feedback_workers_memory(None) is False
    assert instruments.feedback_workers_memory(shipped) is False
    assert "started no process" in capsys.readouterr().out
