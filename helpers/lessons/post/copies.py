"""How many copies of program 3's list does the corrected program hold? Measured per start method.

Lesson 07, section 3. Each case runs ``post_programs/program3_corrected.py METHOD LIST WORKERS``
as a script under helpers.measure() and adds up RSS, USS and PSS over the program's own
processes (the script, its workers, a forkserver and a resource tracker where there are some)
at the sampling instant their sum peaks. The same program with ``none`` (a range: the same
items printed, no list) is the baseline, so that

    copies by a metric = (program's sum with the list - its sum with none) / one list's size

counts the list alone, not the interpreters. The ground truth is the system's own memory
drop (helpers.measure), with the same baseline subtracted; other programs move it too.
"""

from __future__ import annotations

import html
import sys
from dataclasses import dataclass, field

from ...machine import memory_budget_bytes, start_method, start_methods, usable_cores
from ...results import html_table
from ...units import MiB
from .programs import ProgramRun, run_program

LISTS = {
    "post": "the post's [0] * 1000000: one object, a million pointers to it",
    "distinct": "a million distinct ints: [1000 + i for i in range(1000000)]",
    "none": "range(1000000): the same items printed, no list (the baseline)",
}
ITEMS = 1_000_000  # the post's size, fixed in the program
POST_WORKERS = 8  # the post's Pool(8)
INTERPRETER_BYTES = 40 * MiB  # a generous bound on one worker's own memory, for sizing only
METRICS = ("rss", "uss", "pss")
LABELS = {"rss": "RSS", "uss": "USS", "pss": "PSS", "truth": "ground truth"}  # "truth": the drop


def object_bytes(obj) -> int:
    """Bytes CPython's allocator gives one object: sys.getsizeof rounded up to 16-byte steps
    for small objects (pymalloc's blocks, up to 512 bytes)."""
    size = sys.getsizeof(obj)
    return size if size > 512 else -(-size // 16) * 16


def list_bytes(kind: str) -> int:
    """Bytes one copy of the list program3_corrected.py builds for `kind` takes: the list, plus
    each distinct item once. Built here and sized object by object (none, a range, counts 0).
    """
    if kind == "none":
        return 0
    items = [0] * ITEMS if kind == "post" else [1000 + i for i in range(ITEMS)]
    distinct = {id(x): x for x in items}.values()
    return object_bytes(items) + sum(object_bytes(x) for x in distinct)


def workers_here() -> tuple[int, str]:
    """The post's 8 workers where this machine has the cores and the memory, fewer otherwise.

    Returns (workers, the sentence the lesson shows). At least 2, so that workers can share.
    Sized so that every process holding its own copy of the larger list still fits in the
    memory budget (helpers.machine.memory_budget_bytes).
    """
    cores, budget = usable_cores(), memory_budget_bytes()
    per_process = list_bytes("distinct") + INTERPRETER_BYTES
    by_memory = max(1, budget // per_process - 2)  # the parent holds the list and its numbers
    workers = max(2, min(POST_WORKERS, cores, by_memory))
    if workers == POST_WORKERS:
        return workers, f"{workers} workers, as in the post: this machine has {cores} usable cores"
    limits = [f"{cores} usable core{'s' if cores != 1 else ''}"] if cores < POST_WORKERS else []
    if by_memory < POST_WORKERS:
        limits.append(f"a memory budget of {budget / MiB:.0f} MiB")
    return workers, (
        f"{workers} workers instead of the post's {POST_WORKERS}: this machine has "
        f"{' and '.join(limits)}; the sums below scale with the number of workers"
    )


@dataclass(frozen=True)
class Case:
    """One run of the corrected program, and its sums in bytes by metric ("truth": the drop)."""

    sums: dict[str, int]
    run: ProgramRun


@dataclass
class Copies:
    """The cases of one measurement, and copies of the list per metric against the baseline."""

    workers: int
    why_workers: str
    cases: dict[tuple[str, str], Case] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def copies(self, method: str, kind: str, metric: str) -> float | None:
        """Copies of the list the program held, by metric ("rss", "uss", "pss" or "truth")."""
        case, base = self.cases.get((method, kind)), self.cases.get((method, "none"))
        if case is None or base is None or not self.sizes.get(kind):
            return None
        return (case.sums[metric] - base.sums[metric]) / self.sizes[kind]

    def per_process(self, method: str, kind: str, metric: str) -> float | None:
        """Copies by metric divided by the processes holding the list (workers + the script)."""
        copies = self.copies(method, kind, metric)
        return None if copies is None else copies / (self.workers + 1)

    def rows(self) -> list[dict]:
        return [
            {
                "start method": method,
                "list": kind,
                "processes": len(case.run.processes()),
                **{f"Σ {LABELS[m]} MiB": case.sums[m] / MiB for m in METRICS},
                "ground truth MiB": case.sums["truth"] / MiB,
                "seconds": case.run.seconds,
                **{f"copies by {name}": self.copies(method, kind, m) for m, name in LABELS.items()},
            }
            for (method, kind), case in self.cases.items()
        ]

    def _repr_html_(self) -> str:
        def cell(v) -> str:
            return "–" if v is None else f"{v:.2f}" if isinstance(v, float) else str(v)

        sizes = ", ".join(f"{k}: {v / MiB:.1f} MiB" for k, v in self.sizes.items() if v)
        table = html_table([{k: cell(v) for k, v in row.items()} for row in self.rows()])
        return f"<p>{html.escape(self.why_workers)}. One copy of each list: {sizes}.</p>{table}"

    def plot(self, kind: str = "post"):
        """Copies of one list by each metric, per start method: the post's illusion in one chart."""
        from ... import charts

        methods = sorted({m for m, k in self.cases if k == kind})
        with charts.style():
            fig, ax = charts.new_axes(None)
            width = 0.8 / len(LABELS)
            for i, (metric, label) in enumerate(LABELS.items()):
                values = [self.copies(m, kind, metric) or 0.0 for m in methods]
                positions = [j + (i - 1.5) * width for j in range(len(methods))]
                drawn = ax.bar(positions, values, width, color=charts.color(i),
                               label=label if metric == "truth" else f"summed {label}")
                ax.bar_label(drawn, fmt="%.1f", padding=2)
            ax.axhline(self.workers + 1, color="black", linestyle="--",
                       label=f"one copy per process ({self.workers + 1})")
            ax.set_xticks(range(len(methods)), methods)
            ax.set_ylabel("copies of the list")
            ax.set_title(f"Program 3 corrected, {LISTS[kind].split(':')[0]}, {self.workers} workers")
            ax.legend(fontsize="small")
            charts.close_if_inline(fig)
        return fig


def measure_copies(
    methods: tuple[str, ...] | None = None,
    kinds: tuple[str, ...] = ("post", "distinct"),
    workers: int | None = None,
) -> Copies:
    """Run the corrected program 3 for each start method and list, each beside its baseline.

    methods: default every start method this platform offers, the course's own first.
    workers: default workers_here(). About 1-2 s per case on an idle machine.
    """
    if methods is None:
        methods = tuple(dict.fromkeys([start_method(), *start_methods()]))
    chosen, why = workers_here() if workers is None else (workers, f"{workers} workers, as asked")
    result = Copies(chosen, why, sizes={k: list_bytes(k) for k in kinds})
    for method in methods:
        for kind in ("none", *kinds):
            # python program3_corrected.py METHOD KIND WORKERS, measured
            run = run_program("program 3, corrected", method, kind, str(chosen), timeout=120.0)
            sums = {m: run.memory_bytes(m) for m in METRICS}
            result.cases[(method, kind)] = Case({**sums, "truth": run.measurement.system_drop}, run)
    return result


def copies_findings(copies: Copies) -> str:
    """What this run showed, per start method, in sentences built from its figures (Markdown)."""

    def shown(method: str, kind: str, metric: str) -> str:
        value = copies.copies(method, kind, metric)
        return "–" if value is None else f"{value:.1f}"

    return "\n".join(
        f"- **{m}**, {copies.workers} workers and the script: the post's list showed "
        f"{shown(m, 'post', 'rss')} copies by summed RSS, {shown(m, 'post', 'pss')} by PSS and "
        f"{shown(m, 'post', 'truth')} by the system's own figure; a list of distinct ints, "
        f"{shown(m, 'distinct', 'pss')} by PSS."
        for m in dict.fromkeys(m for m, _ in copies.cases)
    )


def forkserver_sentence(copies: Copies | None = None) -> str:
    """The course's sentence on forkserver and a script's globals for this Python, and what
    this run measured of it (the corrected program's list is a module-level global)."""
    from ..memory.forkserver import version_sentence
    from .check import FORKSERVER_REBUILDS  # here, not at the top: check.py imports this module

    said = version_sentence()
    if copies is None or copies.copies("forkserver", "post", "pss") is None:
        return said
    measured = copies.per_process("forkserver", "post", "pss")
    return (
        f"{said} **Measured here:** under forkserver the corrected program held "
        f"{measured:.2f} copies of its list per process by PSS "
        f"({'each worker built its own' if FORKSERVER_REBUILDS.holds(measured) else 'the workers shared one'})."
    )
