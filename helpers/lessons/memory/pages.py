"""Lesson 04's page-level view: how many 4 KiB pages a forked worker's reads make private.

Introduced in 04_memory_duplication.ipynb, section 7. One forked worker reads the parent's
list of distinct ints a share at a time, counting after each its private pages (smaps_rollup)
and the ints' pages it holds alone (pagemap). reference_counts() shows why: reading writes.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ... import pages
from ...machine import require_workers, start_methods
from ...results import Result
from ...runner import process_pool, wait
from ...units import MiB
from ...workloads import memory as work
from .cases import require_size_mb


@dataclass
class PageViewResult(Result):
    """Per step of reading: private pages (smaps) and the objects' pages held alone (pagemap)."""

    items: int = 0
    object_pages: int = 0
    fractions: list[float] = field(default_factory=list)
    private_pages: list[int] = field(default_factory=list)
    object_pages_private: list[int] | None = None
    flags: list = field(default_factory=list, repr=False)  # per step, pages in list order
    reason: str = ""

    @property
    def bytes_per_object(self) -> float:
        """Average bytes of memory per int: the pages they lie on / how many there are."""
        return self.object_pages * pages.PAGE_SIZE / max(self.items, 1)

    def plot(self):
        from .plots import page_steps

        return page_steps(self)


def _list_order(items: list, sorted_pages):
    """Positions that put the sorted page numbers in the order the list first reaches them."""
    import numpy as np

    per_item = np.fromiter(
        (id(x) // pages.PAGE_SIZE for x in items), dtype=np.int64, count=len(items)
    )
    first_seen = np.full(len(sorted_pages), len(items), dtype=np.int64)
    np.minimum.at(first_seen, np.searchsorted(sorted_pages, per_item), np.arange(len(items)))
    return np.argsort(first_seen, kind="stable")


def page_view(size_mb: float = 16, steps: int = 4, timeout: float = 60.0) -> PageViewResult:
    """One forked worker reads a list of distinct ints in `steps` shares; count its private pages.

    Needs Linux (smaps_rollup, pagemap) and fork; elsewhere the result says why, not failing.
    """
    require_workers(steps, what="steps")
    spec = work.DataSpec.for_size("distinct", require_size_mb(size_mb, workers=1))
    title = f"Pages a forked worker makes private by reading {spec.items:,} distinct ints"
    reason = pages.unavailable_reason()
    if not reason and "fork" not in start_methods():
        reason = "this platform has no fork start method, so nothing is shared to begin with"
    if reason:
        return PageViewResult(
            title=title,
            params={"size_mb": size_mb},
            reason=reason,
            findings=[f"The page-level view cannot run here: {reason}."],
        )
    try:
        items = work.publish(spec)
        # before the fork: going through the list writes every item's reference count
        work.watched_pages = pages.object_pages(items, size=sys.getsizeof(items[0]))
        order = _list_order(items, work.watched_pages)
        with process_pool(1, start_method="fork") as pool:
            seen = wait(pool.apply_async(work.read_watching_pages, (steps,)), timeout)
    finally:
        items = None
        work.clear()  # the global and watched_pages
    base = seen[0][1] or 0
    watched = seen[0][2] is not None
    total = len(seen[0][2]) if watched else 0
    alone = [int(x.sum()) for _, _, x in seen] if watched else None
    result = PageViewResult(
        title=title, params={"size_mb": size_mb, "steps": steps}, items=spec.items,
        object_pages=total, fractions=[f for f, _, _ in seen],
        private_pages=[((p or 0) - base) // pages.PAGE_SIZE for _, p, _ in seen],
        object_pages_private=alone, flags=[x[order] for _, _, x in seen] if watched else [],
    )
    return _page_view_described(result)


def _page_view_described(result: PageViewResult) -> PageViewResult:
    """The run's table (one row per share read) and its findings."""
    alone, total = result.object_pages_private, result.object_pages
    watched = alone is not None
    result.rows = [
        {
            "share read": f"{f:.0%}",
            "pages made private (smaps_rollup)": p,
            "object pages held alone (pagemap)": alone[i] if watched else None,
            "object pages read (share x all)": round(f * total),
        }
        for i, (f, p) in enumerate(zip(result.fractions, result.private_pages, strict=True))
    ]
    last = result.private_pages[-1]
    result.findings = [
        f"The {result.items:,} ints lie on {total:,} pages of {pages.PAGE_SIZE // 1024} KiB: "
        f"{result.bytes_per_object:.0f} bytes per int, so one page holds about "
        f"{pages.PAGE_SIZE / result.bytes_per_object:.0f} of them.",
        f"Reading all of them made {last:,} pages private ({last * pages.PAGE_SIZE / MiB:.1f} MiB)"
        + (f"; the pagemap shows the worker holding {alone[-1]:,} of the {total:,} object pages "
           "alone." if watched else "."),
    ]
    return result


def reference_counts(extra_references: int = 1000) -> Result:
    """Add references to a few objects and see whether their reference count (in them) changes.

    PEP 683 (3.12+) made some objects immortal: their count never changes, so reading them
    writes nothing. Immortal: None, True, False, small ints (-5..256), the empty tuple,
    static types and interned strings (from 3.13, not those sys.intern() makes at run time).
    A learner's own lists, big ints and floats stay mortal. Lesson 04, section 7.
    """
    big = int("1" * 7)  # built at run time, so it is not a shared constant
    runtime = sys.intern("course_" + str(extra_references))  # interned now, at run time
    candidates = {  # name -> (object, what PEP 683 says of it)
        "None": (None, "immortal"),
        "True": (True, "immortal"),
        "0 (a small int)": (0, "immortal"),
        "() (empty tuple)": ((), "immortal"),
        "int (a static type)": (int, "immortal"),
        "'abc' (a string literal, interned)": ("abc", "immortal"),
        "sys.intern() at run time": (runtime, "immortal on 3.12; mortal from 3.13"),
        "1111111 (a big int)": (big, "mortal"),
        "a list": ([1, 2, 3], "mortal"),
    }
    rows = []
    for name, (obj, pep) in candidates.items():
        before = sys.getrefcount(obj)
        holders = [obj] * extra_references  # every slot is one more reference
        after = sys.getrefcount(obj)
        del holders
        rows.append({"object": name, "PEP 683 (3.12+)": pep, "count before": before,
                     f"after {extra_references} more references": after,
                     "count written?": after != before})
    return Result(
        title="Reference counts live inside the objects: who gets written?",
        params={"extra_references": extra_references, "python": sys.version.split()[0]},
        rows=rows,
        findings=immortal_findings(rows),
    )


def immortal_findings(rows: list[dict]) -> list[str]:
    """Which objects' counts this Python wrote, and which it left alone (immortal)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    written = [r["object"] for r in rows if r["count written?"]]
    unchanged = [r["object"] for r in rows if not r["count written?"]]
    immortal = (
        "immortal objects exist here (PEP 683)." if sys.version_info >= (3, 12)
        else "there are no immortal objects yet (they arrive in 3.12, PEP 683)."
    )
    found = [
        f"This is Python {version}: {immortal}",
        f"Counts written when references were added: {', '.join(written) or 'none'}.",
    ]
    if unchanged:
        found.append(f"Counts never written (immortal): {', '.join(unchanged)}.")
    return found
