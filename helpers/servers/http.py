"""A slow local HTTP server: every answer waits a delay you set, like a remote service would.

Introduced in 02_threads.ipynb (I/O-bound work), used again in 03_gil_contention.ipynb.
The server is a plain subprocess (``python -m helpers.servers.http``), not a multiprocessing
child, so it starts the same way, in a fraction of a second, whatever the start method. It
listens on 127.0.0.1 on a port the OS chooses and answers each connection in its own thread,
so many requests can wait at once. ``slow_server()`` always ends it, on error and on
interrupt too; if the caller dies without cleaning up, the server notices and exits itself.

    caller                                      server process
    slow_server(0.05) -- Popen ---------------> binds 127.0.0.1:0, prints "ready PORT"
    fetch(url) -------- GET / ----------------> sleeps 0.05 s in its own thread, answers
    leaving the block -- SIGTERM (then KILL) -> exits
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from ..processes import helpers_env

START_TIMEOUT = 20.0  # seconds for the server to say it is ready (a loaded machine is slow)
MAX_DELAY = 60.0  # seconds; a longer delay is a typo, not an experiment
BACKLOG = 256  # pending connections the kernel queues: 64 threads connecting at once must not wait
BODY = b"ok\n"


# -- the server (runs in its own process) --------------------------------------------------


class _SlowServer(ThreadingHTTPServer):
    """A threading HTTP server that counts requests and how many were in flight at once."""

    daemon_threads = True  # a handler still sleeping must not keep the process alive on exit
    request_queue_size = BACKLOG

    def __init__(self, delay: float, max_concurrent: int | None):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay = delay
        # a server with a fixed number of workers, as real ones have: the rest queue up
        self.slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent else None
        self.max_concurrent = max_concurrent
        self.stats_lock = threading.Lock()
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0

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
        if server.slots is not None:
            server.slots.acquire()
        try:
            with server.stats_lock:
                server.requests += 1
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            time.sleep(delay)  # the "remote work": the thread waits, it uses no CPU
            with server.stats_lock:
                server.in_flight -= 1
        finally:
            if server.slots is not None:
                server.slots.release()
        # ?echo=TEXT answers TEXT, so a client can tell which answer belongs to which request
        body = (query["echo"][0] + "\n").encode() if "echo" in query else BODY
        self._answer(body, "text/plain")

    def _stats(self, reset: bool) -> dict:
        s = self.server
        with s.stats_lock:
            stats = {
                "requests": s.requests,
                "in_flight": s.in_flight,
                "max_in_flight": s.max_in_flight,
                "delay": s.delay,
                "max_concurrent": s.max_concurrent,
            }
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
    import psutil

    while True:
        time.sleep(0.2)
        # POSIX re-parents an orphan (getppid changes); Windows does not, so ask psutil too
        if os.getppid() != parent or not psutil.pid_exists(parent):
            server.shutdown()
            return


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
        from urllib.request import ProxyHandler, build_opener

        url = f"{self.url}stats" + ("?reset=1" if reset else "")
        with build_opener(ProxyHandler({})).open(url, timeout=timeout) as answer:
            return json.loads(answer.read())


def require_delay(delay: object) -> float:
    """Return delay as a float if it is a number of seconds from 0 to MAX_DELAY; else ValueError."""
    if (
        isinstance(delay, bool)
        or not isinstance(delay, (int, float))
        or not 0 <= delay <= MAX_DELAY
    ):
        raise ValueError(
            f"delay must be a number of seconds from 0 to {MAX_DELAY:g}, got {delay!r}"
        )
    return float(delay)



def _first_line(process: subprocess.Popen, timeout: float) -> str | None:
    """The first line the process prints, or None if none comes within timeout seconds."""
    if os.name == "nt":  # select() takes only sockets on Windows: read in a helper thread
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()))
        reader.start()
        reader.join(timeout)  # on a timeout the caller kills the process, which ends the read
        return lines[0] if lines else None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return None
    return process.stdout.readline()


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
    The server process is ended when the block ends, whether by error or interrupt.
    """
    delay = require_delay(delay)
    if max_concurrent is not None:
        from ..machine import require_workers

        require_workers(max_concurrent, what="max_concurrent")
    command = [sys.executable, "-m", "helpers.servers.http", "--delay", repr(delay)]
    command += ["--parent", str(os.getpid())]
    if max_concurrent is not None:
        command += ["--max-concurrent", str(max_concurrent)]
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
        yield ServerInfo(
            url=f"http://127.0.0.1:{port}/",
            port=port,
            delay=delay,
            pid=process.pid,
            max_concurrent=max_concurrent,
            process=process,
        )
    finally:
        stop_server(process)


if __name__ == "__main__":
    sys.exit(main())
