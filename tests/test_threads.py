"""Lesson 02's experiments: I/O speed-up with threads, the race, the timeline, the checks."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from helpers.lessons import threads
from helpers.workloads import io


def _interrupt_after(seconds: float) -> threading.Timer:
    """Send this process SIGINT (what Ctrl-C or the notebook's stop button does) later."""
    timer = threading.Timer(seconds, os.kill, args=(os.getpid(), signal.SIGINT))
    timer.start()
    return timer


def _no_server_left() -> bool:
    return not any(
        "helpers.servers.http" in " ".join(child.cmdline())
        for child in psutil.Process().children(recursive=True)
    )


# -- I/O speed-up ------------------------------------------------------------------------------


def test_io_speedup_grows_with_threads_and_finds_its_limits():
    before = set(threading.enumerate())
    r = threads.io_speedup(threads=(4, 8), tasks=8, delay=0.05, repeats=1)
    assert r.threads == [1, 4, 8]  # the one-thread baseline is always added
    assert r.median(1) >= 8 * 0.05  # one thread waits for each request in turn
    assert r.speedup(4) >= 2.5  # 2 rounds instead of 8: ideal 4x
    assert r.speedup(8) > r.speedup(4)
    one_request = r.median(1) / 8
    assert r.rounds(4) == 2 and r.rounds_limit(4) == pytest.approx(4 * one_request / 0.05)
    assert r.rounds(8) == 1 and r.rounds_limit(8) == pytest.approx(8 * one_request / 0.05)
    assert all(r.speedup(n) <= r.rounds_limit(n) * 1.02 for n in r.threads)  # a true limit
    assert r.cpu_limit(8) > 1
    assert r.in_flight[8] >= 4
    assert r.plateau in r.threads
    assert [row["threads"] for row in r.rows] == [1, 4, 8]
    assert any("One thread took" in f for f in r.findings)
    assert threads.threads_left(before) == []
    assert _no_server_left()
    r.plot()


def test_server_capacity_caps_the_speedup():
    r = threads.io_speedup(threads=(8,), tasks=8, delay=0.05, repeats=1, max_concurrent=2)
    assert r.rounds(8) == 4
    assert 1.5 <= r.speedup(8) <= 2.2  # 8 requests, 2 at a time: 2x at best


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threads": (0,)},
        {"threads": (1000,)},
        {"threads": (2.5,)},
        {"tasks": 0},
        {"delay": -0.1},
        {"repeats": 0},
        {"tasks": 1000, "delay": 1.0},  # over a minute on one thread
    ],
)
def test_io_speedup_rejects_bad_parameters(kwargs):
    with pytest.raises(ValueError):
        threads.io_speedup(**kwargs)


def test_an_interrupt_stops_the_sweep_and_leaves_nothing_behind():
    before = set(threading.enumerate())
    timer = _interrupt_after(0.8)
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            threads.io_speedup(threads=(1, 2), tasks=40, delay=0.1, repeats=1)  # 4+ s if left
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 2.5  # pending requests were cancelled, not run
    assert threads.threads_left(before) == []
    assert _no_server_left()


def test_thread_pool_cancels_pending_tasks_on_error():
    before = set(threading.enumerate())
    start = time.perf_counter()
    with pytest.raises(RuntimeError), threads.thread_pool(2) as pool:
        for _ in range(20):
            pool.submit(io.wait, 0.1)
        raise RuntimeError("stop")
    assert time.perf_counter() - start < 0.5  # 20 waits on 2 threads would take 1 s
    assert threads.threads_left(before) == []


# -- the timeline -------------------------------------------------------------------------------


def test_io_timeline_records_every_request_on_its_thread():
    r = threads.io_timeline(threads=4, tasks=8, delay=0.05)
    fetches = [t for t in r.measurement.tasks if t.task == "fetch"]
    assert len(fetches) == 8
    assert {t.thread for t in fetches} == {f"io_{i}" for i in range(4)}
    span = max(t.end for t in fetches) - min(t.start for t in fetches)
    assert span < 8 * 0.05 * 0.75  # overlapped, not one after another
    assert all(t.duration >= 0.05 for t in fetches)
    assert sum(row["requests"] for row in r.rows) == 8
    r.plot()


def test_io_timeline_rejects_unreadable_sizes():
    with pytest.raises(ValueError, match="at most 16"):
        threads.io_timeline(threads=64)


# -- the race -----------------------------------------------------------------------------------


def test_race_loses_updates_without_a_lock_and_none_with_it():
    r = threads.race(threads=4, times=100_000)
    assert r.lost["read, I/O, write"] > 0
    assert r.lost["read, I/O, write with a Lock"] == 0
    assert all(0 <= lost <= r.expected[name] for name, lost in r.lost.items())
    assert r.expected["plain +="] == 400_000
    assert len(r.findings) == 5
    r.plot()


def test_race_rejects_unknown_variants_and_sizes():
    with pytest.raises(ValueError, match="known"):
        threads.race(variants=["atomic"])
    with pytest.raises(ValueError):
        threads.race(threads=0)
    with pytest.raises(ValueError, match="at most"):
        threads.race(times=threads.MAX_TIMES + 1)


def test_an_interrupt_during_the_race_leaves_no_thread():
    before = set(threading.enumerate())
    timer = _interrupt_after(0.2)
    try:
        with pytest.raises(KeyboardInterrupt):
            threads.race(threads=4, times=400_000, variants=["read, I/O, write with a Lock"])
    finally:
        timer.cancel()
    assert threads.threads_left(before) == []


# -- daemon threads -----------------------------------------------------------------------------


def test_daemon_thread_is_cut_off_at_exit_and_normal_thread_is_waited_for():
    daemon = threads.daemon_exit(daemon=True, seconds=0.3)
    normal = threads.daemon_exit(daemon=False, seconds=0.3)
    assert any("main: reached the end" in line for line in daemon.output)
    assert not daemon.cleanup_ran
    assert normal.cleanup_ran
    assert any("finished its work" in line for line in normal.output)


# -- exercise checks: each rejects a typical wrong answer, accepts the solution, and says what
# to do while unanswered, raising nothing ----------------------------------------------------


def test_feedback_fetch_all_tells_slow_from_fast(capsys):
    def one_by_one(urls):
        return [io.fetch(u) for u in urls]

    def with_threads(urls):
        with ThreadPoolExecutor(len(urls)) as pool:
            return list(pool.map(io.fetch, urls))

    def out_of_order(urls):
        return list(reversed(with_threads(urls)))

    assert threads.feedback_fetch_all(one_by_one) is False
    assert "over the 0.5 s allowed" in capsys.readouterr().out
    assert threads.feedback_fetch_all(with_threads) is True
    assert threads.feedback_fetch_all(out_of_order) is False
    assert "order" in capsys.readouterr().out


def test_feedback_fetch_all_notices_threads_left_running(capsys):
    def not_joined(urls):
        answers = [None] * len(urls)

        def get(i):
            answers[i] = io.fetch(urls[i])

        for i in range(len(urls)):
            threading.Thread(target=get, args=(i,)).start()
        return answers  # returns before the threads are done

    before = set(threading.enumerate())
    assert threads.feedback_fetch_all(not_joined) is False
    out = capsys.readouterr().out
    assert "missing" in out or "Still running" in out
    time.sleep(0.3)
    assert threads.threads_left(before) == []


def test_feedback_fetch_all_notices_an_executor_never_shut_down(capsys):
    pool = ThreadPoolExecutor(24)
    try:
        assert threads.feedback_fetch_all(lambda urls: list(pool.map(io.fetch, urls))) is False
        assert "Still running" in capsys.readouterr().out
    finally:
        pool.shutdown()


def test_feedback_fetch_all_unanswered_raises_nothing(capsys):
    def shipped(urls):
        ...  # your code here

    assert threads.feedback_fetch_all(None) is False
    assert threads.feedback_fetch_all(shipped) is False
    assert "complete it" in capsys.readouterr().out


def test_feedback_account_finds_lost_deposits(capsys):
    class Safe(threads.LedgerAccount):
        def __init__(self):
            super().__init__()
            self.lock = threading.Lock()

        def deposit(self, amount):
            with self.lock:
                super().deposit(amount)

    class LockPerCall(threads.LedgerAccount):  # a typical wrong fix: a new lock every time
        def deposit(self, amount):
            with threading.Lock():
                super().deposit(amount)

    assert threads.feedback_account(LockPerCall) is False
    assert "lost" in capsys.readouterr().out
    assert threads.feedback_account(Safe) is True


def test_feedback_account_unanswered_raises_nothing(capsys):
    class SafeAccount(threads.LedgerAccount):
        ...  # your code here

    assert threads.feedback_account(SafeAccount) is False
    assert threads.feedback_account(None) is False
    assert "deposit()" in capsys.readouterr().out


def test_feedback_capped_speedup_judges_a_prediction(capsys):
    capped = threads.io_speedup(threads=(1, 16), tasks=16, delay=0.05, repeats=1, max_concurrent=4)
    assert threads.feedback_capped_speedup(None, capped, threads=16) is False
    assert threads.feedback_capped_speedup(16, capped, threads=16) is False  # ignores the cap
    assert threads.feedback_capped_speedup(16 / 4, capped, threads=16) is True
    assert "4 rounds" in capsys.readouterr().out


# -- the "threads" check section ----------------------------------------------------------------


def test_check_section_holds():
    from helpers.lessons.threads import check

    by_name = {e.effect: e for e in check.check(quick=True)}
    speedup = by_name[check.IO_SPEEDUP.effect]
    assert speedup.holds is True, f"16 I/O threads gave only {speedup.measured:.1f}x"
    assert by_name[check.LOST_WITHOUT_LOCK.effect].holds is True
    assert by_name[check.LOST_WITH_LOCK.effect].holds is True
    assert _no_server_left()
