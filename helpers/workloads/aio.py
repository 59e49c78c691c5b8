"""I/O-bound work for asyncio: one coroutine per HTTP request, all in one thread.

Introduced in 06_choosing_and_scaling_out.ipynb. ``fetch`` speaks plain HTTP/1.0 over
asyncio's streams (the standard library has no async HTTP client). Each call is recorded as
a task event spanning the connect to the last byte. Trap: the event's cpu is the thread's
CPU time over that span, which includes the other coroutines that ran meanwhile: use the
span, not the cpu.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from urllib.parse import urlsplit

from ..events import task


async def fetch(url: str, *, timeout: float = 30.0, name: str = "fetch") -> bytes:
    """GET url (http only) and return the response body; recorded as one task event."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"fetch needs an http:// URL with a host, got {url!r}")
    port = parts.port or 80
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    with task(name):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, port), timeout
        )
        try:
            request = f"GET {path} HTTP/1.0\r\nHost: {parts.hostname}:{port}\r\n\r\n"
            writer.write(request.encode("ascii"))
            await writer.drain()
            response = await asyncio.wait_for(reader.read(), timeout)  # HTTP/1.0: until close
        finally:
            writer.close()
            with suppress(ConnectionError, OSError):  # the server closed first: nothing to tidy
                await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if " 200 " not in f"{status} ":
        raise OSError(f"{url} answered {status!r}")
    return body


async def fetch_all(url: str, requests: int, limit: int | None = None) -> list[bytes]:
    """Fetch url `requests` times concurrently, at most `limit` at a time (None: all at once).

    The asyncio side of Lesson 06's check; the notebook writes the same gather in view.
    """
    gate = asyncio.Semaphore(limit or requests)

    async def one() -> bytes:
        async with gate:  # at most `limit` coroutines get past this line at once
            return await fetch(url)

    return await asyncio.gather(*(one() for _ in range(requests)))
