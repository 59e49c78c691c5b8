"""How much memory one process uses: RSS, USS and PSS, read in one place for psutil 7 and 8.

Introduced in 00_start_here.ipynb. psutil 8 deprecates ``memory_full_info()`` in favour of
``memory_footprint()``; this module is the only caller of either, so the course follows
psutil's change here and nowhere else.
"""

from __future__ import annotations

from typing import NamedTuple

import psutil


class Footprint(NamedTuple):
    """One process's memory, in bytes.

    rss: resident pages, shared ones counted in full (what top's RES shows): summed over
    processes it counts a shared page once per process. uss: pages only this process maps,
    what it would free by exiting. pss: each page divided by the processes that map it, so
    that PSS adds up across processes; Linux only. uss and pss are None where they cannot
    be read (another user's process, or PSS off Linux).
    """

    rss: int
    uss: int | None
    pss: int | None


def footprint(proc: psutil.Process | None = None) -> Footprint:
    """RSS, USS and PSS of proc (default: this process), in bytes.

    Trap: USS and PSS walk the whole address space, about a millisecond per 100 MiB mapped;
    RSS alone (psutil's memory_info) is cheap. Raises psutil.NoSuchProcess if proc ended.
    """
    proc = proc or psutil.Process()
    read = getattr(proc, "memory_footprint", None) or proc.memory_full_info
    try:
        info = read()
    except psutil.AccessDenied:
        return Footprint(proc.memory_info().rss, None, None)
    rss = getattr(info, "rss", None)  # psutil 8's footprint holds no RSS
    rss = proc.memory_info().rss if rss is None else rss
    return Footprint(rss, getattr(info, "uss", None), getattr(info, "pss", None))


def trim_heap() -> bool:
    """Hand memory this process freed back to the system (glibc's malloc_trim); True if done.

    Why: glibc keeps freed memory for reuse (and raises its mmap threshold after a large
    free), so new data can land in pages the process already holds and show no growth.
    measure() calls this before its baseline (Lesson 00, section 2). Elsewhere (macOS,
    Windows, musl) it does nothing and returns False.
    """
    import ctypes.util  # binds ctypes too
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.malloc_trim(0))
    except (OSError, AttributeError):
        return False
