"""A slow local HTTP server: every answer waits a delay you set, like a remote service would.

Introduced in 02_threads.ipynb (I/O-bound work), used again in 03_gil_contention.ipynb.
A plain subprocess, not a multiprocessing child, so it starts the same way whatever the start
method; it answers each connection in its own thread, so many requests can wait at once.
``slow_server()`` always ends it; if the caller dies, the server notices and exits itself.

    caller                                      server process
    slow_server(0.05) -- Popen ---------------> binds 127.0.0.1:0, prints "ready PORT"
    fetch(url) -------- GET / ----------------> sleeps 0.05 s in its own thread, answers
    leaving the block -- SIGTERM (then KILL) -> exits
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from urllib.request import ProxyHandler, build_opener

import psutil

from ..machine import require_seconds, require_workers
from ..processes import helpers_env

START_TIMEOUT = 20.0  # seconds for the server to say it is ready (a loaded machine is slow)
MAX_DELAY = 60.0  # seconds; a longer delay is a typo, not an experiment


# -- the server (runs in its own process) --------------------------------------------------


class _SlowServer(ThreadingHTTPServer):
    """A threading HTTP server that counts requests and how many were in flight at once."""

    daemon_threads = True  # a handler still sleeping must not keep the process alive on exit
    request_queue_size = 256  # pending connections: 64 threads connecting at once must not wait

    def __init__(self, delay: float, max_concurrent: int | None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        # a server with a fixed number of workers, as real ones have: the rest queue up
        self.slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else nullcontext()
        self.max_concurrent = max_concurrent
        self.stats_lock = threading.Lock()
        self.requests = self.in_flight = self.max_in_flight = 0

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (timeout, interrupt) is normal here, not worth a traceback


class _Handler(BaseHTTPRequestHandler):
    server: _SlowServer

    def do_GET(self) -> None:  # noqa: N802 (the name http.server looks for)
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path == "/stats":
            stats = self._stats(reset="reset" in query)
            self._answer(json.dumps(stats).encode(), "application/json")
            return
        try:
            delay = float(query["delay"][0]) if "delay" in query else self.server.delay
        except ValueError:
            self.send_error(400, "delay must be a number of seconds")
            return
        delay = min(max(delay, 0.0), MAX_DELAY)
        server = self.server
        with server.slots:
            with server.stats_lock:
                server.requests += 1
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            time.sleep(delay)  # the "remote work": the thread waits, it uses no CPU
            with server.stats_lock:
                server.in_flight -= 1
        # ?echo=TEXT answers TEXT, so a client can tell which answer belongs to which request
        body = (query["echo"][0] + "\n").encode() if "echo" in query else b"ok\n"
        self._answer(body, "text/plain")

    def _stats(self, reset: bool) -> dict:
        s = self.server
        names = ("requests", "in_flight", "max_in_flight", "delay", "max_concurrent")
        with s.stats_lock:
            stats = {name: getattr(s, name) for name in names}
            if reset:  # start counting afresh, e.g. before the next run of a sweep
                s.requests = 0
                s.max_in_flight = s.in_flight
        return stats

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass  # one line per request on stderr would flood the notebook


def _exit_when_orphaned(parent: int, server: _SlowServer) -> None:
    """Stop serving once the process that started us is gone (it was killed, say)."""
    # POSIX re-parents an orphan (getppid changes); Windows does not, so ask psutil too
    while os.getppid() == parent and psutil.pid_exists(parent):
        time.sleep(0.2)
    server.shutdown()


def serve(delay: float, max_concurrent: int | None = None, parent: int | None = None) -> None:
    """Run the server until SIGTERM, SIGINT or the parent's death; print 'ready PORT' first."""
    server = _SlowServer(delay, max_concurrent)

    def stop(signum, frame):  # shutdown() waits for serve_forever, so run it off this thread
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if parent is not None:
        threading.Thread(target=_exit_when_orphaned, args=(parent, server), daemon=True).start()
    print(f"ready {server.server_address[1]}", flush=True)
    # Nobody reads our output after this line: send it nowhere, so a full pipe never blocks us.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.servers.http")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds before each answer")
    parser.add_argument("--max-concurrent", type=int, default=None, help="requests served at once")
    parser.add_argument("--parent", type=int, default=None, help="exit when this pid is gone")
    args = parser.parse_args(argv)
    serve(args.delay, args.max_concurrent, args.parent)
    return 0


# -- the caller's side ---------------------------------------------------------------------


@dataclass
class ServerInfo:
    """A running slow server: where it listens and how slow it is. delay is in seconds."""

    url: str
    port: int
    delay: float
    pid: int
    max_concurrent: int | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)

    def url_for(self, delay: float) -> str:
        """The URL of one request answered after `delay` seconds instead of the default."""
        return f"{self.url}?delay={delay:g}"

    def stats(self, reset: bool = False, timeout: float = 5.0) -> dict:
        """The server's counters: requests served, most in flight at once; reset: start afresh."""
        url = f"{self.url}stats" + ("?reset=1" if reset else "")
        with build_opener(ProxyHandler({})).open(url, timeout=timeout) as answer:
            return json.loads(answer.read())


def require_delay(delay: object) -> float:
    """Return delay as a float if it is a number of seconds from 0 to MAX_DELAY; else ValueError."""
    return require_seconds(delay, what="delay", low=0, high=MAX_DELAY)


def _first_line(process: subprocess.Popen, timeout: float) -> str | None:
    """The first line the process prints, or None if none comes within timeout seconds."""
    lines: list[str] = []  # read in a thread: select() on a pipe does not work on Windows
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)  # on a timeout the caller kills the process, which ends the read
    return lines[0] if lines else None


def read_port(process: subprocess.Popen, timeout: float) -> int:
    """Wait for the server's 'ready PORT' line, at most timeout seconds."""
    line = _first_line(process, timeout)
    if line is None:
        raise RuntimeError(f"the slow HTTP server did not start within {timeout:.0f} s")
    if not line.startswith("ready "):
        _, err = process.communicate(timeout=5)
        raise RuntimeError(f"the slow HTTP server failed to start:\n{(err or '').strip()}")
    return int(line.split()[1])


def stop_server(process: subprocess.Popen, grace: float = 3.0) -> None:
    """Stop the server process: terminate, wait up to grace seconds, then kill (lesson 02)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for stream in (process.stdout, process.stderr):
        if stream is not None and not stream.closed:
            stream.close()


@contextmanager
def slow_server(delay: float = 0.05, *, max_concurrent: int | None = None) -> Iterator[ServerInfo]:
    """Run a slow HTTP server for the block: ``with slow_server(0.05) as server: fetch(server.url)``.

    delay: seconds each answer waits (0 to 60). max_concurrent: how many requests it serves
    at once (default: no limit; more wait in line, as with a real server's worker pool).
    """
    delay = require_delay(delay)
    command = [sys.executable, "-m", "helpers.servers.http", "--delay", repr(delay)]
    command += ["--parent", str(os.getpid())]
    if max_concurrent is not None:
        command += ["--max-concurrent", str(require_workers(max_concurrent, what="max_concurrent"))]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=helpers_env(),
        text=True,
    )
    try:
        port = read_port(process, START_TIMEOUT)
        url = f"http://127.0.0.1:{port}/"
        yield ServerInfo(url, port, delay, process.pid, max_concurrent, process)
    finally:
        stop_server(process)


if __name__ == "__main__":
    sys.exit(main())
