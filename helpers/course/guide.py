"""Lesson 06's decision guide: each lesson's key figure, measured here, beside the references.

Introduced in 06_choosing_and_scaling_out.ipynb. KEY_FIGURES names one or two effects per
lesson by the lesson's own Rule (its check.py), so a renamed effect or a changed threshold
reaches the guide by import, never by a copied string. Each figure is measured again (a quick
version of the lesson's experiment, or its whole check section) and set beside the same figure
from every file in data/reference/. The advice is a condition; each row says if this run showed it.

    quick_pool() ... or run_section("...") -> [Effect, ...] -> the Rule's Effect  --+
    data/reference/*.json -> the same (lesson, effect) on known machines          --+-> GuideResult
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..lessons.gil.check import SHA256, threads_rule
from ..lessons.gil.check import THREADS as GIL_THREADS
from ..lessons.memory.check import DISTINCT_COPIED
from ..lessons.pool.check import SPEEDUP
from ..lessons.scaling.check import ASYNCIO_VS_THREADS, DASK_OVERHEAD_RATIO
from ..lessons.sharing.check import READ_RATIO
from ..lessons.threads.check import IO_SPEEDUP
from ..machine import usable_cores
from ..results import Result
from . import reference
from .check import Effect, Rule, require_sections, run_section
from .registry import check_sections

# -- quick measurements of the key figures ---------------------------------------------------
# Each runs only the part of a lesson's check that gives its key figure, judged by the lesson's
# Rule, so the guide costs seconds rather than a full check.


def quick_pool() -> list[Effect]:
    """Lesson 01's speed-up at 2 workers, from a short sweep (skipped on one core)."""
    from ..lessons.pool.speedup import speedup_sweep

    if usable_cores() < SPEEDUP.cores:  # a speed-up cannot show: say so instead of measuring
        return [SPEEDUP.judge(None)]
    speed = speedup_sweep([1, 2], total_seconds=0.6, serial_share=None, repeats=3, measure_cpu=True)
    return [SPEEDUP.judge(speed.cores_in_use(2))]


def quick_threads() -> list[Effect]:
    """Lesson 02's 16 I/O threads against one, on the slow server."""
    from ..lessons.threads.speedup import io_speedup

    return [IO_SPEEDUP.judge(io_speedup(threads=(1, 16), tasks=32, delay=0.05, repeats=2).speedup(16))]


def quick_gil() -> list[Effect]:
    """Lesson 03's CPU-bound threads and sha256 threads, 2 against 1 (skipped on one core)."""
    from ..lessons.gil.release import gil_release
    from ..lessons.gil.threads import threads_vs_processes

    if usable_cores() < 2:  # neither effect can show on one core: skip the measurement
        return [threads_rule().judge(None), SHA256.judge(None)]
    tvp = threads_vs_processes(workers=2, task_seconds=0.2, repeats=3)
    sha = gil_release(kinds=("sha256",), threads=(1, 2), seconds=0.1, repeats=5)
    return [threads_rule().judge(tvp.core_speedup("threads")), SHA256.judge(sha.speedup("sha256", 2))]


def quick_memory() -> list[Effect]:
    """Lesson 04's copies made by reading distinct ints, 4 workers under fork."""
    from ..lessons.memory.check import check_size, distinct_copied_percent
    from ..machine import start_methods

    if "fork" not in start_methods():
        return [DISTINCT_COPIED.judge(None, "this platform has no fork start method")]
    return [DISTINCT_COPIED.judge(distinct_copied_percent(check_size(quick=True)))]


def quick_sharing() -> list[Effect]:
    """Lesson 05's item reads per second, shared_memory against a Manager list."""
    from ..lessons.sharing.check import item_read_ratio

    return [READ_RATIO.judge(item_read_ratio(seconds=0.1))]


@dataclass(frozen=True)
class KeyFigure:
    """One row of the decision guide: which Rule answers which question, and the advice."""

    rule: Rule  # the effect, imported from its lesson's check.py
    lesson: str  # the notebook that teaches it
    workload: str  # the kind of work the row is about
    advice: str  # what to choose, when the effect holds
    # a quick measurement giving Effects judged by the lesson's Rules; None: its whole section
    measure: Callable[[], list[Effect]] | None = None

    @property
    def section(self) -> str:
        return self.rule.lesson

    @property
    def effect(self) -> str:
        return self.rule.effect


# In teaching order. A section not registered on this checkout is skipped and named.
KEY_FIGURES: list[KeyFigure] = [
    KeyFigure(SPEEDUP, "01_process_pool", "CPU-bound pure Python",
              "a process pool, one worker per usable core", quick_pool),
    KeyFigure(IO_SPEEDUP, "02_threads", "I/O-bound: tasks that mostly wait (network, disk)",
              "threads (or asyncio): the waits overlap, no extra process needed", quick_threads),
    KeyFigure(GIL_THREADS, "03_gil_contention", "CPU-bound pure Python on threads",
              "not threads while the GIL is on: they take turns", quick_gil),
    KeyFigure(SHA256, "03_gil_contention", "C code that releases the GIL (hashing, zlib, numpy)",
              "threads: they run in parallel inside the C code, sharing memory", quick_gil),
    KeyFigure(DISTINCT_COPIED, "04_memory_duplication", "big read-only Python objects for many workers",
              "numpy arrays or shared memory: reading Python objects copies them", quick_memory),
    KeyFigure(READ_RATIO, "05_sharing_memory", "data that workers read and write together",
              "shared_memory (one machine), a Manager or Redis only when you need their reach",
              quick_sharing),
    KeyFigure(ASYNCIO_VS_THREADS, "06_choosing_and_scaling_out", "I/O-bound, thousands of waits at once",
              "asyncio: one thread carries every wait, if the libraries are async"),
    KeyFigure(DASK_OVERHEAD_RATIO, "06_choosing_and_scaling_out", "CPU-bound work beyond one machine",
              "a dask cluster, when each task runs far longer than its overhead"),
]


def key_sections() -> list[str]:
    """The check sections the guide needs, in teaching order, that this checkout registers."""
    return [s for s in dict.fromkeys(k.section for k in KEY_FIGURES) if s in check_sections()]


def _measure(key: KeyFigure, quick: bool) -> list[Effect]:
    """The key figure's quick measurement, or its whole check section; errors become effects."""
    if key.measure is None:
        return run_section(key.section, quick=quick)
    try:
        return list(key.measure())
    except Exception as exc:  # one lesson's failure must not hide the others' figures
        return [Effect(key.section, key.effect, "no error", None, "", False,
                       f"{type(exc).__name__}: {exc}")]


def threshold_in(expected: str) -> float | None:
    """The number in an Effect's expectation, e.g. '>= 8x with 2+ usable cores' -> 8.0."""
    found = re.search(r"[<>]=\s*(-?[\d.]+(?:e-?\d+)?)", expected)
    return float(found.group(1)) if found else None


@dataclass
class GuideRow:
    """One key figure: measured here (or why not) and on each reference machine."""

    key: KeyFigure
    here: Effect | None
    references: list[reference.ReferenceFigure] = field(default_factory=list)

    @property
    def unit(self) -> str:  # this machine's, else the first reference's
        return getattr(self.here or next(iter(self.references), None), "unit", "")

    @property
    def expected(self) -> str:
        return getattr(self.here or next(iter(self.references), None), "expected", "")

    @property
    def status(self) -> str:
        if self.here is None:
            return "not measured here"
        return {True: "showed it", False: "did not show it", None: "cannot show it"}[self.here.holds]


@dataclass
class GuideResult(Result):
    """The decision guide's data: one row per key figure, with the reference figures."""

    guide: list[GuideRow] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # section -> seconds it took
    skipped: list[str] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)  # every effect measured, to reuse

    @property
    def showed(self) -> int:
        """How many key figures this run showed (held), out of len(self.guide)."""
        return sum(1 for row in self.guide if row.here is not None and row.here.holds)

    def plot(self):
        return guide_chart(self)


def decision_guide(
    sections: list[str] | None = None, quick: bool = True, effects: list[Effect] | None = None
) -> GuideResult:
    """Measure each key figure here (the sections' quick checks) and gather the references.

    sections: which check sections to run (default: every section the guide needs). effects:
    figures already measured in this session (for example by the lesson's own experiments),
    used instead of running their sections again.
    """
    wanted = require_sections(key_sections() if sections is None else list(sections))
    measured: list[Effect] = list(effects or [])
    seconds: dict[str, float] = {}
    for section in wanted:
        have = {(e.lesson, e.effect) for e in measured}
        todo = [k for k in KEY_FIGURES if k.section == section and (k.section, k.effect) not in have]
        if not todo and any(k.section == section for k in KEY_FIGURES):
            continue  # already measured in this session
        start = time.perf_counter()
        if not todo:  # a section with no key figure: its whole check
            measured += run_section(section, quick=quick)
        for key in {k.measure: k for k in todo}.values():  # each quick measurement once
            measured += _measure(key, quick)
        seconds[section] = time.perf_counter() - start
    rows = []
    for key in KEY_FIGURES:
        mine = [e for e in measured if e.lesson == key.section]
        exact = [e for e in mine if e.effect == key.effect]
        failed = [e for e in mine if e.holds is False]  # a failed section: one "section ran"
        here = (exact or failed or [None])[0]
        rows.append(GuideRow(key, here, reference.figures(key.section, key.effect)))
    result = GuideResult(
        title="Decision guide: each lesson's key figure, here and on reference machines",
        params={"sections": wanted, "quick": quick},
        guide=rows, seconds=seconds, effects=measured,
        skipped=sorted({k.section for k in KEY_FIGURES} - set(check_sections())),
    )
    result.rows = [
        {
            "lesson": row.key.lesson, "workload": row.key.workload, "figure": row.key.effect,
            "expected": row.expected,
            "here": row.here.measured_text if row.here else "not measured",
            "this run": row.status + (f" ({row.here.why})" if row.here and row.here.why else ""),
            "reference": "; ".join(f"{f.measured_text} ({f.machine})" for f in row.references)
            or "none recorded yet",
            "choose": row.key.advice,
        }
        for row in rows
    ]
    result.findings = _findings(result)
    return result


def _findings(result: GuideResult) -> list[str]:
    cannot = [r for r in result.guide if r.here is not None and r.here.holds is None]
    failed = [r for r in result.guide if r.here is not None and r.here.holds is False]
    took = sum(result.seconds.values())
    findings = [
        f"This machine showed {result.showed} of the {len(result.guide)} key effects"
        + (f" (the quick checks took {took:.0f} s)." if result.seconds else ".")
    ]
    for r in cannot:
        ref = reference.best(r.key.section, r.key.effect)
        findings.append(
            f"{r.key.lesson}: this machine cannot show '{r.key.effect}' ({r.here.why}); "
            + (f"reference: {ref}." if ref else "no reference file records it yet.")
        )
    for r in failed:
        findings.append(
            f"{r.key.lesson}: '{r.key.effect}' measured {r.here.measured_text}, expected "
            f"{r.here.expected}: a busy machine, or see the lesson."
        )
    if result.skipped:
        findings.append(f"Sections not on this checkout: {', '.join(result.skipped)}.")
    if not reference.load_all():
        findings.append(
            "No reference files in data/reference/ yet: only this machine's figures are shown."
        )
    return findings


def guide_chart(result: GuideResult):
    """One small panel per key figure: this machine's bar beside each reference machine's."""
    import matplotlib.pyplot as plt

    from ..charts import color, style

    rows = result.guide
    columns = min(3, max(1, len(rows)))
    lines = -(-len(rows) // columns)
    with style():
        fig, axes = plt.subplots(lines, columns, figsize=(4.6 * columns, 3.9 * lines),
                                 layout="constrained", squeeze=False)
        for ax, row in zip(axes.flat, rows, strict=False):
            bars = [(_wrap(f.machine, 22), f.measured, color(i + 1))
                    for i, f in enumerate(row.references) if f.measured is not None]
            if row.here is not None and row.here.measured is not None:
                bars.insert(0, ("this machine", row.here.measured, color(0)))
            labels, values, colours = zip(*bars, strict=True) if bars else ((), (), ())
            if values:
                drawn = ax.bar(range(len(values)), values, color=colours)
                ax.bar_label(drawn, labels=[f"{v:.3g}{row.unit}" for v in values], padding=2)
                ax.set_xticks(range(len(values)), labels, fontsize=8)
                ax.margins(y=0.18)  # room for the value labels above the bars
                unit = row.unit.strip()
                ax.set_ylabel({"x": "ratio (x)", "": "count"}.get(unit, unit))
                if (limit := threshold_in(row.expected)) is not None:
                    ax.axhline(limit, color="black", linestyle="--", linewidth=1.5,
                               label=f"expected {row.expected.split(' with')[0]}")
                    ax.legend(fontsize=8, loc="lower right")
            else:
                ax.text(0.5, 0.5, "not measured yet", ha="center", va="center",
                        transform=ax.transAxes, color="dimgray")
                ax.set(xticks=[], yticks=[])
            ax.set_title(_wrap(row.key.effect, 34), fontsize=11)
            ax.set_xlabel(f"lesson {row.key.lesson[:2]}: {row.status}", fontsize=9, color="dimgray")
            ax.grid(axis="x", visible=False)
        for ax in list(axes.flat)[len(rows):]:
            ax.set_visible(False)
        fig.suptitle("Key figures: this machine against the reference machines", fontsize=14)
        plt.close(fig)
        return fig


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(text, width) or text
