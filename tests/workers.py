"""Worker functions for the probe tests (importable, so spawn and forkserver children find them)."""

from __future__ import annotations

import threading
import time

from helpers.events import recorded, task


def hold_private(nbytes: int, hold: float, settle: float = 0.3) -> int:
    """Runs in each worker. Wait settle seconds, allocate and touch nbytes of private memory, keep it hold seconds."""
    time.sleep(settle)  # let the sampler see this process before the buffer exists
    buffer = bytearray(nbytes)
    for i in range(0, nbytes, 4096):  # write one byte per page, so every page is really allocated
        buffer[i] = 1
    time.sleep(hold)
    return len(buffer)


@recorded
def nap(seconds: float) -> float:
    """Runs in each worker. Sleep `seconds`, recorded as a task event."""
    time.sleep(seconds)
    return seconds


def quick_exit() -> None:
    """Runs in each worker. A process that ends almost at once."""


def threads_with_events(count: int) -> None:
    """Runs in each worker. `count` threads, each recording one 20 ms task event."""
    def body(i: int) -> None:
        with task(f"thread-task-{i}"):
            time.sleep(0.02)

    threads = [threading.Thread(target=body, args=(i,), name=f"T{i}") for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
