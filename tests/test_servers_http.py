"""The slow HTTP server: it answers after its delay, serves many at once, and never outlives us."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from helpers.machine import start_methods
from helpers.runner import process_pool
from helpers.servers.http import slow_server
from helpers.workloads import io


def _gone(pid: int, within: float = 5.0) -> bool:
    """True once pid has exited (a zombie left for a parent to reap counts as exited)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_starts_fast_on_localhost_and_answers_after_its_delay():
    start = time.perf_counter()
    with slow_server(0.2) as server:
        started = time.perf_counter() - start
        assert server.url == f"http://127.0.0.1:{server.port}/"
        assert server.delay == 0.2
        assert psutil.Process(server.pid).is_running()
        t0 = time.perf_counter()
        assert io.fetch(server.url) == b"ok\n"
        took = time.perf_counter() - t0
        t0 = time.perf_counter()
        assert io.fetch(server.url_for(0.0)) == b"ok\n"
        quick = time.perf_counter() - t0
        assert io.fetch(f"{server.url}?echo=hello") == b"hello\n"
    assert started < 3.0, f"the server took {started:.2f} s to start"
    assert 0.2 <= took < 1.0
    assert quick < 0.15  # ?delay=0 overrides the server's delay for one request


def test_serves_many_requests_at_once():
    with slow_server(0.3) as server, ThreadPoolExecutor(32) as pool:
        start = time.perf_counter()
        answers = list(pool.map(io.fetch, [server.url] * 32))
        took = time.perf_counter() - start
        stats = server.stats()
    assert answers == [b"ok\n"] * 32
    assert took < 0.3 * 32 / 4, f"32 requests of 0.3 s took {took:.2f} s: not concurrent"
    assert stats["requests"] == 32
    assert stats["max_in_flight"] >= 8


def test_max_concurrent_makes_requests_wait_in_line():
    with slow_server(0.1, max_concurrent=2) as server, ThreadPoolExecutor(6) as pool:
        start = time.perf_counter()
        list(pool.map(io.fetch, [server.url] * 6))
        took = time.perf_counter() - start
        stats = server.stats(reset=True)
        after_reset = server.stats()
    assert took >= 0.3  # 6 requests, 2 at a time: 3 rounds of 0.1 s
    assert stats["max_in_flight"] == 2
    assert after_reset["requests"] == 0


def test_fetch_raises_timeout_error_naming_the_url():
    with slow_server(1.0) as server, pytest.raises(TimeoutError, match="did not answer"):
        io.fetch(server.url, timeout=0.1)


@pytest.mark.parametrize(
    "kwargs",
    [{"delay": -1}, {"delay": "0.1"}, {"delay": 1000}, {"delay": 0.1, "max_concurrent": 0}],
)
def test_bad_parameters_raise_value_error(kwargs):
    with pytest.raises(ValueError), slow_server(**kwargs):
        pass


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_server_stops_after_an_error_or_an_interrupt(error):
    with pytest.raises(error), slow_server(0.05) as server:
        pid = server.pid
        raise error("stop here")
    assert _gone(pid)


def test_server_stops_with_its_block():
    with slow_server(0.05) as server:
        pid = server.pid
    assert _gone(pid)
    assert pid not in [child.pid for child in psutil.Process().children()]


def test_server_exits_when_its_parent_is_killed():
    program = textwrap.dedent(
        """
        import time
        from helpers.servers.http import slow_server
        with slow_server(0.05) as server:
            print(server.pid, flush=True)
            time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    try:
        server_pid = int(parent.stdout.readline())
        assert psutil.Process(server_pid).is_running()
        parent.kill()  # no finally runs: only the server's own watchdog can end it
        parent.wait()
        assert _gone(server_pid), "the server outlived the process that started it"
    finally:
        parent.kill()
        parent.stdout.close()


def test_server_stops_on_sigint_to_itself():
    # Ctrl-C in a terminal reaches the whole process group, server included
    with slow_server(0.05) as server:
        os.kill(server.pid, signal.SIGINT)
        assert _gone(server.pid)


@pytest.mark.parametrize(
    "method", [m for m in ("fork", "spawn", "forkserver") if m in start_methods()]
)
def test_worker_processes_fetch_from_it_under_every_start_method(method):
    with slow_server(0.05) as server:
        with process_pool(2, start_method=method) as pool:
            answers = pool.map(io.fetch, [server.url] * 4)
        assert psutil.Process(server.pid).is_running()  # the pool's clean-up spared the server
    assert answers == [b"ok\n"] * 4
    assert _gone(server.pid)


def _popen(code: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_a_server_that_fails_to_start_says_why():
    from helpers.servers.http import read_port, stop_server

    process = _popen("import sys; sys.exit('port trouble')")
    try:
        with pytest.raises(RuntimeError, match="port trouble"):
            read_port(process, timeout=10)
    finally:
        stop_server(process)


def test_a_server_that_never_gets_ready_times_out():
    from helpers.servers.http import read_port, stop_server

    process = _popen("import time; time.sleep(30)")
    try:
        with pytest.raises(RuntimeError, match="did not start within"):
            read_port(process, timeout=0.3)
    finally:
        stop_server(process)
    assert _gone(process.pid)
