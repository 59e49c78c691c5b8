"""Work on data that a parent process left in a module global before starting workers.

Introduced in 00_start_here.ipynb (the shared buffer, `inherited`) and the heart of
04_memory_duplication.ipynb (the big read-only global, `data`). Under fork, workers see the
parent's global through copy-on-write pages; under spawn and forkserver a worker starts a
fresh interpreter, so the pool initializer prepare() builds the global again in every
worker, as a script's module-level code is run again by each spawned worker.

    parent: publish(spec) builds `data`  ->  Pool(initializer=prepare, initargs=(spec, barrier))
    worker: prepare() keeps the inherited `data` (fork) or rebuilds it (spawn, forkserver)
    worker: read_global() / read_argument() / make_garbage()  ->  a WorkerReport
"""

from __future__ import annotations

import gc
import itertools
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

from ..events import recorded
from ..pages import exclusive_pages, private_bytes

inherited = None  # set by the parent before it forks workers (lesson 00's shared buffer)


@recorded
def sum_inherited(hold: float = 0.0) -> float:
    """Read the whole inherited numpy buffer (its sum), then stay alive `hold` seconds."""
    if inherited is None:
        raise RuntimeError(
            "no inherited data: the parent did not set it, or workers were not forked"
        )
    total = float(inherited.sum())
    time.sleep(hold)
    return total


# -- lesson 04: one big read-only global, built from a spec --------------------------------

# Each kind of data, and roughly how many bytes one item costs on 64-bit CPython 3.11
# (pointer in the list + the object's memory block), used only to size the data.
KINDS: dict[str, tuple[str, int]] = {
    "repeated": ("a list of one object repeated: [0] * n", 8),
    "distinct": ("a list of distinct ints: list(range(1000, 1000 + n))", 8 + 32),
    "rows": (
        "a list of one-item lists: [[i] for i in ...] (objects the GC tracks)",
        8 + 64 + 16 + 32,
    ),
    "bytes": ("one bytes object of n bytes", 1),
    "numpy": ("one numpy float64 array of n numbers", 8),
}
FIRST_INT = 1000  # past CPython's cache of small ints (-5..256): every int is its own object
BARRIER_TIMEOUT = 60.0  # seconds a worker waits for the others before giving up


@dataclass(frozen=True)
class DataSpec:
    """What to build: a kind from KINDS and how many items. Picklable, so workers receive it."""

    kind: str
    items: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {self.kind!r}")
        if isinstance(self.items, bool) or not isinstance(self.items, int) or self.items < 1:
            raise ValueError(f"items must be a whole number of at least 1, got {self.items!r}")

    @classmethod
    def for_size(cls, kind: str, nbytes: int) -> DataSpec:
        """The spec whose data takes about nbytes (see KINDS for the per-item cost)."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        return cls(kind, max(1, nbytes // KINDS[kind][1]))


def build(spec: DataSpec):
    """Build the data a spec describes, writing every byte of it (so it is really allocated)."""
    n = spec.items
    if spec.kind == "repeated":
        return [0] * n
    if spec.kind == "distinct":
        return list(range(FIRST_INT, FIRST_INT + n))
    if spec.kind == "rows":
        return [[i] for i in range(FIRST_INT, FIRST_INT + n)]
    if spec.kind == "bytes":
        # bytes(n) would ask for zeroed pages that the kernel does not hand out until written
        pattern = bytes(range(256))
        return pattern * (n // 256) + pattern[: n % 256]
    import numpy as np

    return np.arange(n, dtype=np.float64)


def _block(nbytes: int) -> int:
    """A size rounded up as CPython's small-object allocator does (16-byte steps to 512)."""
    return nbytes if nbytes > 512 else -(-nbytes // 16) * 16


def footprint(items) -> int:
    """Bytes the data built by build() takes in memory, from the sizes of its own objects.

    The container (sys.getsizeof) plus, for a list, each item's object rounded up to the
    allocator's block size; a one-item list adds its own item array and int. Computed from
    one sample item, since all items of a kind are alike.
    """
    total = sys.getsizeof(items)
    if not isinstance(items, list) or not items:
        return total
    first = items[0]
    if items[-1] is first:  # [x] * n: one object, n pointers to it
        return total + _block(sys.getsizeof(first))
    per_item = _block(sys.getsizeof(first))
    if isinstance(first, list):  # sys.getsizeof counts the list's items: split them out
        array = sys.getsizeof(first) - sys.getsizeof([])
        per_item = _block(sys.getsizeof([])) + _block(array)
        per_item += sum(_block(sys.getsizeof(x)) for x in first)
    return total + per_item * len(items)


data = None  # lesson 04's big read-only global: set by publish() or rebuilt by prepare()
data_spec: DataSpec | None = None
# Page numbers of the global list's items, set by the parent before it forks, so that a
# worker can ask the kernel which of them it now holds alone (helpers.pages).
watched_pages = None


def publish(spec: DataSpec):
    """In the parent: build the data and put it in the module global that workers read."""
    global data, data_spec
    data, data_spec = build(spec), spec
    return data


def clear() -> None:
    """Drop the global (the parent calls this when the experiment ends)."""
    global data, data_spec, watched_pages
    data, data_spec, watched_pages = None, None, None


@dataclass(frozen=True)
class WorkerReport:
    """What one worker saw of its own memory, in bytes (None where it cannot be measured).

    private_start: when the worker began (before any rebuild); private_ready: after the pool
    initializer; private_end: after its task's work. rebuilt: whether it built its own copy.
    full_collections: runs of the GC's oldest generation during the task. watched_alone:
    how many of the parent's item pages (watched_pages) the worker held alone at the end,
    of watched_total; None where not watched (not forked, or no pagemap).
    """

    pid: int
    rebuilt: bool
    private_start: int | None
    private_ready: int | None
    private_end: int | None
    full_collections: int
    seconds: float
    watched_alone: int | None = None
    watched_total: int | None = None

    @property
    def private_growth(self) -> int | None:
        """Bytes this worker came to hold alone while it ran: rebuilds, copies, unpickled data."""
        if self.private_start is None or self.private_end is None:
            return None
        return max(0, self.private_end - self.private_start)


class _Worker:
    """This worker process's own notes, set by prepare()."""

    barrier = None
    rebuilt = False
    private_start: int | None = None
    private_ready: int | None = None


def prepare(spec: DataSpec | None, barrier=None) -> None:
    """Pool initializer: note this worker's memory, and rebuild the global if it is missing.

    Under fork the worker inherited `data` from the parent and keeps it. Under spawn and
    forkserver the module was imported afresh, `data` is None, and this builds a new copy:
    the same thing that happens to a script's module-level global in every spawned worker.
    spec None: the data travels as task arguments instead.
    """
    global data, data_spec
    _Worker.private_start = private_bytes()
    _Worker.barrier = barrier
    _Worker.rebuilt = spec is not None and data_spec != spec
    if _Worker.rebuilt:
        data, data_spec = build(spec), spec
    _Worker.private_ready = private_bytes()


def _wait_for_the_others() -> None:
    # All workers start and end their work together, so a sample catches all of them at
    # their peak, and each worker takes exactly one task.
    if _Worker.barrier is not None:
        _Worker.barrier.wait(BARRIER_TIMEOUT)


def _read_in_parts(items, steps: int) -> Iterator[float]:
    """Look at every item, without copying, in `steps` parts; yield the share read after each."""
    n = len(items)
    walker = iter(items) if isinstance(items, list) else None
    for step in range(steps):
        start, stop = n * step // steps, n * (step + 1) // steps
        if walker is not None:
            # every item the walk hands out gets its reference count written, inside the
            # item itself: that write is what copies pages
            for _item in itertools.islice(walker, stop - start):
                pass
        elif isinstance(items, bytes):
            items.count(0, start, stop)  # reads the bytes in C; nothing is written
        else:
            items[start:stop].sum()  # a numpy view: reads the buffer; nothing is written
        yield (step + 1) / steps


def _work(job, hold: float) -> WorkerReport:
    """Run job() in step with the other workers and report this worker's memory after it."""
    try:
        _wait_for_the_others()
        full_before = gc.get_stats()[-1]["collections"]
        start = time.perf_counter()
        job()
        seconds = time.perf_counter() - start
        alone = None if watched_pages is None else exclusive_pages(watched_pages)
        report = WorkerReport(
            pid=os.getpid(),
            rebuilt=_Worker.rebuilt,
            private_start=_Worker.private_start,
            private_ready=_Worker.private_ready,
            private_end=private_bytes(),
            full_collections=gc.get_stats()[-1]["collections"] - full_before,
            seconds=seconds,
            watched_alone=None if alone is None else int(alone.sum()),
            watched_total=None if alone is None else len(alone),
        )
        _wait_for_the_others()
    except threading.BrokenBarrierError:
        raise RuntimeError("another worker failed or timed out; its own error says why") from None
    except BaseException:
        if _Worker.barrier is not None:
            _Worker.barrier.abort()  # release the others at once instead of at their timeout
        raise
    time.sleep(hold)  # stay alive, holding what we copied, while the sampler looks
    return report


def _read_all(items, steps: int, pause: float) -> None:
    for _share in _read_in_parts(items, steps):
        time.sleep(pause)  # spread the reading out, so the chart shows the copies grow


@recorded
def read_global(steps: int = 6, pause: float = 0.03, hold: float = 0.25) -> WorkerReport:
    """Read every item of the global `data`, in `steps` parts, then hold `hold` seconds."""

    def job() -> None:
        if data is None:
            raise RuntimeError("no global data: the pool was started without prepare(spec)")
        _read_all(data, steps, pause)

    return _work(job, hold)


@recorded
def read_argument(items, steps: int = 6, pause: float = 0.03, hold: float = 0.25) -> WorkerReport:
    """Read every item of data that came as this task's argument (pickled by the pool)."""
    return _work(lambda: _read_all(items, steps, pause), hold)


@recorded
def make_garbage(count: int, hold: float = 0.25) -> WorkerReport:
    """A worker's own work that never touches `data`: keep `count` new lists, then drop them.

    Enough surviving objects make the GC run its oldest generation (a full collection),
    which walks every object it tracks, the inherited ones included, unless they are frozen.
    """

    def job() -> None:
        own = [[] for _ in range(count)]
        del own  # freed at once by reference counting: what stays private is the GC's doing

    return _work(job, hold)


# -- lesson 04's page-level view -----------------------------------------------------------


def read_watching_pages(steps: int = 4) -> list[tuple[float, int | None, object]]:
    """Read the global list a share at a time; after each share, look at this process's pages.

    Returns (share read, private bytes, which watched pages this process holds alone) per
    step, the first before reading anything. Not @recorded: it runs outside a measurement.
    """
    if data is None or watched_pages is None:
        raise RuntimeError("no global data to watch: the parent sets data and watched_pages")
    seen = [(0.0, private_bytes(), exclusive_pages(watched_pages))]
    for share in _read_in_parts(data, steps):
        seen.append((share, private_bytes(), exclusive_pages(watched_pages)))
    return seen
