"""Lesson 06's decision guide: each lesson's key figure, measured here, beside the references.

Introduced in 06_choosing_and_scaling_out.ipynb. KEY_FIGURES names one or two effects per
lesson, exactly as that lesson's check section (helpers.course.registry.check_sections()) reports
them. The guide measures each again with a quick version of the lesson's own experiment
(the part of its check that gives the key figure, with the same names and thresholds), or
with the whole check section where there is no quick version, and puts it next to the same
figure from every file in data/reference/ (helpers.course.reference). The advice is stated as a
condition, and each row says whether this run showed it.

    _quick_pool() or run_section("...")    -> [Effect, ...] -> the key Effect  --+
    data/reference/*.json -> the same (lesson, effect) on known machines       --+-> GuideResult
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..results import Result
from . import reference
from .check import Effect, at_least, at_most, report_only, run_section
from .registry import check_sections, resolve


@dataclass(frozen=True)
class KeyFigure:
    """One row of the decision guide: which effect answers which question, and the advice.

    measure: "module:function" of a quick measurement returning this lesson's key Effects
    (the same names and thresholds as its check section, less of the rest), or None to run
    the whole check section.
    """

    section: str  # the check section that reports it (helpers.course.registry.check_sections())
    effect: str  # the Effect's name, exactly as the section reports it
    lesson: str  # the notebook that teaches it
    workload: str  # the kind of work the row is about
    advice: str  # what to choose, when the effect holds
    measure: str | None = None


_HERE = "helpers.course.guide"

# In teaching order. A section not registered on this checkout is skipped and named.
KEY_FIGURES: list[KeyFigure] = [
    KeyFigure(
        "pool",
        "speed-up at 2 workers, CPU-bound",
        "01_process_pool",
        "CPU-bound pure Python",
        "a process pool, one worker per usable core",
        f"{_HERE}:_quick_pool",
    ),
    KeyFigure(
        "threads",
        "16 threads over 32 requests of 50 ms vs 1 thread",
        "02_threads",
        "I/O-bound: tasks that mostly wait (network, disk)",
        "threads (or asyncio): the waits overlap, no extra process needed",
        f"{_HERE}:_quick_threads",
    ),
    KeyFigure(
        "gil",
        "CPU-bound threads: speed-up of 2 threads over sequential",
        "03_gil_contention",
        "CPU-bound pure Python on threads",
        "not threads while the GIL is on: they take turns",
        f"{_HERE}:_quick_gil",
    ),
    KeyFigure(
        "gil",
        "sha256 of 1 MiB buffers: speed-up of 2 threads",
        "03_gil_contention",
        "C code that releases the GIL (hashing, zlib, numpy)",
        "threads: they run in parallel inside the C code, sharing memory",
        f"{_HERE}:_quick_gil",
    ),
    KeyFigure(
        "memory",
        "distinct ints: share of the objects' memory each worker copied",
        "04_memory_duplication",
        "big read-only Python objects for many workers",
        "numpy arrays or shared memory: reading Python objects copies them",
        f"{_HERE}:_quick_memory",
    ),
    KeyFigure(
        "sharing",
        "shared_memory vs Manager list: item reads per second",
        "05_sharing_memory",
        "data that workers read and write together",
        "shared_memory (one machine), a Manager or Redis only when you need their reach",
        f"{_HERE}:_quick_sharing",
    ),
    KeyFigure(
        "scaling",
        "asyncio time / threads time, same concurrency",
        "06_choosing_and_scaling_out",
        "I/O-bound, thousands of waits at once",
        "asyncio: one thread carries every wait, if the libraries are async",
    ),
    KeyFigure(
        "scaling",
        "dask overhead per task / Pool's (chunksize=1)",
        "06_choosing_and_scaling_out",
        "CPU-bound work beyond one machine",
        "a dask cluster, when each task runs far longer than its overhead",
    ),
]


def key_sections() -> list[str]:
    """The check sections the guide needs, in teaching order, that this checkout registers."""
    return [s for s in dict.fromkeys(k.section for k in KEY_FIGURES) if s in check_sections()]


# -- quick measurements of the key figures ---------------------------------------------------
# Each runs only the part of a lesson's check that gives its key figures, with that check's
# effect names and thresholds, so the guide costs seconds rather than a full check.


def _quick_pool() -> list[Effect]:
    from ..lessons import pool
    from ..machine import usable_cores

    if usable_cores() < 2:  # a speed-up cannot show: say so at once instead of measuring
        return [at_least(pool.LESSON, pool.SPEEDUP_EFFECT, None, pool.SPEEDUP_AT_LEAST, cores=2)]
    speed = pool.speedup_sweep(
        [1, 2], total_seconds=0.6, serial_share=None, repeats=3, measure_cpu=False
    )
    return [
        at_least(pool.LESSON, pool.SPEEDUP_EFFECT, speed.speedup(2), pool.SPEEDUP_AT_LEAST,
                 cores=2)
    ]


def _quick_threads() -> list[Effect]:
    from ..lessons import threads

    r = threads.io_speedup(threads=(1, 16), tasks=32, delay=0.05, repeats=2)
    return [at_least("threads", KEY_FIGURES[1].effect, r.speedup(16), 8.0)]


def _quick_gil() -> list[Effect]:
    from ..lessons import gil
    from ..machine import gil_enabled, usable_cores

    if usable_cores() < 2:  # neither effect can show on one core: skip the measurement
        return [
            at_most("gil", gil.THREADS_EFFECT, None, 1.2, cores=2),
            at_least("gil", gil.SHA256_EFFECT, None, 1.5, cores=2),
        ]
    tvp = gil.threads_vs_processes(workers=2, task_seconds=0.2, repeats=3)
    if gil_enabled():
        threads = at_most("gil", gil.THREADS_EFFECT, tvp.speedup("threads"), 1.2, cores=2)
    else:  # free-threaded: the same measurement, the opposite expectation
        threads = at_least("gil", gil.THREADS_EFFECT, tvp.speedup("threads"), 1.6, cores=2)
    sha = gil.gil_release(kinds=("sha256",), threads=(1, 2), seconds=0.1, repeats=5)
    return [threads, at_least("gil", gil.SHA256_EFFECT, sha.speedup("sha256", 2), 1.5, cores=2)]


def _quick_memory() -> list[Effect]:
    import struct

    from ..lessons import memory
    from ..machine import start_methods

    effect = KEY_FIGURES[4].effect
    if "fork" not in start_methods():
        return [Effect("memory", effect, "reported", None, "%", None,
                       "this platform has no fork start method")]
    distinct = memory.run_case("distinct", workers=4, size_mb=min(64, memory.default_size_mb(4)))
    objects = max(distinct.data_bytes - distinct.items * struct.calcsize("P"), 1)
    copied = (distinct.median_worker_private or 0) / objects * 100
    return [report_only("memory", effect, copied, unit="%")]


def _quick_sharing() -> list[Effect]:
    from ..lessons import sharing

    return [at_least("sharing", KEY_FIGURES[5].effect, sharing.item_read_ratio(seconds=0.1), 10)]


def _measure(key: KeyFigure, quick: bool) -> list[Effect]:
    """The key figure's quick measurement, or its whole check section; errors become effects."""
    if key.measure is None:
        return run_section(key.section, quick=quick)
    try:
        return list(resolve(key.measure)())
    except Exception as exc:  # one lesson's failure must not hide the others' figures
        return [Effect(key.section, key.effect, "no error", None, "", False,
                       f"{type(exc).__name__}: {exc}")]


def _threshold(expected: str) -> float | None:
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
    def unit(self) -> str:
        if self.here is not None:
            return self.here.unit
        return self.references[0].unit if self.references else ""

    @property
    def expected(self) -> str:
        if self.here is not None:
            return self.here.expected
        return self.references[0].expected if self.references else ""

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

    def plot(self):
        return guide_chart(self)


def decision_guide(
    sections: list[str] | None = None,
    quick: bool = True,
    effects: list[Effect] | None = None,
) -> GuideResult:
    """Measure each key figure here (the sections' quick checks) and gather the references.

    sections: which check sections to run (default: every section the guide needs). effects:
    figures already measured in this session (for example by the lesson's own experiments),
    used instead of running their sections again.
    """
    wanted = key_sections() if sections is None else list(sections)
    unknown = [s for s in wanted if s not in check_sections()]
    if unknown:
        raise ValueError(
            f"unknown section {', '.join(unknown)}; known: {', '.join(check_sections())}"
        )
    measured: list[Effect] = list(effects or [])
    have = {(e.lesson, e.effect) for e in measured}
    seconds: dict[str, float] = {}
    for section in wanted:
        todo = [
            k for k in KEY_FIGURES if k.section == section and (k.section, k.effect) not in have
        ]
        if not todo and any(k.section == section for k in KEY_FIGURES):
            continue  # already measured in this session
        start = time.perf_counter()
        runs = list(dict.fromkeys(k.measure for k in todo)) or [None]
        for target in runs:
            key = next((k for k in todo if k.measure == target), KeyFigure(section, "", "", "", ""))
            found = _measure(key, quick)
            measured += found
            have |= {(e.lesson, e.effect) for e in found}
        seconds[section] = time.perf_counter() - start
    rows = []
    for key in KEY_FIGURES:
        here = next(
            (e for e in measured if e.lesson == key.section and e.effect == key.effect), None
        )
        if here is None:  # a section that failed reports one "section ran" effect
            here = next(
                (e for e in measured if e.lesson == key.section and e.holds is False), None
            )
        rows.append(GuideRow(key, here, reference.figures(key.section, key.effect)))
    skipped = sorted({k.section for k in KEY_FIGURES} - set(check_sections()))
    result = GuideResult(
        title="Decision guide: each lesson's key figure, here and on reference machines",
        params={"sections": wanted, "quick": quick},
        guide=rows,
        seconds=seconds,
        skipped=skipped,
        effects=measured,
    )
    result.rows = [
        {
            "lesson": row.key.lesson,
            "workload": row.key.workload,
            "figure": row.key.effect,
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
    findings = []
    showed = [r for r in result.guide if r.here is not None and r.here.holds]
    cannot = [r for r in result.guide if r.here is not None and r.here.holds is None]
    failed = [r for r in result.guide if r.here is not None and r.here.holds is False]
    took = sum(result.seconds.values())
    findings.append(
        f"This machine showed {len(showed)} of the {len(result.guide)} key effects"
        + (f" (the quick checks took {took:.0f} s)." if result.seconds else ".")
    )
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
        fig, axes = plt.subplots(
            lines, columns, figsize=(4.6 * columns, 3.9 * lines), layout="constrained",
            squeeze=False,
        )
        for ax, row in zip(axes.flat, rows, strict=False):
            labels, values, colours = [], [], []
            if row.here is not None and row.here.measured is not None:
                labels.append("this machine")
                values.append(row.here.measured)
                colours.append(color(0))
            for i, f in enumerate(row.references):
                if f.measured is not None:
                    labels.append(_wrap(f.machine, 22))
                    values.append(f.measured)
                    colours.append(color(i + 1))
            if values:
                drawn = ax.bar(range(len(values)), values, color=colours)
                ax.bar_label(drawn, labels=[f"{v:.3g}{row.unit}" for v in values], padding=2)
                ax.set_xticks(range(len(values)), labels, fontsize=8)
                ax.margins(y=0.18)  # room for the value labels above the bars
            else:
                ax.text(0.5, 0.5, "not measured yet", ha="center", va="center",
                        transform=ax.transAxes, color="dimgray")
                ax.set_xticks([])
                ax.set_yticks([])
            limit = _threshold(row.expected)
            if limit is not None and values:
                ax.axhline(limit, color="black", linestyle="--", linewidth=1.5,
                           label=f"expected {row.expected.split(' with')[0]}")
                ax.legend(fontsize=8, loc="lower right")
            ax.set_title(_wrap(row.key.effect, 34), fontsize=11)
            if values:
                unit = row.unit.strip()
                ax.set_ylabel({"x": "ratio (x)", "": "count"}.get(unit, unit))
            ax.set_xlabel(f"lesson {row.key.lesson[:2]}: {row.status}", fontsize=9, color="dimgray")
            ax.grid(axis="x", visible=False)
        for ax in list(axes.flat)[len(rows):]:
            ax.set_visible(False)
        fig.suptitle("Key figures: this machine against the reference machines", fontsize=14)
        plt.close(fig)
        return fig


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)) or text


# -- exercise 1: choose a model for each workload -------------------------------------------

MODELS = ("one process", "processes", "threads", "asyncio", "cluster")

# workload -> (the models that fit, why), the reasons pointing at what the course measured
WORKLOADS: dict[str, tuple[set[str], str]] = {
    "download 2,000 pages from a slow web API": (
        {"threads", "asyncio"},
        "the time is waiting, which overlaps in threads or coroutines (02, and section 2 here)",
    ),
    "8 independent pure-Python simulations of 20 s each, on a laptop": (
        {"processes"},
        "pure Python holds the GIL, so only processes use several cores (01, 03)",
    ),
    "square 1,000,000 numbers, each as its own task": (
        {"one process"},
        "each task is far shorter than what sending it to a worker costs (01, section 3 here)",
    ),
    "compress 40 large files with zlib": (
        {"threads", "processes"},
        "zlib releases the GIL while it works, so threads scale; processes do too (03)",
    ),
    "50,000 one-minute simulations, results needed by tomorrow": (
        {"cluster"},
        "about 35 core-days of work: more cores than one machine has (section 3 here)",
    ),
}


def check_choices(choices: dict[str, str]) -> bool:
    """Exercise 1: feedback on the model chosen for each workload; never raises."""
    right = 0
    for workload, (fits, why) in WORKLOADS.items():
        chosen = (choices or {}).get(workload)
        if chosen is None or chosen == "":
            print(f"➡️  {workload}: no choice yet (one of {', '.join(MODELS)})")
        elif chosen not in MODELS:
            print(f"❌ {workload}: {chosen!r} is not one of {', '.join(MODELS)}")
        elif chosen in fits:
            right += 1
            print(f"✅ {workload}: {chosen}; {why}")
        else:
            print(f"❌ {workload}: {chosen} is not the best fit. Hint: {why}")
    print(f"{right} of {len(WORKLOADS)} right.")
    return right == len(WORKLOADS)
