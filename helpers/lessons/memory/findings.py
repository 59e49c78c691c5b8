"""Lesson 04's conclusions, computed from a run: findings sentences and the verdict table.

Introduced in 04_memory_duplication.ipynb. Every figure comes from the CaseResults; each
verdict is a threshold on the measured copies, beside the mechanism and whether this run showed it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...machine import start_method
from ...results import Result
from ...units import MiB

if TYPE_CHECKING:
    from .cases import CaseResult, CasesResult


CLAIM_COLUMN = "'N workers, N copies'"
# outcome -> what it says of the post's claim
CLAIM = {"copied": "holds", "partly copied": "holds in part", "shared": "does not hold"}
# The share each worker copied (CaseResult.copied_share) that decides an outcome.
FULL = 0.85  # at least this: every worker has its own copy
SHARED = 0.15  # at most this: the data stays shared

# case -> (the outcomes the mechanism predicts, why). "copied or partly copied": copied
# when the items' pages are watched, partly when only private memory is (the list's array
# of pointers is only read, so it stays shared).
MECHANISMS: dict[str, tuple[str, str]] = {
    "repeated": ("shared", "the workers only read the list's array of pointers; the one "
                 "object they all point to (0) sits on a single page"),
    "distinct": ("copied or partly copied", "taking an item writes its reference count inside "
                 "the object, so every page holding items is copied; the list's array of "
                 "pointers is only read and stays shared"),
    "bytes": ("shared", "one object: reading its bytes writes nothing but one header"),
    "numpy": ("shared", "one buffer: reading it writes nothing but the array's header"),
    "gc-default": ("copied or partly copied", "a full collection (gc.collect() in the worker, "
                   "as its automatic GC sooner or later runs one) writes into a header in front "
                   "of every object the GC tracks, the inherited lists included, though the "
                   "worker never read them"),
    "gc-freeze": ("shared", "gc.freeze() in the parent moved its objects to a generation the "
                  "GC never visits"),
    "gc-disabled": ("shared", "forked workers inherit the disabled GC, so no collection ran at "
                    "all (and cycles made by the workers would never be freed)"),
    "freeze-read": ("copied or partly copied", "gc.freeze() stops the GC's writes, not the "
                    "reference counts written by reading"),
    "arguments": ("copied", "every task's argument is pickled, sent through a pipe and "
                  "unpickled into new objects"),
    "spawn": ("copied", "each worker is a fresh interpreter that builds the global again"),
}


def outcome(share: float | None) -> str:
    """'copied', 'partly copied' or 'shared', from the share each worker copied."""
    if share is None:
        return "not measured"
    if share >= FULL:
        return "copied"
    if share <= SHARED:
        return "shared"
    return "partly copied"


def _mib(nbytes: float | None) -> str:
    return "n/a" if nbytes is None else f"{nbytes / MiB:.1f} MiB"


def _pages(result: CaseResult) -> str:
    share = result.items_pages_alone
    return "" if share is None else f", {share:.0%} of the items' pages"


def ground_truth_note(results: list[CaseResult], tolerance: float = 0.2) -> str:
    """Whether the PSS (or USS) totals matched the machine's own drop, and why not if not."""
    off = [r for r in results if abs(r.total_error) > tolerance]
    metric = results[0].measurement.total_metric.upper() if results else "PSS"
    if not off:
        where = " in every case" if len(results) > 1 else ""
        return (
            f"The {metric} total matched the ground truth within {tolerance:.0%}{where}: "
            "it counts each shared page once."
        )
    names = ", ".join(r.case.name for r in off)
    return (
        f"The {metric} total and the ground truth differ by more than {tolerance:.0%} in: "
        f"{names}. The ground truth is the whole machine's available memory, so other "
        "programs that allocated or freed memory meanwhile moved it; run again on a quieter "
        "machine to compare them."
    )


def case_findings(cases: CasesResult) -> list[str]:
    """Sentences about this run's cases, each built from its figures."""
    found = []
    if "repeated" in cases:
        r = cases["repeated"]
        found.append(
            f"[0] * n under fork: summed RSS grew {r.rss_overcount:.1f}x the ground truth, yet "
            f"the workers held only {r.copies:.2f} copies of the {_mib(r.data_bytes)} list."
        )
    if "distinct" in cases:
        r = cases["distinct"]
        found.append(
            f"Distinct ints: each worker came to hold {_mib(r.median_worker_private)} alone by "
            f"reading ({r.copies / r.workers:.0%} of the list's {_mib(r.data_bytes)}{_pages(r)})."
        )
    shared = [n for n in ("bytes", "numpy") if n in cases]
    if shared:
        parts = ", ".join(f"{n} {_mib(cases[n].median_worker_private)}" for n in shared)
        found.append(f"One big buffer read by each worker, private memory per worker: {parts}.")
    gc_cases = [n for n in ("gc-default", "gc-freeze", "gc-disabled") if n in cases]
    if gc_cases:
        parts = "; ".join(
            f"{n}: {_mib(cases[n].median_worker_private)}{_pages(cases[n])}, "
            f"{cases[n].full_collections} full collections"
            for n in gc_cases
        )
        found.append(
            "Workers that never read the small lists but made objects of their own, private "
            f"memory per worker: {parts}."
        )
    if "gc-default" in cases and cases["gc-default"].copies is not None:
        r = cases["gc-default"]
        if r.copies / r.workers > 1:
            found.append(
                f"In gc-default each worker held more than the data alone "
                f"({_mib(r.median_worker_private)} for {_mib(r.data_bytes)}): a full "
                "collection walks every object the parent tracks, not only the data."
            )
    if "freeze-read" in cases:
        r = cases["freeze-read"]
        found.append(
            f"gc.freeze() and then reading every small list: {_mib(r.median_worker_private)} "
            f"per worker{_pages(r)}."
        )
    if "spawn" in cases:
        r = cases["spawn"]
        found.append(
            f"spawn: {r.rebuilt} of {r.workers} workers rebuilt the global; they held "
            f"{r.copies:.2f} copies of it."
        )
    if "arguments" in cases:
        r = cases["arguments"]
        found.append(
            f"Sent as task arguments: {r.copies:.2f} copies ({_mib(r.median_worker_private)} "
            "per worker: the unpickled list, and what unpickling left behind)."
        )
    if cases.cases:
        found.append(ground_truth_note(cases.cases))
    return found


def verdict_rows(cases: CasesResult) -> list[dict]:
    """One row per case: what this run measured, what it says of the post's claim, and why."""
    rows = []
    for r in cases.cases:
        expected, why = MECHANISMS.get(r.case.name, ("?", ""))
        got = outcome(r.copied_share)
        if got not in expected.split(" or "):
            why = f"expected {expected}: {why}; not seen in this run"
        rows.append(
            {
                "case": r.case.name,
                "start": r.case.method,
                "copied per worker": r.copied_share,
                "share of": r.copied_of,
                "this run": got,
                CLAIM_COLUMN: CLAIM.get(got, got),
                "why": why,
            }
        )
    return rows


def verdict(cases: CasesResult) -> Result:
    """The verdict table on the post's claim, computed from the cases of this run."""
    rows = verdict_rows(cases)
    seen = {o: ", ".join(r["case"] for r in rows if r["this run"] == o) for o in CLAIM}
    surprises = [r["case"] for r in rows if r["why"].endswith("not seen in this run")]
    findings = [
        f"Copied (each worker held at least {FULL:.0%} alone): {seen['copied'] or 'no case'}.",
        f"Partly copied: {seen['partly copied'] or 'no case'}.",
        f"Shared (each worker held at most {SHARED:.0%} alone): {seen['shared'] or 'none'}.",
    ]
    if surprises:
        findings.append(
            f"Not as the mechanism predicts: {', '.join(surprises)}. A busy machine or a "
            "different Python version can do this; run those cases again."
        )
    # The post's set-up as code that does not choose a start method would run it here.
    course = start_method()
    same = {"fork": "repeated", "spawn": "spawn"}.get(course)
    by_case = {r["case"]: r for r in rows}
    if same in by_case:
        findings.append(
            f"Code that leaves the start method to the platform uses {course} here (the "
            f"course's setting): for the post's [0] * n, this run found it "
            f"{by_case[same]['this run']}, so the claim {by_case[same][CLAIM_COLUMN]} there."
        )
    return Result(
        title="The post's claim, case by case: do N workers hold N copies?",
        params={"workers": cases.workers, "copied_from": FULL, "shared_up_to": SHARED},
        rows=rows,
        findings=findings,
    )
