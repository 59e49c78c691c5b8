"""I/O-bound task functions: a request to the slow local server, a plain wait.

Introduced in 02_threads.ipynb, used again in 03_gil_contention.ipynb. While a task waits
(for the network, or in time.sleep) its thread holds no GIL and uses no CPU, so other threads
run: this is why threads speed up I/O-bound work. Each call is recorded as a task event.
"""

from __future__ import annotations

import functools
import time
from urllib.request import OpenerDirector, ProxyHandler, build_opener

from ..events import recorded

DEFAULT_TIMEOUT = 30.0  # seconds; a request to the local server should never come near it


@functools.cache
def _direct_opener() -> OpenerDirector:
    # No proxy: a proxy set in the environment must not sit between us and 127.0.0.1.
    return build_opener(ProxyHandler({}))


@recorded
def fetch(url: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """GET url and return the body; raise TimeoutError if it takes over timeout seconds.

    Blocking, one connection per call, as simple client code is. The thread waits for the
    server without holding the GIL. Lesson 02, sections 1-2, and lesson 03.
    """
    try:
        with _direct_opener().open(url, timeout=timeout) as answer:
            return answer.read()
    except OSError as exc:
        if isinstance(exc, TimeoutError) or "timed out" in str(exc):
            raise TimeoutError(f"{url} did not answer within {timeout:g} s") from exc
        raise


@recorded
def wait(seconds: float) -> float:
    """Sleep seconds (a stand-in for any wait: disk, network, a child process); return it. Lesson 02, sections 1-2, and lesson 03."""
    time.sleep(seconds)
    return seconds
