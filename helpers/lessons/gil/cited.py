"""Published figures about the GIL, quoted with their sources beside this run's measurements.

Introduced in 03_gil_contention.ipynb, section 8. Nothing here is measured: each Citation
says what was published, by whom and where, and charts draw cited values hatched.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from ...charts import close_if_inline, color, new_axes, style
from .check import THREADS_EFFECT


@dataclass(frozen=True)
class Citation:
    """A published figure: what it measures, its value as published, and where it is from."""

    quantity: str
    value: float | None
    as_published: str
    source: str
    url: str
    label: str = ""  # a short name for a chart


CITATIONS = (
    Citation(
        THREADS_EFFECT,
        1 / 1.8,
        "two CPU-bound threads about 1.8x slower than running the work sequentially "
        "(Python 2.6, old GIL, dual-core machine)",
        "David Beazley, 'Inside the Python GIL', Chicago Python User Group, June 2009",
        "http://www.dabeaz.com/python/GIL.pdf",
        "Beazley 2009\nPython 2.6, old GIL",
    ),
    Citation(
        THREADS_EFFECT,
        1.0,
        "with the new GIL of Python 3.2, the two threads about equal to sequential",
        "David Beazley, 'Understanding the Python GIL', PyCon 2010",
        "http://www.dabeaz.com/python/UnderstandingGIL.pdf",
        "Beazley 2010\nPython 3.2, new GIL",
    ),
    Citation(
        "switch interval (ms)",
        5.0,
        "sys.getswitchinterval() defaults to 0.005 s (5 ms) since Python 3.2",
        "Python documentation, sys.setswitchinterval",
        "https://docs.python.org/3/library/sys.html#sys.setswitchinterval",
    ),
    Citation(
        "convoy effect",
        None,
        "an I/O-bound thread beside a CPU-bound thread waits for the GIL after every "
        "blocking call (reported against the new GIL in 2010)",
        "David Beazley, bpo-7946 'Convoy effect with I/O bound threads and New GIL'",
        "https://bugs.python.org/issue7946",
    ),
)


def published_comparison(threads_result, handoff_result=None):
    """A table putting this run's figures beside the published ones, each with its source."""
    from ...results import Result

    ours = {THREADS_EFFECT: f"{threads_result.speedup('threads'):.2f}x (this run)"}
    if handoff_result is not None:
        turn = handoff_result.median_turn * 1e3
        ours["switch interval (ms)"] = f"median turn {turn:.2f} ms (this run)"
    rows = [
        {
            "quantity": c.quantity,
            "ours": ours.get(c.quantity, "see the convoy chart"),
            "published": c.as_published,
            "source": f"{c.source} ({c.url})",
        }
        for c in CITATIONS
    ]
    title = "Our figures beside published ones (cited, not measured here)"
    return Result(title=title, params={}, rows=rows)


def plot_published(threads_result):
    """Speed-up of two CPU-bound threads: this run's bar beside the cited ones (hatched)."""
    cited = [c for c in CITATIONS if c.quantity == THREADS_EFFECT]
    labels = [f"this run\nPython {platform.python_version()}"]
    labels += [f"cited: {c.label}" for c in cited]
    values = [threads_result.speedup("threads")] + [c.value for c in cited]
    with style():
        fig, ax = new_axes(None, size=(10, 4.2))
        xs = range(len(values))
        fills, hatches = [color(0)] + ["white"] * len(cited), [None] + ["//"] * len(cited)
        edges = [color(i) for i in xs]
        bars = ax.bar(xs, values, color=fills, edgecolor=edges, hatch=hatches, linewidth=2)
        texts = [f"{values[0]:.2f}x"] + [f"about {v:.2g}x" for v in values[1:]]
        ax.bar_label(bars, labels=texts, padding=2)
        ax.set_xticks(xs, labels, fontsize=10)
        ax.axhline(1, color="grey", linestyle=":", label="sequential speed")
        ax.set_ylabel("speed-up of 2 threads (× sequential)")
        ax.set_ylim(0, max(1.5, *values) * 1.2)
        ax.set_title("Two CPU-bound threads: our measurement beside published ones (hatched)")
        ax.legend(loc="upper right")
        ax.grid(axis="x", visible=False)
        close_if_inline(fig)
        return fig
