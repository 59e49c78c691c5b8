"""Work on data that a parent process left in a module global before starting workers.

Introduced in 00_start_here.ipynb (the shared buffer, `inherited`) and the heart of
04_memory_duplication.ipynb (the big read-only global, `data`): forked workers see the
parent's global through copy-on-write pages; spawned ones build it again.

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
        per_item = KINDS.get(kind, ("", 1))[1]  # an unknown kind fails in __post_init__
        return cls(kind, max(1, nbytes // per_item))


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

    The container (sys.getsizeof; a buffer's includes its bytes) plus, for a list, one
    sample item's object rounded up to the allocator's block size, times the items. Trap:
    sys.getsizeof alone misses a list's items and the allocator's rounding. Lesson 04, section 2.
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

    private_start: when the worker began (before any rebuild); private_end: after its task.
    rebuilt: whether it built its own copy. full_collections: runs of the GC's oldest
    generation during the task, automatic and deliberate (automatic_collections: the
    automatic ones alone, None where not counted). watched_alone: how many of the parent's
    item pages (watched_pages) it held alone at the end, of watched_total; None where not
    watched (not forked, or no pagemap).
    """

    pid: int
    rebuilt: bool
    private_start: int | None
    private_end: int | None
    full_collections: int
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
    """This worker process's own notes, set by prepare()."""

    barrier = None
    rebuilt = False
    private_start: int | None = None


def prepare(spec: DataSpec | None, barrier=None) -> None:
    """Runs in each worker. Pool initializer: note its memory; rebuild the global if missing.

    A forked worker keeps the inherited `data`; a spawned one builds a new copy, as it would
    a script's module-level global. spec None: the data travels as task arguments instead.
    """
    global data, data_spec
    WorkerNotes.private_start = private_bytes()
    WorkerNotes.barrier = barrier
    WorkerNotes.rebuilt = spec is not None and data_spec != spec
    if WorkerNotes.rebuilt:
        data, data_spec = build(spec), spec


def _wait_for_the_others() -> None:
    # All workers start and end together: a sample catches all at their peak, one task each.
    if WorkerNotes.barrier is not None:
        WorkerNotes.barrier.wait(BARRIER_TIMEOUT)


def read_in_parts(items, steps: int) -> Iterator[float]:
    """Look at every item, without copying, in `steps` parts; yield the share read after each."""
    n = len(items)
    walker = iter(items) if isinstance(items, list) else None
    for step in range(steps):
        start, stop = n * step // steps, n * (step + 1) // steps
        if walker is not None:
            # each item handed out gets its reference count written inside it: that copies pages
            for _item in itertools.islice(walker, stop - start):
                pass
        elif isinstance(items, bytes):
            items.count(0, start, stop)  # reads the bytes in C; nothing is written
        else:
            items[start:stop].sum()  # a numpy view: reads the buffer; nothing is written
        yield (step + 1) / steps


def _work(job, hold: float) -> WorkerReport:
    """Run job() in step with the other workers; report this worker's memory after it.

    job() may return a dict of more WorkerReport fields."""
    try:
        _wait_for_the_others()
        full_before = gc.get_stats()[-1]["collections"]
        more = job() or {}
        alone = None if watched_pages is None else exclusive_pages(watched_pages)
        report = WorkerReport(
            pid=os.getpid(),
            rebuilt=WorkerNotes.rebuilt,
            private_start=WorkerNotes.private_start,
            private_end=private_bytes(),
            full_collections=gc.get_stats()[-1]["collections"] - full_before,
            watched_alone=None if alone is None else int(alone.sum()),
            watched_total=None if alone is None else len(alone),
            **more,
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
    if items is None:
        raise RuntimeError("no global data: the pool was started without prepare(spec)")
    for _share in read_in_parts(items, steps):
        time.sleep(pause)  # spread the reading out, so the chart shows the copies grow


@recorded
def read_global(steps: int = 6, pause: float = 0.03, hold: float = 0.25) -> WorkerReport:
    """Read every item of the global `data`, in `steps` parts, then hold `hold` seconds."""
    return _work(lambda: _read_all(data, steps, pause), hold)


@recorded
def read_argument(items, steps: int = 6, pause: float = 0.03, hold: float = 0.25) -> WorkerReport:
    """Read every item of data that came as this task's argument (pickled by the pool)."""
    return _work(lambda: _read_all(items, steps, pause), hold)


OWN_GARBAGE = 100_000  # lists a learner's worker makes: a set count, chosen without gc.get_objects()


def garbage_count() -> int:
    """How many lists to keep so that the automatic GC runs a full collection on 3.8-3.12.

    A full collection starts once the objects promoted to the oldest generation since the
    last one exceed a quarter of those that survived it: 30% of all tracked now is past that.
    Trap: 3.13 collects the young generation every 2000 allocations, not 700, so there it may
    bring none: the workers also collect deliberately. Called in the parent: gc.get_objects()
    in a forked worker would itself write every object's count. Lesson 04, section 3.
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

    The collection walks every object the GC tracks, the inherited ones included, unless
    the parent froze them (gc.freeze()): see own_garbage_then_collect()."""
    return _work(lambda: {"automatic_collections": own_garbage_then_collect(count)[0]}, hold)


# -- lesson 04's learner cells: workers that read the notebook's own global ----------------


def main_global(name: str):
    """The main module's global `name`: the notebook's (or script's) own variable.

    A forked worker sees the parent's __main__ as it was at the fork; elsewhere a notebook's
    globals do not exist, and this says why instead of a bare AttributeError.
    """
    import __main__

    try:
        return getattr(__main__, name)
    except AttributeError:
        raise RuntimeError(
            f"this worker has no global {name!r}: it was not forked from the process that "
            "built it (spawn and forkserver start fresh interpreters)"
        ) from None


def report_since(start: int | None, **more) -> WorkerReport:
    """This worker's WorkerReport for a task that began with `start` private bytes."""
    return WorkerReport(
        pid=os.getpid(),
        rebuilt=False,
        private_start=start,
        private_end=private_bytes(),
        full_collections=more.pop("full_collections", 0),
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
    start = private_bytes()
    for _item in data:
        pass
    report = report_since(start)
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
    start = private_bytes()
    automatic, deliberate = own_garbage_then_collect(OWN_GARBAGE)
    report = report_since(
        start, full_collections=automatic + deliberate, automatic_collections=automatic
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
