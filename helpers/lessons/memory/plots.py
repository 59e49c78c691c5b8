"""Lesson 04's own charts, drawn with helpers.charts' style and palette.

Introduced in 04_memory_duplication.ipynb: case panels side by side, the counts compared
with the ground truth, what memory_profiler saw over time, and the page-level view.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ... import charts as plots
from ...charts import color
from ...units import MiB

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .pages import PageViewResult
    from .results import CaseResult


def _figure(rows: int, cols: int, size: tuple[float, float], **kwargs):
    import matplotlib.pyplot as plt

    with plots.style():
        return plt.subplots(rows, cols, figsize=size, layout="constrained", **kwargs)


def _legend_for_processes(fig: Figure, workers: int, pss: bool, helpers: int) -> None:
    """One legend for all panels: colours are processes in the order per_process() gives."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=color(0), label="parent (private)")]
    handles += [Patch(color=color(i), label=f"worker {i} (private)") for i in range(1, workers + 1)]
    handles += [
        Patch(color=color(workers + i), label=f"helper {i} (forkserver or resource tracker)")
        for i in range(1, helpers + 1)
    ]
    if pss:
        share = "its share of shared pages"
        handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//", label=share))
    handles.append(Line2D([], [], color="black", linewidth=2.5, label="ground truth"))
    fig.legend(handles=handles, loc="outside right upper", fontsize=10)


def case_grid(results: list[CaseResult], *, title: str) -> Figure:
    """Memory over time per process, one panel per case, on one shared memory axis."""
    cols = 2 if len(results) > 1 else 1
    rows = (len(results) + cols - 1) // cols
    fig, axes = _figure(rows, cols, (13, 3.6 * rows + 0.6), sharey=True, squeeze=False)
    with plots.style():
        for ax, result in zip(axes.flat, results, strict=False):
            sub = f"{result.case.label} ({result.case.method})"
            if result.copies is not None:
                sub += f"\nworkers hold {result.copies:.2f} copies"
            plots.memory(result.measurement, ax=ax, title=sub)
            if ax.get_legend() is not None:
                ax.get_legend().remove()
            ax.title.set_fontsize(12)
        for ax in list(axes.flat)[len(results) :]:
            ax.set_visible(False)
        fig.suptitle(title, fontsize=15)
        workers = max(r.workers for r in results)
        helpers = max(sum(p.role == "helper" for p in r.measurement.per_process()) for r in results)
        _legend_for_processes(fig, workers, results[0].measurement.pss_available, helpers)
    plots.close_if_inline(fig)
    return fig


def counted_vs_truth(result: CaseResult, *, title: str = "") -> Figure:
    """Bars: growth of summed RSS and of the PSS (or USS) total, the ground truth, one copy."""
    m = result.measurement
    metrics = ["rss", m.total_metric]
    labels = [f"summed {x.upper()}" for x in metrics] + ["ground truth"]
    values = [m.growth(x) / MiB for x in metrics] + [m.system_drop / MiB]
    return plots.bars(
        labels, values, ylabel="growth during the run (MiB)",
        title=title or "What each way of counting says the run cost",
        reference=result.data_bytes / MiB, reference_label="one copy of the data",
    )


def memory_profiler_lines(results: list[CaseResult], *, title: str) -> Figure:
    """Over time: memory_profiler's include_children total, the PSS total, the ground truth."""
    fig, axes = _figure(1, len(results), (6.5 * len(results), 4.2), squeeze=False)
    with plots.style():
        for ax, result in zip(axes.flat, results, strict=True):
            m, view = result.measurement, result.measurement.memory_profiler
            metric = m.total_metric
            if view is not None and view.include_children:
                first = view.include_children[0]
                ax.plot([t - m.start for t in view.times],
                        [(v - first) / MiB for v in view.include_children],
                        color=color(3), linewidth=2.5, label="memory_profiler include_children")
            base, totals = m.baseline(metric), m.totals(metric)
            ax.plot([t - m.start for t, _ in totals], [(v - base) / MiB for _, v in totals],
                    color=color(0), linewidth=2.5, label=f"{metric.upper()} total")
            ax.plot([t - m.start for t, _ in m.available],
                    [max(0, m.baseline_available - a) / MiB for _, a in m.available],
                    color="black", linestyle="--", linewidth=2, label="ground truth")
            ax.set_title(f"{result.case.label} ({result.case.method})", fontsize=12)
            ax.set_xlabel("time since start (s)")
            ax.set_ylabel("growth since the start (MiB)")
            ax.legend(loc="upper left")
        fig.suptitle(title, fontsize=15)
    plots.close_if_inline(fig)
    return fig


def page_steps(view: PageViewResult) -> Figure:
    """Left: pages made private against the share of the list read. Right: the pages themselves."""
    import numpy as np

    fractions, flags, title = view.fractions, view.flags, view.title
    fig, (left, right) = _figure(1, 2, (13, 4.6), width_ratios=[1, 1.3])
    with plots.style():
        percent = [100 * f for f in fractions]
        left.plot(percent, [view.object_pages * f for f in fractions], color="grey",
                  linewidth=7, alpha=0.35, label="pages the read objects lie on")
        left.plot(percent, view.private_pages, marker="o", color=color(0), linewidth=2.5,
                  label="private pages (smaps_rollup)")
        if view.object_pages_private is not None:
            left.plot(percent, view.object_pages_private, marker="s", color=color(1), linewidth=2,
                      label="object pages held alone (pagemap)")
        left.set_xlabel("share of the list read (%)")
        left.set_ylabel("4 KiB pages made private")
        left.set_title("Copies grow with what a worker reads", fontsize=12)
        left.legend(loc="upper left")
        if flags:
            from matplotlib.colors import ListedColormap

            # each step a strip of `height` rows of `width` pages; one empty row between steps
            width = int(np.ceil(np.sqrt(len(flags[0]) * 3)))
            height = -(-len(flags[0]) // width)
            image = np.full((len(flags) * (height + 1) - 1, width), np.nan)
            for i, f in enumerate(flags):
                image[i * (height + 1) : i * (height + 1) + height].flat[: len(f)] = f
            right.imshow(image, aspect="auto", interpolation="nearest",
                         cmap=ListedColormap(["#DDDDDD", color(3)]))
            right.set_yticks([i * (height + 1) + height / 2 for i in range(len(flags))],
                             [f"{p:.0f}% read" for p in percent])
            right.set_xticks([])
            right.set_title("The ints' pages in list order: grey shared, red private", fontsize=12)
            right.grid(False)
        else:
            right.text(0.5, 0.5, "pagemap not available here", ha="center", va="center",
                       transform=right.transAxes)
            right.set_axis_off()
        fig.suptitle(title, fontsize=15)
    plots.close_if_inline(fig)
    return fig
