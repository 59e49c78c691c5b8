"""A small process tree to measure: a parent with a buffer, children that read it and hold more.

Introduced in 00_start_here.ipynb, exercise 2 (the PSS of a process tree). Run it as a
program, so that it is a tree of its own, apart from the notebook and the sampler:

    python -m helpers.lessons.instruments.tree CHILDREN SHARED_MIB PRIVATE_MIB

The parent fills SHARED_MIB, starts CHILDREN (forked where the platform can, so they share
the buffer's pages), each of which reads the buffer and fills PRIVATE_MIB of its own. It
prints "ready" once all hold their memory, and ends them all when its standard input
closes or receives a line.
"""

from __future__ import annotations

import multiprocessing
import sys

from ...units import MiB
from .workers import touched

shared: bytearray | None = None  # the parent's buffer, inherited by forked children


def child(private_mib: int, ready, stop) -> None:
    """Runs in each worker. Read the inherited buffer, hold private_mib MiB, wait for stop. Lesson 00, exercise 2."""
    read = 0 if shared is None else sum(shared[::4096])  # reading leaves the pages shared
    own = touched(private_mib * MiB)
    ready.release()
    stop.wait(60)
    del own, read


def main(argv: list[str]) -> int:
    global shared
    children, shared_mib, private_mib = (int(a) for a in argv[:3])
    shared = touched(shared_mib * MiB)
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else methods[0])
    ready, stop = ctx.Semaphore(0), ctx.Event()
    procs = [ctx.Process(target=child, args=(private_mib, ready, stop)) for _ in range(children)]
    try:
        for p in procs:
            p.start()
        for _ in procs:
            if not ready.acquire(timeout=60):
                return 1
        print("ready", flush=True)
        sys.stdin.readline()
    finally:
        stop.set()
        for p in procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
