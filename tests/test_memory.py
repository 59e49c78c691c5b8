"""Lesson 04's helpers: the page-level view, the big global, the cases and their verdicts.

The cases run once per module (two workers, small data) and the tests read their figures.
Sizes are compared with what the data's own objects take, measured in the workers
themselves, so other programs on the machine cannot move them.
"""

from __future__ import annotations

import gc
import sys

import pytest

from helpers import machine, pages
from helpers.lessons import memory
from helpers.lessons.memory import cases as cases_module
from helpers.lessons.memory.findings import SHARED
from helpers.runner import process_pool
from helpers.workloads import memory as work

MiB = 2**20
WORKERS = 2
SIZE_MB = 16
linux_pages = pytest.mark.skipif(
    bool(pages.unavailable_reason()), reason=pages.unavailable_reason() or "available"
)
needs_fork = pytest.mark.skipif(
    "fork" not in machine.start_methods(), reason="this platform has no fork start method"
)


# -- helpers.pages -------------------------------------------------------------------------


@linux_pages
def test_rollup_sees_a_private_buffer_within_10_percent():
    before = pages.rollup().private
    buffer = bytearray(b"\x01") * (32 * MiB)  # written, so every page is really there
    grown = pages.rollup().private - before
    assert abs(grown - 32 * MiB) <= 0.1 * 32 * MiB, grown / MiB
    assert pages.private_bytes() >= 32 * MiB
    del buffer


def test_page_counts_name_their_parts():
    counts = pages.PageCounts(8192, 4096, 4096, 0, 4096, 0, 4096)
    assert counts.private == 4096 and counts.shared == 4096 and counts.pages("rss") == 2
    with pytest.raises(ValueError, match="private, shared"):
        counts.pages("everything")


def test_no_proc_means_none_and_a_reason(monkeypatch, tmp_path):
    monkeypatch.setattr(pages, "_PROC", tmp_path / "no-proc")
    assert pages.rollup() is None
    assert pages.exclusive_pages([1, 2, 3]) is None
    assert pages.unavailable_reason()


def _write_half_and_look(page_numbers):
    """In a forked child: which parent pages it holds alone, before and after writing half."""
    before = pages.exclusive_pages(page_numbers)
    half = len(page_numbers) // 2
    buffer = _shared_buffer
    buffer[: half * pages.PAGE_SIZE : pages.PAGE_SIZE] = 7  # one write per page
    after = pages.exclusive_pages(page_numbers)
    return int(before.sum()), int(after[:half].sum()), int(after[half:].sum())


_shared_buffer = None


@linux_pages
@needs_fork
def test_pagemap_shows_the_pages_a_forked_child_copied():
    import numpy as np

    global _shared_buffer
    _shared_buffer = np.ones(80 * pages.PAGE_SIZE, dtype=np.uint8)  # written by the parent
    start = -(-_shared_buffer.ctypes.data // pages.PAGE_SIZE)  # first whole page
    _shared_buffer = _shared_buffer[start * pages.PAGE_SIZE - _shared_buffer.ctypes.data :]
    watched = np.arange(start, start + 64)
    try:
        with process_pool(1, start_method="fork") as pool:
            before, written, untouched = pool.apply(_write_half_and_look, (watched,))
    finally:
        _shared_buffer = None
    assert before <= 2  # shared with the parent until written
    assert written == 32
    assert untouched <= 2


@linux_pages
def test_object_pages_of_distinct_ints():
    ints = list(range(10**6, 10**6 + 200_000))
    found = pages.object_pages(ints)
    expected = 200_000 * 32 / pages.PAGE_SIZE  # 28-byte ints in 32-byte blocks
    assert abs(len(found) - expected) <= 0.05 * expected
    assert list(found) == sorted(set(found))


# -- helpers.workloads.memory --------------------------------------------------------------


def test_data_spec_rejects_bad_input():
    with pytest.raises(ValueError, match="kind must be one of"):
        work.DataSpec("tuples", 10)
    with pytest.raises(ValueError, match="at least 1"):
        work.DataSpec("distinct", 0)


@pytest.mark.parametrize("kind", list(work.KINDS))
def test_footprint_matches_the_size_asked_for(kind):
    spec = work.DataSpec.for_size(kind, 4 * MiB)
    assert abs(work.data_bytes(work.build(spec)) - 4 * MiB) <= 0.03 * 4 * MiB


def test_prepare_keeps_inherited_data_and_rebuilds_missing_data():
    spec = work.DataSpec("distinct", 1000)
    try:
        inherited = work.publish(spec)
        work.prepare(spec)
        assert work.data is inherited and not work.WorkerNotes.rebuilt
        work.clear()
        work.prepare(spec)
        assert work.WorkerNotes.rebuilt and work.data == inherited and work.data is not inherited
    finally:
        work.clear()
        work.WorkerNotes.barrier = None


# -- the cases -----------------------------------------------------------------------------

NAMES = [
    "repeated",
    "distinct",
    "numpy",
    "bytes",
    "gc-default",
    "gc-freeze",
    "gc-disabled",
    "freeze-read",
    "arguments",
    "spawn",
]


@pytest.fixture(scope="module")
def runs():
    wanted = [n for n in NAMES if cases_module.CASES[n].method in machine.start_methods()]
    return memory.compare(wanted, workers=WORKERS, size_mb=SIZE_MB)


def _only(runs, name):
    if name not in runs:
        pytest.skip(f"{name} could not run here: {runs.skipped.get(name, '')}")
    return runs[name]


@needs_fork
def test_summed_rss_counts_the_shared_list_once_per_process(runs):
    r = _only(runs, "repeated")
    # every process maps the whole list: parent and each worker
    assert r.growth("rss") >= 0.8 * (WORKERS + 1) * r.data_bytes
    assert r.copied_share <= SHARED


@needs_fork
def test_pss_total_counts_the_shared_list_once(runs):
    r = _only(runs, "repeated")
    metric = r.measurement.total_metric
    assert 0.8 * r.data_bytes <= r.growth(metric) <= 1.6 * r.data_bytes


@needs_fork
def test_reading_distinct_objects_copies_their_pages(runs):
    r = _only(runs, "distinct")
    assert r.copies / WORKERS >= 0.6  # the ints; the array of pointers stays shared
    if r.items_pages_alone is not None:
        assert r.items_pages_alone >= 0.9


@needs_fork
@pytest.mark.parametrize("name", ["numpy", "bytes"])
def test_one_big_buffer_stays_shared(runs, name):
    r = _only(runs, name)
    assert memory.outcome(r.copied_share) == "shared", r.copied_share


@needs_fork
def test_a_full_collection_copies_what_the_gc_tracks(runs):
    r = _only(runs, "gc-default")
    assert r.full_collections >= WORKERS  # on every version: the workers collect deliberately
    if r.items_pages_alone is not None:
        assert r.items_pages_alone >= 0.9


@needs_fork
def test_gc_freeze_stops_the_collections_copies_but_not_reading_ones(runs):
    frozen, read = _only(runs, "gc-freeze"), _only(runs, "freeze-read")
    assert frozen.full_collections >= WORKERS  # the GC ran, and still copied nothing
    assert memory.outcome(frozen.copied_share) == "shared", frozen.copied_share
    assert memory.outcome(read.copied_share) != "shared", read.copied_share


@needs_fork
def test_gc_disabled_in_the_parent_means_no_collections_in_workers(runs):
    r = _only(runs, "gc-disabled")
    assert r.full_collections == 0
    assert memory.outcome(r.copied_share) == "shared", r.copied_share


def test_the_parent_gc_and_global_are_restored(runs):
    assert runs.cases
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert work.data is None and work.watched_pages is None


def test_spawn_workers_rebuild_the_global(runs):
    r = _only(runs, "spawn")
    assert r.rebuilt == WORKERS
    assert r.copies >= 0.8 * WORKERS


def test_task_arguments_are_copied_per_task(runs):
    r = _only(runs, "arguments")
    assert r.rebuilt == 0
    assert r.copies >= 0.8 * WORKERS


def test_findings_and_verdict_come_from_the_run(runs):
    assert runs.findings and all(isinstance(f, str) for f in runs.findings)
    rows = memory.verdict(runs).rows
    assert [row["case"] for row in rows] == runs.names
    for row in rows:
        assert row["this run"] == memory.outcome(runs[row["case"]].copied_share)


def test_memory_profiler_adds_up_rss(runs):
    view = memory.memory_profiler_view(runs)
    by_case = {row["case"]: row for row in view.rows}
    if "repeated" in by_case:
        key = next(k for k in by_case["repeated"] if k.startswith("overcount"))
        assert by_case["repeated"][key] >= 0.7 * WORKERS


def test_charts_draw(runs):
    figures = runs.plot()
    assert figures and all(f.axes for f in figures)
    assert runs.plot_copies().axes


# -- bad input, failures and interrupts ----------------------------------------------------


def test_bad_input_says_what_is_allowed(monkeypatch):
    with pytest.raises(ValueError, match="at least 1"):
        memory.run_case("repeated", workers=0)
    with pytest.raises(ValueError, match="known cases"):
        memory.run_case("no-such-case")
    with pytest.raises(ValueError, match="gc_mode must be one of"):
        memory.run_case("repeated", gc_mode="off")
    with pytest.raises(ValueError, match="positive number of MiB"):
        memory.run_case("repeated", size_mb=-1)
    for module in (machine, cases_module):
        monkeypatch.setattr(module, "memory_budget_bytes", lambda: 50 * MiB)
    assert memory.default_size_mb(4) == 10  # shrunk: 5 copies must fit in 50 MiB
    with pytest.raises(ValueError, match="memory budget of 50 MiB"):
        memory.run_case("repeated", workers=4, size_mb=20)


def _broken_read(items, steps):
    raise RuntimeError("this worker fails on purpose")
    yield  # a generator, like the function it replaces


@needs_fork
def test_a_failing_worker_ends_the_case_quickly_and_cleanly(monkeypatch):
    import time

    monkeypatch.setattr(work, "read_in_parts", _broken_read)  # forked workers inherit it
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="fails on purpose|another worker failed"):
        memory.run_case("gc-freeze", work="read", workers=WORKERS, size_mb=4)
    assert time.perf_counter() - start < work.BARRIER_TIMEOUT / 2
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert work.data is None


@needs_fork
def test_an_interrupt_stops_the_workers(monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cases_module, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        memory.run_case("gc-disabled", workers=WORKERS, size_mb=4)
    assert gc.isenabled() and work.data is None
    # the autouse fixture checks that no worker is left running


# -- the page-level view and reference counts ----------------------------------------------


@linux_pages
@needs_fork
def test_page_view_counts_pages_made_private_as_the_list_is_read():
    view = memory.page_view(size_mb=4, steps=4)
    assert not view.reason
    assert view.fractions == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert view.private_pages == sorted(view.private_pages)
    assert view.private_pages[-1] >= view.object_pages
    # past the first step (which also holds the worker's own first allocations), every
    # quarter read makes a quarter of the ints' pages private
    three_quarters = view.private_pages[-1] - view.private_pages[1]
    assert abs(three_quarters - 0.75 * view.object_pages) <= 0.1 * view.object_pages
    assert view.object_pages_private[-1] >= 0.95 * view.object_pages
    assert abs(view.object_pages_private[2] - view.object_pages / 2) <= 0.1 * view.object_pages
    assert memory.feedback_page_prediction(view, None) is False  # unanswered: no error
    half = view.private_pages[2]
    assert memory.feedback_page_prediction(view, half) is True
    assert memory.feedback_page_prediction(view, half * 4) is False  # bytes, not pages


def test_reference_counts_say_which_python_has_immortal_objects():
    rows = {row["object"]: row for row in memory.reference_counts().rows}
    assert rows["1111111 (a big int)"]["count written?"]
    assert rows["a list"]["count written?"]  # a learner's own objects stay mortal
    immortal = sys.version_info >= (3, 12)
    for name in ("None", "int (a static type)", "'abc' (a string literal, interned)"):
        assert rows[name]["count written?"] is not immortal, name
    runtime = rows["sys.intern() at run time"]["count written?"]
    assert runtime is (sys.version_info < (3, 12) or sys.version_info >= (3, 13))


def test_a_start_method_this_platform_lacks_is_skipped_not_an_error(monkeypatch):
    with pytest.raises(ValueError, match="start_method must be one of"):
        memory.get_case("repeated", start_method="threads")
    monkeypatch.setattr(cases_module, "start_methods", lambda: ["fork"])  # no spawn here
    with pytest.raises(RuntimeError, match="needs the spawn start method"):
        memory.run_case("spawn", workers=1, size_mb=1)
    result = memory.compare(["spawn"], workers=1, size_mb=1)
    assert not result.cases and "spawn" in result.skipped
    assert result.rows[0]["what"].startswith("skipped")


# -- the learner's cells: a Pool over the notebook's own global ------------------------------

_main_global = "course_test_data"


def _pool_over_main_global(monkeypatch, data, worker, args):
    import multiprocessing

    import __main__
    from helpers import measure

    monkeypatch.setattr(__main__, _main_global, data, raising=False)
    with measure() as m, multiprocessing.get_context("fork").Pool(WORKERS) as pool:
        reports = pool.map(worker, args, chunksize=1)
        pool.close()
        pool.join()
    return m, reports


@needs_fork
def test_observed_reads_a_learner_run_of_distinct_ints(monkeypatch):
    data = list(range(1000, 1000 + 200_000))
    m, reports = _pool_over_main_global(
        monkeypatch, data, work.read_every_item, [_main_global] * WORKERS
    )
    r = memory.observed("distinct", m, reports, data)
    assert r.workers >= 1 and r.case.name == "distinct"
    assert r.median_worker_private >= 0.6 * (r.data_bytes - 8 * len(data))


@needs_fork
def test_collect_garbage_runs_a_full_collection_on_every_version():
    with process_pool(1, start_method="fork") as pool:
        report = pool.apply(work.collect_garbage, (0.0,))
    assert report.full_collections >= 1 and report.automatic_collections is not None


def test_a_worker_without_the_global_says_why():
    with pytest.raises(RuntimeError, match="was not forked"):
        work.main_global("no_such_global_anywhere")


# -- exercises: each rejects a typical wrong answer, accepts the solution, and an unanswered
# exercise raises nothing -----------------------------------------------------------------


def _unanswered(n):
    ...


@needs_fork
def test_shared_data_exercise(capsys):
    import numpy as np

    n = 300_000
    assert memory.feedback_shared_data(_unanswered, n=n, workers=2) is False
    assert memory.feedback_shared_data(None, n=n, workers=2) is False
    assert memory.feedback_shared_data(lambda k: list(range(1000, 1000 + k)), n=n, workers=2) is False
    assert "it copied the data" in capsys.readouterr().out
    assert memory.feedback_shared_data(lambda k: range(1000, 1000 + k), n=n, workers=2) is False
    assert "holds no data" in capsys.readouterr().out
    solution = lambda k: np.arange(1000, 1000 + k, dtype=np.int64)  # noqa: E731
    assert memory.feedback_shared_data(solution, n=n, workers=2) is True


def _pool_run(workers, before):
    import multiprocessing

    before()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        reports = pool.map(work.collect_garbage, [0.1] * workers, chunksize=1)
        pool.close()
        pool.join()
    return reports


@needs_fork
def test_gc_safe_pool_exercise(capsys):
    def unanswered(workers):
        ...

    assert memory.feedback_gc_safe_pool(unanswered, size_mb=16) is False
    as_is = memory.feedback_gc_safe_pool(lambda w: _pool_run(w, lambda: None), size_mb=16)
    assert as_is is False and "the GC wrote" in capsys.readouterr().out
    disabled = memory.feedback_gc_safe_pool(lambda w: _pool_run(w, gc.disable), size_mb=16)
    assert disabled is False and "no full collection" in capsys.readouterr().out
    assert gc.isenabled()  # the check put the notebook's GC back
    assert memory.feedback_gc_safe_pool(lambda w: _pool_run(w, gc.freeze), size_mb=32) is True
    assert gc.get_freeze_count() == 0


# -- forkserver: the course's version sentence against this Python ---------------------------


def test_forkserver_version_rule():
    from helpers.lessons.memory import forkserver

    for version, expected in (
        ((3, 11, 7), "rebuilds"),
        ((3, 13, 0), "rebuilds"),
        ((3, 13, 7), "rebuilds"),
        ((3, 13, 8), "shares"),
        ((3, 14, 0), "rebuilds"),
        ((3, 14, 1), "shares"),
        ((3, 15, 0), "shares"),
    ):
        assert forkserver.expected_behaviour(version) == expected, version
        assert ("rebuilds" in forkserver.version_sentence(version)) is (expected == "rebuilds")


@pytest.mark.skipif(
    "forkserver" not in machine.start_methods(), reason="this platform has no forkserver"
)
def test_forkserver_sentence_matches_this_python():
    from helpers.lessons.memory import forkserver

    measured = memory.forkserver_copies(preload=False)
    seen = "rebuilds" if measured >= 0.5 else "shares"
    assert seen == forkserver.expected_behaviour(), (measured, memory.version_sentence())
    assert memory.forkserver_copies(preload=True) <= 0.2  # preload shares on every version


# -- memray against USS ----------------------------------------------------------------------


@needs_fork
def test_memray_sees_the_list_built_not_the_pages_copied():
    from helpers.lessons.memory import allocations

    if allocations.memray_reason():
        pytest.skip(allocations.memray_reason())
    view = memory.memray_vs_uss(workers=2, items=400_000)
    parent = [r for r in view.rows if r["process"] == "parent"]
    workers = [r for r in view.rows if r["process"] == "worker"]
    assert len(parent) == 1 and len(workers) == 2
    ints = 400_000 * 32 / MiB
    assert parent[0]["memray: peak memory (MiB)"] >= 0.9 * ints
    for row in workers:
        assert row["memray: peak memory (MiB)"] < 0.3 * ints
        assert row["course: USS growth while reading (MiB)"] >= 0.7 * ints


# -- the check: effects named once -----------------------------------------------------------


def test_the_reference_files_name_effects_this_check_defines():
    import json
    from pathlib import Path

    from helpers.course.check import Rule
    from helpers.lessons.memory import check

    names = {v.effect for v in vars(check).values() if isinstance(v, Rule)}
    names |= {r.effect for r in check.FORKSERVER_GLOBAL.values()}
    for path in Path(__file__).parent.parent.glob("data/reference/*.json"):
        recorded = json.loads(path.read_text())
        effects = recorded.get("effects", []) if isinstance(recorded, dict) else recorded
        for e in effects:
            if isinstance(e, dict) and e.get("lesson") == "memory" and e.get("holds") is not None:
                assert e["effect"] in names, (path.name, e["effect"])
