"""Lesson 03, GIL contention: workloads, turn analysis, experiments, checks, references."""

from __future__ import annotations

import json
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers.course import reference
from helpers.course.check import machine_record, report_only
from helpers.course.registry import check_sections, experiments, resolve
from helpers.lessons import gil
from helpers.lessons.gil import profilers
from helpers.lessons.gil.handoff import contended_turns
from helpers.lessons.gil.threads import VARIANTS
from helpers.machine import gil_enabled, usable_cores
from helpers.workloads import gil as work

two_cores = pytest.mark.skipif(usable_cores() < 2, reason="needs 2 usable cores")
with_gil = pytest.mark.skipif(not gil_enabled(), reason="needs a Python with the GIL")


@pytest.fixture(autouse=True)
def no_leftover_threads():
    """Every test ends with no lesson thread alive and the switch interval as it was."""
    interval = sys.getswitchinterval()
    yield
    assert work.running_threads() == [], "a lesson thread is still running"
    assert sys.getswitchinterval() == interval, "the switch interval was not restored"


def _progress(label, start, stamps):
    return work.Progress(label, 1, label, start, list(stamps), 0.0)


@pytest.fixture
def alarm():
    """alarm(seconds): raise KeyboardInterrupt in the main thread after seconds, like Ctrl-C."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    yield lambda seconds: signal.setitimer(signal.ITIMER_REAL, seconds)
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, old)


# -- turn analysis on made-up stamps --------------------------------------------------------


def test_find_turns_splits_where_the_thread_changes():
    a = _progress("a", 0.0, [1, 2, 3, 7, 8, 9])
    b = _progress("b", 0.0, [4, 5, 6, 10, 11])
    turns = gil.find_turns([a, b])
    assert [(t.thread, t.start, t.end) for t in turns] == [
        (0, 0.0, 3),
        (1, 3, 6),
        (0, 6, 9),
        (1, 9, 11),
    ]
    # only turns while both ran (until 9), without the first and last (cut short)
    assert [(t.thread, t.length) for t in contended_turns([a, b])] == [(1, 3)]


def test_progress_spans_merge_close_stamps_and_break_at_gaps():
    p = _progress("a", 0.0, [0.1, 0.2, 0.3, 1.0, 1.1])
    assert work.progress_spans(p, block=0.1) == [(0.0, 0.3), (0.9, 1.1)]


def test_median_turn_is_nan_without_contention():
    a = _progress("a", 0.0, [1, 2])
    b = _progress("b", 5.0, [6, 7])
    result = gil.HandoffResult("t", {}, progress=[a, b], switch_interval=0.005)
    assert result.turns == []
    assert result.median_turn != result.median_turn  # nan


# -- workloads ------------------------------------------------------------------------------


def test_stamped_spin_stamps_in_order_and_stops_early():
    every = work.block_steps()
    p = work.stamped_spin(every * 20, every, label="x")
    assert len(p.stamps) == 20 and p.label == "x"
    assert all(a < b for a, b in zip(p.stamps, p.stamps[1:], strict=False))
    assert p.start < p.stamps[0] and p.cpu > 0
    stop = threading.Event()
    stop.set()
    assert len(work.stamped_spin(every * 20, every, stop).stamps) == 1


def test_steps_for_is_whole_blocks_and_rejects_bad_input():
    every = work.block_steps()
    assert work.steps_for(0.01, every) % every == 0
    for bad in (0, -1, True, "1"):
        with pytest.raises(ValueError, match="positive"):
            work.steps_for(bad)


def test_switch_interval_is_restored_after_an_error():
    before = sys.getswitchinterval()
    with pytest.raises(RuntimeError), work.switch_interval(0.001):
        assert sys.getswitchinterval() == pytest.approx(0.001)
        raise RuntimeError
    assert sys.getswitchinterval() == before
    for bad in (0, -0.1, True, "fast"):
        with pytest.raises(ValueError, match="positive number of seconds"):
            work.switch_interval(bad).__enter__()


def test_thread_group_stops_its_threads_on_error_and_interrupt():
    every = work.block_steps()
    for error in (RuntimeError, KeyboardInterrupt):
        with (
            pytest.raises(error),
            work.thread_group([lambda stop: work.spin_until(stop, every)] * 2),
        ):
            assert len(work.running_threads()) == 2
            raise error
        assert work.running_threads() == []


def test_run_threads_reports_a_worker_error_and_stops_the_others():
    every = work.block_steps()

    def fail(stop):
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        work.run_threads([lambda stop: work.spin_until(stop, every), fail], timeout=10)


def test_run_threads_times_out_and_stops():
    every = work.block_steps()
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="did not finish"):
        work.run_threads([lambda stop: work.spin_until(stop, every)], timeout=0.2)
    assert time.perf_counter() - start < 5


def test_busy_threads_run_only_inside_the_block():
    with work.busy_threads(2) as group:
        assert sum(t.is_alive() for t in group.threads) == 2
    with work.busy_threads(0) as group:
        assert group.threads == []


def test_c_work_kinds_run_and_unknown_kinds_are_refused():
    inputs = work.make_inputs(2**16)
    for kind in work.KINDS:
        assert work.c_work(kind, 2, inputs) == 2
        assert work.unit_seconds(kind, inputs, repeats=1) > 0
    stop = threading.Event()
    stop.set()
    assert work.c_work("sha256", 5, inputs, stop) == 0
    with pytest.raises(ValueError, match="known kinds"):
        work.c_work("rust", 1, inputs)


def test_wakeup_delays_are_small_alone():
    delays = work.wakeup_delays(10, 0.001)
    assert len(delays) == 10 and min(delays) > -0.0005


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gil.threads_vs_processes(workers=0), "at least 1"),
        (lambda: gil.threads_vs_processes(task_seconds=0), "positive"),
        (lambda: gil.handoff(threads=0), "at least 1"),
        (lambda: gil.handoff(interval=-1), "positive"),
        (lambda: gil.switch_interval_sweep(intervals=()), "positive numbers"),
        (lambda: gil.convoy(intervals=(0,)), "positive numbers"),
        (lambda: gil.convoy(cpu_threads=(-1,)), "at least 0"),
        (lambda: gil.gil_release(kinds=("rust",)), "known kinds"),
        (lambda: gil.gil_release(threads=(0,)), "at least 1"),
        (lambda: gil.gil_release(nbytes=2**62), "memory budget"),
    ],
)
def test_bad_parameters_say_what_is_allowed(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# -- experiments: they run, clean up, and show the effects ----------------------------------


def test_threads_vs_processes_runs_and_draws():
    r = gil.threads_vs_processes(workers=2, task_seconds=0.05, repeats=1, start_method="spawn")
    assert {run.variant for run in r.runs} == set(VARIANTS)
    assert all(len(run.work) == 2 and run.progress for run in r.runs)
    assert r.findings and r.rows[0]["variant"] == "sequential"
    processes = next(run for run in r.runs if run.variant == "processes")
    assert processes.start_skew < 0.05  # the Barrier lets both begin together, even under spawn
    figures = r.plot()
    assert len(figures) == 2


def test_compare_times_the_learners_own_functions():
    steps = work.steps_for(0.05)

    def one_after_another():
        work.work(steps)
        work.work(steps)

    def two_threads():  # the notebook's cell, as a learner writes it
        threads = [threading.Thread(target=work.work, args=(steps,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    r = gil.compare({"sequential": one_after_another, "threads": two_threads}, repeats=2)
    assert [run.variant for run in r.runs] == ["sequential", "threads", "threads", "sequential"]
    assert all(len(run.work) == 2 for run in r.runs)
    assert r.speedup("sequential") == 1.0 and r.cores_busy("threads") > 0
    assert r.plot_timelines() is not None
    with pytest.raises(ValueError, match="no worker reported"):
        gil.compare({"idle": lambda: None}, repeats=1)


@two_cores
@with_gil
def test_threads_do_not_scale_and_processes_do():
    r = gil.threads_vs_processes(workers=2, task_seconds=0.2, repeats=3)
    # Cores in use while both workers ran, from the workers' own progress stamps: threads
    # take turns on one core's worth, processes use two. The processes wait at a Barrier
    # until both are up, and the window covers the work only, so neither a process's
    # start-up nor its result's trip back counts as idle time (the cause of 1.5 before).
    assert r.cores_busy("threads") < 1.2 < 1.6 < r.cores_busy("processes"), r.rows


@with_gil
def test_handoff_turns_last_at_least_about_one_switch_interval():
    r = gil.handoff(threads=2, seconds=0.2, interval=0.005)
    assert len(r.turns) >= 5
    assert 4.0 <= r.median_turn * 1e3 <= 20.0, r.findings
    r.plot()


@with_gil
def test_convoy_delay_grows_beside_a_cpu_thread_and_falls_with_the_interval():
    r = gil.convoy(cpu_threads=(0, 1), intervals=(0.0005, 0.005), samples=10, rounds=3)
    assert r.slowdown(1, 0.005) >= 5, r.rows
    assert r.median(1, 0.0005) <= 0.5 * r.median(1, 0.005), r.rows
    # the delay follows the interval below 1 ms: a precise timed wait, not a 1-4 ms tick
    assert r.median(1, 0.0005) < 0.001, r.rows
    assert any("switch interval -> median delay" in f for f in r.findings)
    r.plot()


@two_cores
@with_gil
def test_sha256_scales_and_pure_python_does_not():
    r = gil.gil_release(kinds=("pure Python", "sha256"), seconds=0.1, repeats=5)
    # CPU seconds per wall second, steady where wall-clock speed-ups swing with the CPU's speed
    assert r.cores_busy("sha256", 2) >= 1.5, r.rows
    assert r.cores_busy("pure Python", 2) <= 1.2, r.rows
    r.plot()


def test_switch_interval_sweep_measures_every_interval():
    r = gil.switch_interval_sweep(intervals=(0.0005, 0.005), work_seconds=0.05, repeats=1)
    assert set(r.speedups) == {0.0005, 0.005}
    assert all(r.delays[s] for s in r.speedups)
    r.plot()


def test_interrupts_leave_no_thread_or_process(alarm):
    alarm(0.3)
    with pytest.raises(KeyboardInterrupt):
        gil.handoff(threads=2, seconds=5)
    alarm(0.3)
    with pytest.raises(KeyboardInterrupt):
        gil.convoy(samples=1000, rounds=1)
    alarm(0.8)  # the pool and the sampler are running by then
    with pytest.raises(KeyboardInterrupt):
        gil.threads_vs_processes(workers=2, task_seconds=2, repeats=1)
    # the autouse fixtures check threads, the switch interval and child processes


# -- the check section and the registry -------------------------------------------------------


def test_gil_is_registered_in_teaching_order():
    sections = check_sections()
    assert sections["gil"] == "helpers.lessons.gil.check:check"
    names = list(sections)
    if "threads" in names:
        assert names.index("threads") < names.index("gil")
    for name in ("gil-threads-vs-processes", "gil-handoff", "gil-convoy", "gil-release"):
        assert resolve(experiments()[name]).__doc__


# -- exercise checks ---------------------------------------------------------------------------


def hash_on_threads(data, chunk):  # exercise 1's solution, as in the notebook
    import hashlib

    view = memoryview(data)
    pieces = [view[i : i + chunk] for i in range(0, len(data), chunk)]
    digests = [None] * len(pieces)

    def hash_share(first):
        for k in range(first, len(pieces), 2):
            digests[k] = hashlib.sha256(pieces[k]).digest()

    threads = [threading.Thread(target=hash_share, args=(first,)) for first in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return digests


def test_hash_exercise_unanswered_and_wrong_results_are_feedback(capsys):
    data = bytes(range(256)) * 4096  # 1 MiB
    assert gil.feedback_hash_threads(hash_on_threads, None, data) is None
    assert gil.feedback_hash_threads(lambda data, chunk: None, 4096, data) is None
    assert "MY_CHUNK" in capsys.readouterr().out
    assert gil.feedback_hash_threads(lambda d, c: [b"x"], 4096, data) is False
    assert "not the sha256" in capsys.readouterr().out
    assert gil.feedback_hash_threads(lambda d, c: 1 / 0, 4096, data) is False
    assert "ZeroDivisionError" in capsys.readouterr().out


@two_cores
@with_gil
def test_hash_exercise_rejects_small_pieces_and_accepts_big_ones(capsys):
    data = os.urandom(64 * 2**20)  # as in the notebook: runs long enough to count the cores
    assert gil.feedback_hash_threads(hash_on_threads, 256, data, repeats=1) is False
    assert "under 2 KiB" in capsys.readouterr().out  # the typical mistake, in its own words
    assert gil.feedback_hash_threads(hash_on_threads, 2**20, data, repeats=5) is True


def test_switch_interval_exercise_feedback_without_raising(capsys):
    assert gil.feedback_switch_interval(lambda job: None, samples=3) is None  # unanswered

    def forgets_to_restore(job):
        sys.setswitchinterval(0.0005)
        return job()

    assert gil.feedback_switch_interval(forgets_to_restore, samples=3) is False
    assert "left the switch interval" in capsys.readouterr().out

    def raises(job):
        raise RuntimeError("oops")

    assert gil.feedback_switch_interval(raises, samples=3) is False
    # the autouse fixture checks the interval was put back each time


@with_gil
def test_switch_interval_exercise_refuses_the_default_and_accepts_a_short_interval():
    def responsive(interval):
        def run_responsively(job):
            old = sys.getswitchinterval()
            sys.setswitchinterval(interval)
            try:
                return job()
            finally:
                sys.setswitchinterval(old)

        return run_responsively

    assert gil.feedback_switch_interval(responsive(0.005), samples=10) is False
    assert gil.feedback_switch_interval(responsive(0.0002), samples=10) is True


def test_median_turn_exercise():
    turns = gil.handoff(threads=2, seconds=0.1)
    assert gil.feedback_median_turn(lambda stamps: None, turns) is None
    assert gil.feedback_median_turn(lambda s: 1 / 0, turns) is False
    assert gil.feedback_median_turn(lambda s: 1000.0, turns) is False

    def median_turn_ms(stamps_per_thread):  # the notebook's solution
        import statistics
        from itertools import pairwise

        merged = sorted((t, i) for i, stamps in enumerate(stamps_per_thread) for t in stamps)
        ends = [t for (t, i), (_, j) in pairwise(merged) if i != j]
        return statistics.median(b - a for a, b in pairwise(ends)) * 1000

    if turns.turns:
        assert gil.feedback_median_turn(median_turn_ms, turns) is True


def test_exercise_names_are_what_the_summary_lists():
    assert gil.EXERCISES == [
        "hash on threads", "a responsive I/O thread", "median turn", "interpreters in threads"
    ]


# -- py-spy against the course ----------------------------------------------------------------


def test_count_samples_reads_py_spy_raw_lines():
    raw = (
        "thread (123): course-1;f (a.py:1);g (a.py:2) 30\n"
        "thread (123): course-1;f (a.py:1) 10\n"
        "thread (0x7f): course-2;f (a.py:1) 20\n"
        "thread (9);<module> (b.py:1) 5\n"
    )
    assert profilers.count_samples(raw) == {123: 40, 0x7F: 20, 9: 5}


def test_py_spy_row_is_not_applicable_where_py_spy_cannot_run(monkeypatch):
    monkeypatch.setattr(profilers, "py_spy_path", lambda: None)
    (row,) = gil.tool_agreement(quick=True)
    assert row.effect == gil.PY_SPY.effect and row.holds is None
    assert row.why.startswith("not applicable here: py-spy is not installed")


@pytest.mark.skipif(profilers.why_py_spy_cannot_run() != "", reason="py-spy cannot run here")
def test_py_spy_gil_shares_agree_with_the_course():
    spy = gil.py_spy_gil_share(rate=500)
    assert not spy.why_not, spy.why_not
    assert set(spy.held) == {"course-1", "course-2"}
    assert spy.course_share("course-1") > 0.55  # twice the work: about two thirds of the turns
    assert gil.PY_SPY.holds(spy.disagreement_pp), spy.rows
    assert not list(Path(tempfile.gettempdir()).glob("helpers-pyspy-*")), "temp folder left"


# -- free-threaded references -----------------------------------------------------------------


def _write_check(path, speedup, **machine):
    effects = [
        report_only("gil", gil.THREADS_EFFECT, speedup, unit="x"),
        report_only("threads", "something else", 1.0),
    ]
    document = machine_record(effects)  # exactly what `python -m helpers check --json` prints
    document["machine"].update(machine)
    path.write_text(json.dumps(document))


def test_free_threading_without_references_says_how_to_record_one(tmp_path):
    status = gil.free_threading(tmp_path / "absent")
    assert status.references == []
    assert status.gil_enabled == gil_enabled()
    assert gil.RECORD_COMMAND in str(status) and "No free-threaded reference" in str(status)
    assert "No free-threaded reference" in status._repr_html_()
    assert status.plot() is None  # nothing recorded: no chart that would look like a result


def test_free_threaded_reference_is_loaded_and_labelled(tmp_path):
    _write_check(tmp_path / "ft-box.json", 1.93, gil_enabled=False, python="CPython 3.13.1")
    status = gil.free_threading(tmp_path)
    (ref,) = status.references
    assert [e["lesson"] for e in ref.effects] == ["gil"]  # other lessons' effects dropped
    rows = status.rows()
    assert rows[0]["file"] == "ft-box.json" and "3.13.1" in rows[0]["machine"]
    assert "ft-box.json" in status._repr_html_() and "1.93" in str(status)
    status.plot(ours=None)


def test_free_threaded_folder_refuses_gil_builds_and_garbage(tmp_path):
    _write_check(tmp_path / "gil-box.json", 1.0, gil_enabled=True)
    with pytest.raises(ValueError, match="GIL enabled"):
        gil.load_references(tmp_path)
    (tmp_path / "gil-box.json").write_text("{not json")
    with pytest.raises(ValueError, match="gil-box.json"):
        gil.load_references(tmp_path)


def test_shipped_free_threaded_references_are_real_check_output():
    for ref in gil.load_references():  # data/reference/free_threaded/*.json, if any
        assert ref.machine["gil_enabled"] is False
        assert {"lesson", "effect", "expected", "measured"} <= set(ref.effects[0])
    assert gil.free_threaded_dir().parent == reference.reference_dir()


def test_citations_have_sources_and_are_drawn_apart_from_ours():
    for c in gil.CITATIONS:
        assert c.source and c.url.startswith("http")
    fake = gil.ThreadsVsProcessesResult("t", {}, runs=[])
    fake.speedup = lambda variant: 1.0  # the chart only needs the threads' speed-up
    fig = gil.plot_published(fake)
    assert len(fig.axes[0].patches) == 1 + sum(
        c.quantity == gil.THREADS_EFFECT for c in gil.CITATIONS
    )


def test_effect_names_match_the_recorded_reference_files():
    rules = {
        gil.THREADS.effect,
        gil.PROCESSES.effect,
        gil.SHA256.effect,
        gil.CONVOY.effect,
        gil.CONVOY_FALLS.effect,
        "hand-off: median turn of 2 CPU-bound threads (switch interval 5 ms)",
    }
    recorded_files = list((Path(__file__).parent.parent / "data" / "reference").glob("*.json"))
    assert recorded_files
    for path in recorded_files:
        recorded = {
            e["effect"] for e in json.loads(path.read_text())["effects"] if e["lesson"] == "gil"
        }
        assert recorded <= rules, (path.name, recorded - rules)
