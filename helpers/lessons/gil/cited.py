"""Published figures about the GIL, quoted with their sources beside this run's measurements.

Introduced in 03_gil_contention.ipynb, section 8. Nothing here is measured: each Citation
says what was published, by whom and where, and charts draw cited values hatched.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass

from ...charts import close_if_inline, color, style
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

    rows = []
    for c in CITATIONS:
        if c.quantity == THREADS_EFFECT:
            ours = f"{threads_result.speedup('threads'):.2f}x (this run)"
        elif c.quantity.startswith("switch interval") and handoff_result is not None:
            ours = f"median turn {handoff_result.median_turn * 1e3:.2f} ms (this run)"
        else:
            ours = "see the convoy chart"
        rows.append(
            {
                "quantity": c.quantity,
                "ours": ours,
                "published": c.as_published,
                "source": f"{c.source} ({c.url})",
            }
        )
    return Result(
        title="Our figures beside published ones (cited, not measured here)", params={}, rows=rows
    )


def plot_published(threads_result):
    """Speed-up of two CPU-bound threads: this run's bar beside the cited ones (hatched)."""
    import matplotlib.pyplot as plt

    cited = [c for c in CITATIONS if c.quantity == THREADS_EFFECT]
    labels = [f"this run\nPython {platform.python_version()}"] + [
        f"cited: {c.label}" for c in cited
    ]
    values = [threads_result.speedup("threads")] + [c.value for c in cited]
    with style():
        fig, ax = plt.subplots(figsize=(10, 4.2), layout="constrained")
        bars = ax.bar(
            range(len(values)),
            values,
            color=[color(0)] + ["white"] * len(cited),
            edgecolor=[color(0)] + [color(i + 1) for i in range(len(cited))],
            hatch=[None] + ["//"] * len(cited),
            linewidth=2,
        )
        ax.bar_label(
            bars, labels=[f"{values[0]:.2f}x"] + [f"about {v:.2g}x" for v in values[1:]], padding=2
        )
        ax.set_xticks(range(len(values)), labels, fontsize=10)
        ax.axhline(1, color="grey", linestyle=":", label="sequential speed")
        ax.set_ylabel("speed-up of 2 threads (× sequential)")
        ax.set_ylim(0, max(1.5, *values) * 1.2)
        ax.set_title("Two CPU-bound threads: our measurement beside published ones (hatched)")
        ax.legend(loc="upper right")
        ax.grid(axis="x", visible=False)
        close_if_inline(fig)
        return fig
