"""A worker process that only waits: what a process costs before it does any work.

Introduced in 03_gil_contention.ipynb, section "Subinterpreters: one GIL each", beside an idle
interpreter.
"""

from __future__ import annotations


def idle(ready, stop, timeout: float) -> None:
    """Runs in each worker. Say "started" on `ready` (a Semaphore), then wait for `stop`.

    timeout (seconds) bounds the wait, so a worker whose parent died still ends. Trap:
    under spawn the worker imports this module, and with it the helpers package: its
    memory includes those imports, as any spawned worker's does.
    """
    ready.release()
    stop.wait(timeout)
