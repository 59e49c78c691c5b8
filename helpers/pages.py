"""The page-level view of a process's memory: which pages it holds alone, which it shares.

Introduced in 04_memory_duplication.ipynb. The kernel hands memory out in pages (4 KiB on
most machines). After fork, parent and child map the same pages until one of them writes to
a page; then the writer gets its own copy of that one page (copy-on-write). Linux reports:

    /proc/PID/smaps_rollup   per process: how many resident bytes are private or shared
    /proc/PID/pagemap        per page: bit 56 says "only this process maps this page"

macOS and Windows have neither file. There, rollup() and exclusive_pages() return None,
private_bytes() falls back to psutil's USS, and unavailable_reason() says why.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import psutil

from .footprint import footprint

if TYPE_CHECKING:
    import numpy as np

PAGE_SIZE = mmap.PAGESIZE  # bytes in one page: 4096 on x86-64 and most ARM Linux machines
_PROC = Path("/proc")
_EXCLUSIVE_BIT = 56  # pagemap: "page exclusively mapped" (Linux 4.2+)
_PRESENT_BIT = 63  # pagemap: "page present in RAM"


def _proc_file(pid: int | None, name: str) -> Path:
    return _PROC / ("self" if pid is None else str(pid)) / name


def unavailable_reason(pid: int | None = None) -> str:
    """'' where the page-level view works here; otherwise why not, in one sentence."""
    if not sys.platform.startswith("linux"):
        return (
            f"the page-level view needs Linux's /proc files; this is {sys.platform}, "
            "so the lesson uses USS (private memory) from psutil instead"
        )
    for name in ("smaps_rollup", "pagemap"):
        path = _proc_file(pid, name)
        if not os.access(path, os.R_OK):
            return f"{path} cannot be read here (an old kernel or a locked-down container)"
    return ""


@dataclass(frozen=True)
class PageCounts:
    """One process's resident memory split by sharing, in bytes (from /proc/PID/smaps_rollup).

    private = pages only this process maps (its USS); shared = pages other processes map too.
    pss = each shared page divided by the number of processes that map it, plus the private.
    """

    rss: int
    pss: int
    shared_clean: int
    shared_dirty: int
    private_clean: int
    private_dirty: int
    anonymous: int

    @property
    def private(self) -> int:
        return self.private_clean + self.private_dirty

    @property
    def shared(self) -> int:
        return self.shared_clean + self.shared_dirty

    def pages(self, part: str = "private") -> int:
        """How many pages a part is: 'private', 'shared', 'rss', 'pss' or 'anonymous'."""
        if part not in ("private", "shared", "rss", "pss", "anonymous"):
            raise ValueError(f"part must be private, shared, rss, pss or anonymous; got {part!r}")
        return getattr(self, part) // PAGE_SIZE


def _parse_smaps(text: str) -> PageCounts:
    """Sum the kB fields we need over every mapping (smaps) or the one rollup line set."""
    totals = {f.name: 0 for f in fields(PageCounts)}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        name = key.lower()  # each field is its smaps key in lower case: Shared_Clean, Rss
        if name in totals and rest.strip().endswith("kB"):
            totals[name] += int(rest.split()[0]) * 1024
    return PageCounts(**totals)


def rollup(pid: int | None = None) -> PageCounts | None:
    """A process's (default: this one's) private and shared memory now; None where unavailable.

    Reads /proc/PID/smaps_rollup (Linux 4.14+), or adds up /proc/PID/smaps on older kernels;
    None also when the process is gone or not ours.
    """
    for name in ("smaps_rollup", "smaps"):
        with contextlib.suppress(OSError):
            return _parse_smaps(_proc_file(pid, name).read_text())
    return None


def private_bytes(pid: int | None = None) -> int | None:
    """Memory only this process maps (its USS), in bytes; None where it cannot be measured.

    Linux: from smaps_rollup, a millisecond's read. macOS and Windows: psutil's USS.
    """
    if (counts := rollup(pid)) is not None:
        return counts.private
    try:
        return footprint(psutil.Process(pid)).uss
    except (psutil.Error, AttributeError, OSError):
        return None


def object_pages(objects: Sequence[object], size: int | None = None) -> np.ndarray:
    """The distinct page numbers (address // PAGE_SIZE) that these objects' bytes lie on, sorted.

    In CPython, id(obj) is the object's address and sys.getsizeof(obj) its size; size: the
    one size of every object, when they are all alike, to skip asking each. Call this in the
    parent before forking: going through a list writes every item's reference count.
    """
    import numpy as np

    starts = np.fromiter(map(id, objects), dtype=np.int64, count=len(objects))
    if size is None:
        size = np.fromiter(map(sys.getsizeof, objects), dtype=np.int64, count=len(objects))
    found = np.concatenate((starts // PAGE_SIZE, (starts + size - 1) // PAGE_SIZE))
    # neighbours in a list mostly share a page: drop repeats before sorting what is left
    return np.unique(found[np.diff(found, prepend=-1) != 0])


def exclusive_pages(pages: np.ndarray, pid: int | None = None) -> np.ndarray | None:
    """For each page number: True where the process maps that page alone (its private copy).

    From /proc/PID/pagemap, bit 56 "exclusively mapped" (Linux 4.2+; readable without
    privileges, unlike the physical frame numbers). pages: sorted page numbers, e.g. from
    object_pages(). Returns None where pagemap is unavailable (macOS, Windows, old kernels).
    """
    import numpy as np

    pages = np.asarray(pages, dtype=np.int64)
    if unavailable_reason(pid):
        return None
    flags = np.zeros(len(pages), dtype=bool)
    if len(pages) == 0:
        return flags
    try:
        fd = os.open(_proc_file(pid, "pagemap"), os.O_RDONLY)
    except OSError:
        return None
    both = np.uint64(1 << _PRESENT_BIT | 1 << _EXCLUSIVE_BIT)
    first = 0
    try:
        for run in np.split(pages, np.flatnonzero(np.diff(pages) != 1) + 1):  # consecutive pages
            # one 8-byte entry per page, at offset page_number * 8
            raw = os.pread(fd, 8 * len(run), int(run[0]) * 8)
            entries = np.frombuffer(raw, dtype=np.uint64)
            flags[first : first + len(entries)] = (entries & both) == both  # present and alone
            first += len(run)
    except OSError:
        return None
    finally:
        os.close(fd)
    return flags
