"""Lesson 04, section 1: the post's set-up, and what memory_profiler reports of it.

Introduced in 04_memory_duplication.ipynb. observed() turns the learner's own run of the
post's set-up (a global list, a fork Pool, a worker that reads it, under helpers.measure())
into a CaseResult; post_setup() is the same run done by the helpers, for the pre-class check
and ``python -m helpers run memory-post-setup``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ...machine import start_methods
from ...probes import Measurement
from ...results import Result
from ...units import MiB
from ...workloads import memory as work
from .cases import get_case, run_case
from .findings import ground_truth_note
from .results import CaseResult, CasesResult


@dataclass
class PostSetupResult(CaseResult):
    """The post's set-up: each process's RSS, USS and PSS at one instant, and their sums."""

    def snapshot(self) -> list[dict]:
        """Each process at the instant the summed RSS peaked, and the sums (MiB)."""
        m = self.measurement
        instant = max(m.totals("rss"), key=lambda tv: tv[1])[0]
        order = {"caller": 0, "worker": 1}
        at = [s for s in m.samples if s.t == instant]
        at.sort(key=lambda s: (order.get(m.role(s.pid), 2), s.pid))

        def row(process: str, rss, uss, pss) -> dict:
            rss, uss, pss = (None if v is None else v / MiB for v in (rss, uss, pss))
            return {"process": process, "RSS": rss, "USS (private)": uss, "PSS (fair share)": pss}

        pss = m.pss_available
        rows = [
            row("parent" if m.role(s.pid) == "caller" else f"{m.role(s.pid)} {s.pid}",
                s.rss, s.uss, s.pss)
            for s in at
        ]
        return rows + [
            row("sum over processes", sum(s.rss for s in at), sum(s.uss or 0 for s in at),
                sum(s.pss or 0 for s in at) if pss else None),
            row("before the run (sum)", m.baseline("rss"), m.baseline("uss"),
                m.baseline("pss") if pss else None),
        ]

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

    start_method: fork (the post ran on Linux), or the course's where fork is missing.
    size_mb: default_size_mb(workers) if None. memory_profiler: for memory_profiler_view().
    """
    if start_method is None:
        start_method = "fork" if "fork" in start_methods() else None
    r = run_case("repeated", workers=workers, size_mb=size_mb, start_method=start_method,
                 memory_profiler=memory_profiler)
    return as_post_setup(r, workers)


def as_post_setup(r: CaseResult, workers: int) -> PostSetupResult:
    """A case's result with the post's table (one instant, per process) and findings."""
    result = PostSetupResult(**{f.name: getattr(r, f.name) for f in fields(r)})
    result.title = f"The post's set-up: {workers} {r.case.method} workers read a global [0] * n"
    result.rows = result.snapshot()
    result.findings = post_findings(result)
    return result


def post_findings(result: CaseResult) -> list[str]:
    """What summed RSS, the PSS (or USS) total and the ground truth said about one run."""
    m = result.measurement
    metric = m.total_metric
    found = [
        f"The list took {result.data_bytes / MiB:.1f} MiB in the parent. The system lost "
        f"{result.truth / MiB:.1f} MiB in all (the ground truth).",
        f"Summed RSS grew by {result.growth('rss') / MiB:.1f} MiB: {result.rss_overcount:.1f}x "
        f"the ground truth, as if there were {result.growth('rss') / max(result.data_bytes, 1):.1f}"
        " copies, because every forked process counts all the pages it shares with the parent"
        " (the list and the interpreter alike) as its own.",
        f"The {metric.upper()} total grew by {result.growth(metric) / MiB:.1f} MiB "
        f"({result.total_error:+.0%} against the ground truth); the workers held "
        f"{result.copies:.2f} copies of the list between them.",
        ground_truth_note([result]),
    ]
    if not m.pss_available:
        found.append(
            "PSS cannot be measured here (it needs Linux): the totals use USS, which leaves "
            "shared pages out entirely."
        )
    return found


def observed(
    case: str, m: Measurement, reports: list, data, *, start_method: str = "fork"
) -> CaseResult:
    """A run the learner made in a notebook cell, as a CaseResult of the named case.

    case: a name from CASES, for the label and the verdict's mechanism; m: the measure()
    block around the Pool; reports: what the workers returned (read_every_item or
    collect_garbage), a worker's first only; data: the global they were given. "repeated"
    comes back as a PostSetupResult, with the post's table.
    """
    first = {}
    for report in reports:
        first.setdefault(report.pid, report)
    workers = len(first)
    the_case = get_case(case, start_method=start_method)
    result = CaseResult(
        title=f"{the_case.label}: {workers} {start_method} workers",
        params={"case": case, "workers": workers},
        measurement=m, case=the_case, workers=workers, data_bytes=work.data_bytes(data),
        items=len(data), reports=list(first.values()),
    )
    if case == "repeated":
        return as_post_setup(result, workers)
    result.rows = [result.row()]
    result.findings = [observed_finding(result)]
    return result


def observed_finding(result: CaseResult) -> str:
    """One sentence: what the median worker came to hold alone, against the data's size."""
    held = result.median_worker_private or 0
    return (
        f"Each worker came to hold {held / MiB:.1f} MiB alone ({held / result.data_bytes:.0%} "
        f"of the {result.data_bytes / MiB:.1f} MiB of data); {result.full_collections} full "
        "collections ran in the workers."
    )


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
    cases = results.cases if isinstance(results, CasesResult) else results
    cases = [r for r in cases if r.measurement.memory_profiler is not None]
    rows = []
    for r in cases:
        m, view = r.measurement, r.measurement.memory_profiler
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
        cases=cases,
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
