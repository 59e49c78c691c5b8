"""Lesson 04's cases: one big read-only global, many ways for workers to get at it.

Introduced in 04_memory_duplication.ipynb. Every case runs inside one measure() block (RSS,
USS, PSS and the system's own drop, the ground truth), and each worker reports what it holds alone.

    parent: build data (data_bytes = its objects' sizes), note its items' pages
            -> gc setting -> Pool(start method, initializer=prepare)
    worker: prepare() keeps or rebuilds the global -> read / make garbage -> WorkerReport
    result: copies = what the workers hold alone / data_bytes  (0: shared; N: N copies)
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace

from ... import pages
from ...machine import (
    KNOWN_START_METHODS,
    memory_budget_bytes,
    mp_context,
    require_size,
    require_workers,
    small_machine,
    start_method,
    start_methods,
)
from ...probes import measure
from ...runner import process_pool, progress, wait
from ...units import MiB
from ...workloads import memory as work
from .findings import case_findings
from .results import CaseResult, CasesResult

WORKS = ("read", "garbage")
GC_MODES = ("default", "freeze", "disabled")
PASSING = ("global", "argument")


@dataclass(frozen=True)
class Case:
    """One way of giving workers data, and what the workers do with it.

    kind: see workloads.memory.KINDS. work: "read" every item, or "garbage" (its own work,
    never touching the data). start_method: fork, spawn, forkserver, or None for the
    course's (a script's globals under forkserver: forkserver.py). gc_mode: the parent's GC
    before the pool starts: "default", "freeze" (gc.freeze()) or "disabled" (gc.disable()).
    pass_as: "global" or "argument".
    """

    name: str
    kind: str
    label: str
    work: str = "read"
    start_method: str | None = "fork"
    gc_mode: str = "default"
    pass_as: str = "global"

    def __post_init__(self) -> None:
        for value, allowed, what in (
            (self.kind, tuple(work.KINDS), "kind"),
            (self.work, WORKS, "work"),
            (self.gc_mode, GC_MODES, "gc_mode"),
            (self.pass_as, PASSING, "pass_as"),
        ):
            if value not in allowed:
                raise ValueError(f"{what} must be one of {', '.join(allowed)}; got {value!r}")
        # known names only: whether this platform offers the method is checked at run time
        if self.start_method is not None and self.start_method not in KNOWN_START_METHODS:
            raise ValueError(
                f"start_method must be one of {', '.join(KNOWN_START_METHODS)} (or None for "
                f"the course's); got {self.start_method!r}"
            )

    @property
    def method(self) -> str:
        return self.start_method or start_method()

    @property
    def watches_pages(self) -> bool:
        """Whether workers can tell which of the parent's item pages they hold alone: forked
        workers that inherit a list of distinct objects, where Linux's pagemap is readable."""
        return (
            self.kind in ("distinct", "rows")
            and self.method == "fork"
            and self.pass_as == "global"
            and not pages.unavailable_reason()
        )


CASES: dict[str, Case] = {
    c.name: c
    for c in (
        Case("repeated", "repeated", "[0] * n, read (as in the post)"),
        Case("distinct", "distinct", "distinct ints, read"),
        Case("bytes", "bytes", "bytes, read"),
        Case("numpy", "numpy", "numpy array, read"),
        Case("gc-default", "rows", "small lists, own work, GC as is", work="garbage"),
        Case("gc-freeze", "rows", "small lists, own work, gc.freeze()",
             work="garbage", gc_mode="freeze"),
        Case("gc-disabled", "rows", "small lists, own work, gc.disable()",
             work="garbage", gc_mode="disabled"),
        Case("freeze-read", "rows", "small lists, read, gc.freeze()", gc_mode="freeze"),
        Case("arguments", "repeated", "[0] * n, sent as task argument",
             start_method=None, pass_as="argument"),
        Case("spawn", "repeated", "[0] * n, spawn", start_method="spawn"),
    )
}


def sizing_note(size_mb: float, workers: int) -> str:
    """One sentence saying how big the lesson's data is on this machine, and why."""
    full = default_size_mb(workers, small=False)
    text = f"Each case builds about {size_mb:g} MiB of data for {workers} workers"
    if small_machine():
        text += " (shrunk: this is a small machine, or HELPERS_SMALL is set)"
    elif size_mb < full:
        text += f" (shrunk from {full} MiB to fit)"
    return text + f"; the memory budget here is {memory_budget_bytes() / MiB:.0f} MiB."


def get_case(name: str | Case, **changes) -> Case:
    """A case by name (see CASES), with fields changed, e.g. get_case("distinct", kind="numpy")."""
    if not isinstance(name, Case) and name not in CASES:
        raise ValueError(f"unknown case {name!r}; known cases: {', '.join(CASES)}")
    case = name if isinstance(name, Case) else CASES[name]
    return replace(case, **changes) if changes else case


def default_size_mb(workers: int = 4, small: bool | None = None) -> int:
    """The data size for this machine: 32 MiB (16 on a small machine), less if the budget is tight.

    small: None asks helpers.machine.small_machine(). The worst case, workers + 1 copies
    (the parent's and one per worker), must fit in memory_budget_bytes().
    """
    require_workers(workers)
    wanted = 16 if (small_machine() if small is None else small) else 32
    return max(1, min(wanted, memory_budget_bytes() // ((workers + 1) * MiB)))


def require_size_mb(size_mb: float, workers: int) -> int:
    """size_mb in bytes, if the worst case (workers + 1 copies) fits the memory budget."""
    if isinstance(size_mb, bool) or not isinstance(size_mb, (int, float)) or size_mb <= 0:
        raise ValueError(f"size_mb must be a positive number of MiB, got {size_mb!r}")
    nbytes = int(size_mb * MiB)
    worst = f"{workers + 1} copies of {size_mb:g} MiB (the parent's, and one per worker at worst)"
    require_size(nbytes * (workers + 1), what=worst)
    return nbytes


@contextlib.contextmanager
def _gc_setting(mode: str) -> Iterator[None]:
    """Freeze or disable the parent's GC for the block, and always put it back."""
    was_enabled = gc.isenabled()
    if mode == "freeze":
        gc.freeze()  # every object tracked now moves to a generation the GC never visits
    elif mode == "disabled":
        gc.disable()  # no automatic collections; forked workers inherit this setting
    try:
        yield
    finally:
        if mode == "freeze":
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def run_case(
    case: str | Case = "repeated",
    *,
    workers: int = 4,
    size_mb: float | None = None,
    interval: float = 0.05,
    hold: float = 0.25,
    timeout: float = 60.0,
    memory_profiler: bool = False,
    **changes,
) -> CaseResult:
    """Run one case: the parent builds ~size_mb of data, `workers` workers read it (or not).

    case: a name from CASES or a Case; keyword changes replace its fields, e.g.
    run_case("gc-default", gc_mode="freeze"). size_mb: default_size_mb(workers) if None.
    Workers read in 6 parts, 30 ms apart, then hold their memory `hold` seconds together.
    memory_profiler: also record what memory_profiler reports (section 6 of the lesson).
    """
    case = get_case(case, **changes)
    require_workers(workers)
    nbytes = require_size_mb(default_size_mb(workers) if size_mb is None else size_mb, workers)
    spec = work.DataSpec.for_size(case.kind, nbytes)
    method = case.method
    if method not in start_methods():
        raise RuntimeError(
            f"case {case.name!r} needs the {method} start method, which this platform lacks"
        )
    if case.kind == "numpy":
        import numpy  # noqa: F401  (imported before the block: its memory is not the data's)

    with measure(interval=interval, memory_profiler=memory_profiler) as m:
        try:
            items = work.publish(spec)
            data_bytes = work.data_bytes(items)
            if case.watches_pages:
                # before the fork: going through the list writes every item's count
                work.watched_pages = pages.object_pages(items, size=sys.getsizeof(items[0]))
            if case.work == "garbage":
                job, args = work.make_garbage, (work.garbage_count(), hold)
            elif case.pass_as == "argument":
                job, args = work.read_argument, (items, 6, 0.03, hold)
            else:
                job, args = work.read_global, (6, 0.03, hold)
            barrier = mp_context(method).Barrier(workers)
            global_spec = spec if case.pass_as == "global" else None
            with (
                _gc_setting(case.gc_mode),
                process_pool(workers, start_method=method, initializer=work.prepare,
                             initargs=(global_spec, barrier)) as pool,
            ):
                reports = wait(pool.starmap_async(job, [args] * workers, chunksize=1), timeout)
        finally:
            items = args = None  # args may hold the list too
            work.clear()
    return CaseResult(
        title=f"{case.label}: {workers} {method} workers",
        params={"case": case.name, "workers": workers, "size_mb": round(nbytes / MiB, 1)},
        measurement=m, case=case, workers=workers, data_bytes=data_bytes, items=spec.items,
        reports=list(reports),
    )


def compare(
    names: list[str] | None = None,
    *,
    workers: int = 4,
    size_mb: float | None = None,
    earlier: tuple[CaseResult, ...] | list[CaseResult] = (),
) -> CasesResult:
    """Run cases (default: all of CASES) with the same workers and data size, side by side.

    earlier: results already run (e.g. post_setup()'s) to reuse instead of running again.
    A case whose start method this platform lacks is skipped, and the result says so.
    """
    names = list(CASES) if names is None else list(names)
    for name in names:
        get_case(name)  # unknown names fail before anything runs
    require_workers(workers)
    size_mb = default_size_mb(workers) if size_mb is None else size_mb
    require_size_mb(size_mb, workers)
    reused = {r.case.name: r for r in earlier}
    done, skipped = [], {}
    for name in progress(names, total=len(names), desc="cases", expected_seconds=2.0 * len(names)):
        if name in reused:
            done.append(reused[name])
        elif (method := CASES[name].method) not in start_methods():
            skipped[name] = f"needs the {method} start method, which this platform lacks"
        else:
            done.append(run_case(name, workers=workers, size_mb=size_mb, memory_profiler=True))

    result = CasesResult(
        title=f"{len(done)} ways to give {workers} workers ~{size_mb:g} MiB of read-only data",
        params={"workers": workers, "size_mb": size_mb},
        rows=[c.row() for c in done]
        + [{"case": n, "what": f"skipped: {why}"} for n, why in skipped.items()],
        cases=done, skipped=skipped, workers=workers,
    )
    result.findings = case_findings(result)
    return result
