"""The results of lesson 04's cases: figures computed from a run, the table, the charts.

Introduced in 04_memory_duplication.ipynb. A CaseResult computes, from one case's
measurement and workers' reports, how far each way of counting grew, the copies the workers
held and the share of the items' pages each held alone; a CasesResult sets several side by side.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...results import Result
from ...units import MiB
from ...workloads import memory as work

if TYPE_CHECKING:
    from .cases import Case


# The charts group the cases by the question they answer: group -> (title, its cases).
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "data": ("What the data is made of (fork)", ("repeated", "distinct", "bytes", "numpy")),
    "gc": (
        "The garbage collector and gc.freeze() (fork)",
        ("gc-default", "gc-freeze", "gc-disabled", "freeze-read"),
    ),
    "start": ("How the workers get the data", ("repeated", "arguments", "spawn")),
}


@dataclass
class CaseResult(Result):
    """One case: its measurement, the data's size, and what each worker reported.

    data_bytes: what the data's objects take (workloads.memory.data_bytes)."""

    case: Case | None = None
    workers: int = 0
    data_bytes: int = 0
    items: int = 0
    reports: list[work.WorkerReport] = field(default_factory=list)

    @property
    def worker_private(self) -> list[int]:
        return [r.private_growth for r in self.reports if r.private_growth is not None]

    @property
    def median_worker_private(self) -> float | None:
        """What the median worker came to hold alone, in bytes."""
        return statistics.median(self.worker_private) if self.worker_private else None

    @property
    def copies(self) -> float | None:
        """What all workers held alone, in units of the data: 0 = all shared, N = N copies."""
        if not self.worker_private or self.data_bytes <= 0:
            return None
        return sum(self.worker_private) / self.data_bytes

    @property
    def items_pages_alone(self) -> float | None:
        """The share of the list items' pages the median worker held alone, from the kernel's
        page table (pagemap): its own allocations do not count. None where not measured."""
        shares = [
            r.watched_alone / r.watched_total
            for r in self.reports
            if r.watched_alone is not None and r.watched_total
        ]
        return statistics.median(shares) if shares else None

    @property
    def copied_share(self) -> float | None:
        """What each worker copied, as a share of the items' pages (watched) or of the data."""
        if self.items_pages_alone is not None:
            return self.items_pages_alone
        return None if self.copies is None else self.copies / max(self.workers, 1)

    @property
    def copied_of(self) -> str:
        """What copied_share is a share of, and how it was measured."""
        if self.items_pages_alone is not None:
            return "the items' pages (pagemap)"
        return "the data (private memory)"

    @property
    def full_collections(self) -> int:
        return sum(r.full_collections for r in self.reports)

    @property
    def rebuilt(self) -> int:
        return sum(r.rebuilt for r in self.reports)

    def growth(self, metric: str) -> int:
        """How far the tree's summed metric grew during the case, in bytes."""
        return self.measurement.growth(metric)

    @property
    def truth(self) -> int:
        """The system's drop in available memory: what the case really cost."""
        return self.measurement.system_drop

    @property
    def rss_overcount(self) -> float:
        """Growth of summed RSS against the ground truth: how often shared pages were counted."""
        return self.growth("rss") / max(self.truth, 1)

    @property
    def total_error(self) -> float:
        """Growth of the PSS (or USS) total against the ground truth, as a signed fraction."""
        return self.growth(self.measurement.total_metric) / max(self.truth, 1) - 1

    def row(self) -> dict:
        """This case's line in the summary table (sizes in MiB)."""
        metric = self.measurement.total_metric.upper()
        per_worker = self.median_worker_private
        return {
            "case": self.case.name,
            "what": self.case.label,
            "start": self.case.method,
            "data MiB": self.data_bytes / MiB,
            "summed RSS growth": self.growth("rss") / MiB,
            f"{metric} total growth": self.growth(self.measurement.total_metric) / MiB,
            "ground truth": self.truth / MiB,
            "private per worker": None if per_worker is None else per_worker / MiB,
            "copies": self.copies,
            "items' pages held alone": self.items_pages_alone,
            "full GCs": self.full_collections,
        }

    def plot(self):
        from ... import charts as plots

        return plots.memory(self.measurement, title=self.title)


@dataclass
class CasesResult(Result):
    """Several cases side by side: one summary table, memory charts grouped by question."""

    cases: list[CaseResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    workers: int = 0

    def __getitem__(self, name: str) -> CaseResult:
        if name not in self:
            raise KeyError(f"no case {name!r} in this run; it has {', '.join(self.names)}")
        return self.cases[self.names.index(name)]

    def __contains__(self, name: object) -> bool:
        return name in self.names

    @property
    def names(self) -> list[str]:
        return [c.case.name for c in self.cases]

    def plot(self, group: str | None = None):
        """The memory charts of one group ('data', 'gc', 'start'), or a list of all groups."""
        from .plots import case_grid

        if group is None:
            have = set(self.names)
            return [self.plot(g) for g, (_, names) in GROUPS.items() if have.intersection(names)]
        if group not in GROUPS:
            raise ValueError(f"group must be one of {', '.join(GROUPS)}; got {group!r}")
        title, names = GROUPS[group]
        return case_grid([self[n] for n in names if n in self], title=title)

    def plot_copies(self):
        """One bar per case: the workers' private growth added up, in copies of the data."""
        from ... import charts as plots

        done = [c for c in self.cases if c.copies is not None]
        return plots.bars(
            [c.case.name for c in done], [c.copies for c in done],
            ylabel="workers' private growth\n(in copies of the data)",
            title=f"What {self.workers} workers came to hold alone, in copies of the data",
            reference=self.workers, reference_label=f"{self.workers} copies: one per worker",
        )


def side_by_side(*runs: CaseResult) -> CasesResult:
    """Runs already made (the learner's own, say) as one CasesResult, to chart them together."""
    return CasesResult(
        title=", ".join(r.case.name for r in runs), params={}, cases=list(runs),
        workers=max(r.workers for r in runs),
    )
