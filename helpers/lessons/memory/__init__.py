"""Lesson 04: does a pool of N workers reading a big global list really hold N copies?

Introduced in 04_memory_duplication.ipynb (claim C6 of the design). The notebook calls:

    post_setup()            the post's set-up under fork: RSS, USS, PSS per process and summed
    compare()               every case side by side (memory_cases.CASES), charts by group
    memory_profiler_view()  what memory_profiler reports for the same runs, and its overcount
    reference_counts(), page_view()   why: counts written into objects, pages made private
    verdict()               the post's claim, case by case, decided from the run
    check()                 the "memory" section of python -m helpers check

The cases run in memory_cases and their results live in memory_results; the page view is in
memory_pages, the sentences and the verdict in memory_findings, the exercises' feedback in
memory_exercises, the charts in memory_plots.
"""

from __future__ import annotations

import statistics
import struct
from dataclasses import dataclass, fields

from ...course.check import Effect, at_least, at_most, report_only
from ...machine import memory_budget_bytes, small_machine, start_methods
from ...results import Result
from ...units import MiB
from .cases import CASES, Case, compare, default_size_mb, get_case, run_case
from .exercises import gc_without_copies, page_prediction, shared_data
from .findings import ground_truth_note, outcome, per_worker, verdict
from .pages import page_view, reference_counts
from .results import GROUPS, CaseResult, CasesResult

__all__ = [
    "CASES",
    "GROUPS",
    "Case",
    "CaseResult",
    "CasesResult",
    "compare",
    "default_size_mb",
    "gc_without_copies",
    "get_case",
    "ground_truth_note",
    "memory_profiler_view",
    "outcome",
    "page_prediction",
    "page_view",
    "per_worker",
    "post_setup",
    "reference_counts",
    "run_case",
    "shared_data",
    "sizing_note",
    "verdict",
]



def sizing_note(size_mb: float, workers: int) -> str:
    """One sentence saying how big the lesson's data is on this machine, and why."""
    budget = memory_budget_bytes() / MiB
    small = small_machine()
    full = default_size_mb(workers, small=False)
    text = f"Each case builds about {size_mb:g} MiB of data for {workers} workers"
    if small:
        text += " (shrunk: this is a small machine, or HELPERS_SMALL is set)"
    elif size_mb < full:
        text += f" (shrunk from {full} MiB to fit)"
    return text + f"; the memory budget here is {budget:.0f} MiB."


# -- 1. the post's set-up ------------------------------------------------------------------


@dataclass
class PostSetupResult(CaseResult):
    """The post's set-up: each process's RSS, USS and PSS at one instant, and their sums."""

    def snapshot(self) -> list[dict]:
        """Each process at the instant the summed RSS peaked, and the sums (MiB)."""
        m = self.measurement
        totals = m.totals("rss")
        instant = max(totals, key=lambda tv: tv[1])[0]
        at = [s for s in m.samples if s.t == instant]
        order = {"caller": 0, "worker": 1}
        at.sort(key=lambda s: (order.get(m.role(s.pid), 2), s.pid))

        def mib(v):
            return None if v is None else v / MiB

        rows = [
            {
                "process": "parent" if m.role(s.pid) == "caller" else f"{m.role(s.pid)} {s.pid}",
                "RSS": mib(s.rss),
                "USS (private)": mib(s.uss),
                "PSS (fair share)": mib(s.pss),
            }
            for s in at
        ]
        rows.append(
            {
                "process": "sum over processes",
                "RSS": sum(r["RSS"] for r in rows),
                "USS (private)": sum(r["USS (private)"] or 0 for r in rows),
                "PSS (fair share)": None
                if not m.pss_available
                else sum(r["PSS (fair share)"] or 0 for r in rows),
            }
        )
        rows.append(
            {
                "process": "before the run (sum)",
                "RSS": m.baseline("rss") / MiB,
                "USS (private)": m.baseline("uss") / MiB,
                "PSS (fair share)": m.baseline("pss") / MiB if m.pss_available else None,
            }
        )
        return rows

    def plot(self):
        from .plots import counted_vs_truth

        return [
            super().plot(),
            counted_vs_truth(self, title="Summed RSS counts shared pages once per process"),
        ]


def post_setup(
    workers: int = 4,
    size_mb: float | None = None,
    start_method: str | None = None,
    memory_profiler: bool = True,
) -> PostSetupResult:
    """The post's set-up in Python 3: a pool of `workers` reads a global [0] * n list.

    start_method: fork by default (the post ran on Linux), or the course's where fork is
    missing (Windows). size_mb: default_size_mb(workers) if None. memory_profiler: also
    record what memory_profiler reports, for memory_profiler_view().
    """
    if start_method is None:
        start_method = "fork" if "fork" in start_methods() else None
    r = run_case(
        "repeated",
        workers=workers,
        size_mb=size_mb,
        start_method=start_method,
        memory_profiler=memory_profiler,
    )
    result = PostSetupResult(**{f.name: getattr(r, f.name) for f in fields(r)})
    m = result.measurement
    metric = m.total_metric
    result.title = f"The post's set-up: {workers} {r.case.method} workers read a global [0] * n"
    result.rows = result.snapshot()
    result.findings = [
        f"The list took {result.data_bytes / MiB:.1f} MiB in the parent. The system lost "
        f"{result.truth / MiB:.1f} MiB in all (the ground truth).",
        f"Summed RSS grew by {result.growth('rss') / MiB:.1f} MiB: {result.rss_overcount:.1f}x "
        f"the ground truth, as if there were {result.growth('rss') / max(result.data_bytes, 1):.1f}"
        " copies, because every forked process counts all the pages it shares with the parent"
        " (the list and the interpreter alike) as its own.",
        f"The {metric.upper()} total grew by {result.growth(metric) / MiB:.1f} MiB "
        f"({result.total_error:+.0%} against the ground truth); the workers held "
        f"{result.copies:.2f} copies of the list between them.",
    ]
    result.findings.append(ground_truth_note([result]))
    if not m.pss_available:
        result.findings.append(
            "PSS cannot be measured here (it needs Linux): the totals use USS, which leaves "
            "shared pages out entirely."
        )
    return result


# -- 3. memory_profiler ---------------------------------------------------------------------


@dataclass
class MemoryProfilerResult(Result):
    """memory_profiler's figures beside the PSS total and the ground truth, per case."""

    cases: list[CaseResult] | None = None

    def plot(self):
        from .plots import memory_profiler_lines

        return memory_profiler_lines(
            self.cases[:2], title="memory_profiler adds up RSS: shared pages counted per process"
        )


def memory_profiler_view(results: CasesResult | list[CaseResult]) -> MemoryProfilerResult:
    """What memory_profiler reported during runs already made (they record it as they go).

    include_children: memory_usage(..., include_children=True), the parent's RSS plus every
    descendant's. multiprocess: mprof run --multiprocess, one line per child; their peaks.
    """
    cases = list(results.cases if isinstance(results, CasesResult) else results)
    rows = []
    for r in cases:
        m = r.measurement
        view = m.memory_profiler
        if view is None:
            continue
        monitor = sum(v for pid, v in view.per_process.items() if pid not in m.processes)
        metric = m.total_metric
        rows.append(
            {
                "case": r.case.name,
                "ground truth": r.truth / MiB,
                f"{metric.upper()} total growth": r.growth(metric) / MiB,
                "include_children growth": view.include_children_growth / MiB,
                f"overcount (x {metric.upper()})": view.include_children_growth
                / max(r.growth(metric), 1),
                "multiprocess: children's peaks added": sum(view.per_process.values()) / MiB,
                "of which the monitor itself": monitor / MiB,
            }
        )
    result = MemoryProfilerResult(
        title="What memory_profiler reports for the same runs",
        params={"cases": [r["case"] for r in rows]},
        rows=rows,
        cases=[r for r in cases if r.measurement.memory_profiler is not None],
    )
    if rows:
        key = next(k for k in rows[0] if k.startswith("overcount"))
        worst = max(rows, key=lambda row: row[key])
        least = min(rows, key=lambda row: row[key])
        result.findings = [
            f"include_children grew {worst[key]:.1f}x the {key[13:-1]} total in case "
            f"{worst['case']}: it adds up RSS, so every shared page is counted once per process.",
            f"It came closest in case {least['case']} ({least[key]:.1f}x), where the workers "
            "held their own copies and little was shared.",
            f"The monitoring process is a child too, and is counted: "
            f"{max(row['of which the monitor itself'] for row in rows):.0f} MiB here.",
        ]
    return result


# -- the "memory" section of python -m helpers check ---------------------------------------


def check_effects(quick: bool = True) -> list[Effect]:
    """The memory section: RSS overcount and PSS accuracy (median of 3), copies, spawn rebuild."""
    lesson = "memory"
    workers = 4
    if "fork" not in start_methods():
        return [
            Effect(
                lesson,
                "copy-on-write sharing",
                "needs fork",
                None,
                "",
                None,
                "this platform has no fork start method",
            )
        ]
    # bigger than the lesson's data, so other programs' memory moves matter less
    size = min(64 if quick else 128, memory_budget_bytes() // ((workers + 1) * MiB))
    runs = [post_setup(workers=workers, size_mb=size, memory_profiler=False) for _ in range(3)]
    metric = runs[0].measurement.total_metric.upper()
    distinct = run_case("distinct", workers=workers, size_mb=size)
    pointers = distinct.items * struct.calcsize("P")  # the list's own array of pointers
    objects = max(distinct.data_bytes - pointers, 1)
    effects = [
        at_least(
            lesson,
            f"summed RSS growth vs ground truth ({workers} fork workers, median of 3)",
            statistics.median(r.rss_overcount for r in runs),
            0.7 * workers,
        ),
        at_most(
            lesson,
            f"{metric} total vs ground truth (error, median of 3)",
            statistics.median(abs(r.total_error) for r in runs) * 100,
            20,
            unit="%",
        ),
        report_only(
            lesson,
            "distinct ints: share of the objects' memory each worker copied",
            (distinct.median_worker_private or 0) / objects * 100,
            unit="%",
        ),
    ]
    if "spawn" in start_methods():
        spawn = run_case("spawn", workers=workers, size_mb=size)
        effects.append(
            report_only(
                lesson, f"spawn: copies rebuilt by {workers} workers", spawn.copies, unit="x"
            )
        )
    return effects

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "memory-post-setup": "post_setup",
    "memory-cases": "compare",
    "memory-pages": "page_view",
}
