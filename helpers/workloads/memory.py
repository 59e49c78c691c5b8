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
from dataclasses import dataclass, replace

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


def block_size(nbytes: int) -> int:
    """A size rounded up as CPython's small-object allocator does (16-byte steps to 512)."""
    return nbytes if nbytes > 512 else -(-nbytes // 16) * 16


def data_bytes(items) -> int:
    """Bytes the data built by build() takes in memory, from the sizes of its own objects.

    The container (sys.getsizeof) plus, for a list, each item's object rounded up to the
    allocator's block size; a one-item list adds its own item array and int. Computed from
    one sample item, since all items of a kind are alike (bytes, numpy arrays and
    array.array count their own buffer in sys.getsizeof). Trap: sys.getsizeof alone misses
    a list's items and the allocator's rounding. Lesson 04, section 2.
    """
    total = sys.getsizeof(items)
    if not isinstance(items, list) or not items:
        return total
    first = items[0]
    if items[-1] is first:  # [x] * n: one object, n pointers to it
        return total + block_size(sys.getsizeof(first))
    per_item = block_size(sys.getsizeof(first))
    if isinstance(first, list):  # sys.getsizeof counts the list's items: split them out
        array = sys.getsizeof(first) - sys.getsizeof([])
        per_item = block_size(sys.getsizeof([])) + block_size(array)
        per_item += sum(block_size(sys.getsizeof(x)) for x in first)
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
    full_collections: runs of the GC's oldest generation during the task (automatic ones
    and a deliberate gc.collect()); automatic_collections: the automatic ones alone, None
    where not counted. watched_alone:
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
    automatic_collections: int | None = None

    @property
    def private_growth(self) -> int | None:
        """Bytes this worker came to hold alone while it ran: rebuilds, copies, unpickled data."""
        if self.private_start is None or self.private_end is None:
            return None
        return max(0, self.private_end - self.private_start)


class WorkerNotes:
    """This worker process's own notes, set by prepare() (class attributes, one per process)."""

    barrier = None
    rebuilt = False
    private_start: int | None = None
    private_ready: int | None = None


def prepare(spec: DataSpec | None, barrier=None) -> None:
    """Runs in each worker. Pool initializer: note its memory; rebuild the global if missing.

    Under fork the worker inherited `data` from the parent and keeps it. Under spawn and
    forkserver the module was imported afresh, `data` is None, and this builds a new copy:
    the same thing that happens to a script's module-level global in every spawned worker.
    spec None: the data travels as task arguments instead.
    """
    global data, data_spec
    WorkerNotes.private_start = private_bytes()
    WorkerNotes.barrier = barrier
    WorkerNotes.rebuilt = spec is not None and data_spec != spec
    if WorkerNotes.rebuilt:
        data, data_spec = build(spec), spec
    WorkerNotes.private_ready = private_bytes()


def _wait_for_the_others() -> None:
    # All workers start and end their work together, so a sample catches all of them at
    # their peak, and each worker takes exactly one task.
    if WorkerNotes.barrier is not None:
        WorkerNotes.barrier.wait(BARRIER_TIMEOUT)


def read_in_parts(items, steps: int) -> Iterator[float]:
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
            rebuilt=WorkerNotes.rebuilt,
            private_start=WorkerNotes.private_start,
            private_ready=WorkerNotes.private_ready,
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
        if WorkerNotes.barrier is not None:
            WorkerNotes.barrier.abort()  # release the others at once instead of at their timeout
        raise
    time.sleep(hold)  # stay alive, holding what we copied, while the sampler looks
    return report


def _read_all(items, steps: int, pause: float) -> None:
    for _share in read_in_parts(items, steps):
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


OWN_GARBAGE = 100_000  # lists a learner's worker makes: a set count, chosen without gc.get_objects()


def garbage_count() -> int:
    """How many lists to keep so that the automatic GC runs a full collection on 3.8-3.12.

    A full collection starts once the objects promoted to the oldest generation since the
    last one exceed a quarter of those that survived it; 30% of every object the GC tracks
    now is past that. Trap: 3.13 collects the young generation every 2000 allocations, not
    700 (gc.get_threshold()), so the same count may bring no full collection there: the
    workers below also collect deliberately. Called in the parent: gc.get_objects() in a
    forked worker would write every object's reference count itself. Lesson 04, section 3.
    """
    return int(len(gc.get_objects()) * 0.3) + 10_000


def own_garbage_then_collect(count: int) -> tuple[int, bool]:
    """Keep `count` new lists, drop them, then run a full collection if the GC is on.

    Returns (automatic full collections while the lists were made, whether this process
    ran gc.collect() itself). The automatic one depends on the version's thresholds; the
    deliberate one runs on every version, as a long-lived worker's GC sooner or later does.
    A worker whose GC is disabled (inherited gc.disable()) never collects on its own, so it
    is left alone. Lesson 04, section 3.
    """
    full_before = gc.get_stats()[-1]["collections"]
    own = [[] for _ in range(count)]
    del own  # freed at once by reference counting: what stays private is the GC's doing
    automatic = gc.get_stats()[-1]["collections"] - full_before
    collect = gc.isenabled()
    if collect:
        gc.collect()  # a full collection: it walks every object the GC tracks
    return automatic, collect


@recorded
def make_garbage(count: int, hold: float = 0.25) -> WorkerReport:
    """Runs in each worker. Its own work, never touching `data`, then a full collection.

    See own_garbage_then_collect(): the collection walks every object the GC tracks, the
    inherited ones included, unless the parent froze them (gc.freeze()).
    """
    done = {}

    def job() -> None:
        done["automatic"], done["deliberate"] = own_garbage_then_collect(count)

    report = _work(job, hold)
    return replace(report, automatic_collections=done["automatic"])


# -- lesson 04's learner cells: workers that read the notebook's own global ----------------


def main_global(name: str):
    """The main module's global `name`: the notebook's (or script's) own variable.

    Under fork a worker sees the parent's __main__ as it was at the fork. Under spawn and
    forkserver a notebook's globals do not exist in the worker (a script's are rebuilt by
    running it again), so this says so instead of failing with a bare AttributeError.
    """
    import __main__

    try:
        return getattr(__main__, name)
    except AttributeError:
        raise RuntimeError(
            f"this worker has no global {name!r}: it was not forked from the process that "
            "built it (spawn and forkserver start fresh interpreters)"
        ) from None


def report_since(start: int | None, began: float, **more) -> WorkerReport:
    """This worker's WorkerReport for a task that began at `began` with `start` private bytes."""
    return WorkerReport(
        pid=os.getpid(),
        rebuilt=False,
        private_start=start,
        private_ready=start,
        private_end=private_bytes(),
        full_collections=more.pop("full_collections", 0),
        seconds=time.perf_counter() - began,
        **more,
    )


@recorded
def read_every_item(name: str = "data", hold: float = 0.3) -> WorkerReport:
    """Runs in each worker. Look at every item of the parent's global `name`, then hold.

    `for item in data: pass` copies nothing on purpose: it only looks. Yet for a list of
    distinct objects, handing out each item writes its reference count inside it, so the
    pages it sits on are copied into this worker (copy-on-write). hold: seconds to stay
    alive afterwards, holding what was copied, while the sampler looks. Reports the
    worker's private memory (USS) before and after. Lesson 04, section 2.
    """
    data = main_global(name)
    start, began = private_bytes(), time.perf_counter()
    for _item in data:
        pass
    report = report_since(start, began)
    time.sleep(hold)
    return report


@recorded
def collect_garbage(hold: float = 0.3) -> WorkerReport:
    """Runs in each worker. Make garbage of its own, run a full collection, then hold.

    It never reads the parent's data, yet a full collection writes into the header of every
    object the GC tracks, the inherited ones too, unless the parent called gc.freeze()
    before forking. Reports the private memory before and after, and the full collections
    (automatic, and the deliberate gc.collect()). Lesson 04, section 3.
    """
    start, began = private_bytes(), time.perf_counter()
    automatic, deliberate = own_garbage_then_collect(OWN_GARBAGE)
    report = report_since(
        start,
        began,
        full_collections=automatic + deliberate,
        automatic_collections=automatic,
    )
    time.sleep(hold)
    return report


# -- lesson 04's page-level view -----------------------------------------------------------


def read_watching_pages(steps: int = 4) -> list[tuple[float, int | None, object]]:
    """Read the global list a share at a time; after each share, look at this process's pages.

    Returns (share read, private bytes, which watched pages this process holds alone) per
    step, the first before reading anything. Not @recorded: it runs outside a measurement.
    """
    if data is None or watched_pages is None:
        raise RuntimeError("no global data to watch: the parent sets data and watched_pages")
    seen = [(0.0, private_bytes(), exclusive_pages(watched_pages))]
    for share in read_in_parts(data, steps):
        seen.append((share, private_bytes(), exclusive_pages(watched_pages)))
    return seen
