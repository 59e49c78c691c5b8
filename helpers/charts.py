"""Charts for the lessons, readable on a classroom projector.

Introduced in 00_start_here.ipynb. Every function styles its own figure (no global rcParams
on import), labels axes with units, uses the Okabe-Ito colour-blind-safe palette, and
returns the matplotlib Figure. Times are shown in seconds from the start of the block.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib
from matplotlib.patches import Patch

from .units import MiB

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .events import TaskEvent
    from .probes import Measurement

# Okabe & Ito (2008), safe for the common forms of colour blindness.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

_STYLE = {
    "font.size": 12,
    "axes.titlesize": 14,
    "axes.labelsize": 12,
    "legend.fontsize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def style():
    """The course's chart style, for one ``with`` block (no global rcParams change)."""
    return matplotlib.rc_context(_STYLE)


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def new_axes(ax: Axes | None, size=(9, 4)) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    return plt.subplots(figsize=size, layout="constrained")


def close_if_inline(fig: Figure) -> None:
    """Keep the figure off pyplot's list so notebooks show it once (via the return value)."""
    import matplotlib.pyplot as plt

    plt.close(fig)


def timeline(
    tasks: Sequence[TaskEvent],
    *,
    origin: float | None = None,
    title: str = "Who ran which task, when",
    ax: Axes | None = None,
) -> Figure:
    """A Gantt chart: one row per process (and thread), one bar per task."""
    with style():
        lanes = sorted({(t.pid, t.thread) for t in tasks})
        fig, ax = new_axes(ax, size=(9, 0.5 + 0.45 * max(2, len(lanes))))
        if not tasks:
            empty = "no task events recorded"
            ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
            ax.set_title(title)
            return fig
        t0 = min(t.start for t in tasks) if origin is None else origin
        multi_thread = len(lanes) > len({pid for pid, _ in lanes})
        names = sorted({t.task for t in tasks})
        spans = defaultdict(list)
        for t in tasks:
            spans[t.task, t.pid, t.thread].append((t.start - t0, max(t.duration, 1e-4)))
        for (name, *lane), bars in sorted(spans.items()):
            row, colour = lanes.index(tuple(lane)), color(names.index(name))
            ax.broken_barh(
                bars, (row - 0.4, 0.8), facecolors=colour, edgecolor="white", linewidth=0.3
            )
        labels = [f"pid {pid}" + (f" / {thread}" if multi_thread else "") for pid, thread in lanes]
        ax.set_yticks(range(len(lanes)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("time since start (s)")
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
        if len(names) > 1:
            handles = [Patch(color=color(i), label=n) for i, n in enumerate(names)]
            ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        close_if_inline(fig)
        return fig


def core_load(m: Measurement, *, title: str = "CPU use per core", ax: Axes | None = None) -> Figure:
    """Per-core CPU use over time, in percent."""
    with style():
        fig, ax = new_axes(ax)
        if m.core_load:
            times = [t - m.start for t, _ in m.core_load]
            for i, loads in enumerate(zip(*(cores for _, cores in m.core_load), strict=True)):
                ax.step(times, loads, where="pre", color=color(i), label=f"core {i}", linewidth=2)
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_ylim(0, 105)
        ax.set_xlabel("time since start (s)")
        ax.set_ylabel("CPU use (%)")
        ax.set_title(title)
        close_if_inline(fig)
        return fig


def _memory_layers(m: Measurement, times: list[float], pids: list[int], with_shared: bool):
    """Per process, two rows over time in MiB: private (USS), then its share of shared pages."""
    import numpy as np

    column = {t: i for i, t in enumerate(times)}
    row = {pid: 2 * n for n, pid in enumerate(pids)}
    layers = np.zeros((2 * len(pids), len(times)))
    for s in m.samples:
        layers[row[s.pid], column[s.t]] = (s.uss or 0) / MiB
        if with_shared:
            layers[row[s.pid] + 1, column[s.t]] = max(0, (s.pss or 0) - (s.uss or 0)) / MiB
    return layers


def _memory_legend(m: Measurement, pids: list[int], truth_line, with_shared: bool) -> list:
    handles = [Patch(color=color(n), label=f"{m.role(p)} {p}") for n, p in enumerate(pids[:10])]
    if len(pids) > 10:
        handles.append(Patch(color="white", label=f"... {len(pids) - 10} more"))
    private_label = "solid: private (USS)"
    if with_shared:
        shared_label = "hatched: share of shared pages (PSS - USS)"
        handles.append(Patch(facecolor="white", edgecolor="grey", hatch="//", label=shared_label))
    else:
        private_label += "; shared pages not shown (no PSS here)"
    handles.insert(0, Patch(color="grey", label=private_label))
    truth_line.set_label("ground truth: start + system drop")
    return [*handles, truth_line]


def memory(m: Measurement, *, title: str = "Memory per process", ax: Axes | None = None) -> Figure:
    """Memory over time per process, stacked: private (USS) solid, shared share hatched.

    The shared share is PSS minus USS where PSS exists (Linux), so the stack's height is the
    PSS total. The black line is the ground truth: the tree's total just before the block
    plus the memory the system lost since then (Measurement.drops()). Introduced in
    00_start_here.ipynb, section 3.
    """
    import numpy as np

    with style():
        fig, ax = new_axes(ax, size=(9, 4.5))
        metric = m.total_metric
        times = sorted({s.t for s in m.samples})
        if not times:
            ax.set_title(title)
            return fig
        pids = [p.pid for p in m.per_process()]
        with_shared = metric == "pss"
        colours = [color(n) for n in range(len(pids)) for _ in range(2)]
        layers = _memory_layers(m, times, pids, with_shared)
        stacks = ax.stackplot(np.array(times) - m.start, *layers, colors=colours, alpha=0.85)
        for poly in stacks[1::2]:  # the shared share of each process: hatched, lighter
            poly.set_alpha(0.35)
            poly.set_hatch("//")
        base_total = m.baseline(metric) / MiB
        truth_x = [t - m.start for t, _ in m.drops()]
        truth_y = [base_total + drop / MiB for _, drop in m.drops()]
        (truth_line,) = ax.plot(truth_x, truth_y, color="black", linewidth=2.5)
        ax.set_xlabel("time since start (s)")
        ax.set_ylabel(f"memory (MiB, stacked {metric.upper()})")
        ax.set_title(title)
        handles = _memory_legend(m, pids, truth_line, with_shared)
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        close_if_inline(fig)
        return fig


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    ylabel: str,
    title: str,
    reference: float | None = None,
    reference_label: str = "reference",
    ax: Axes | None = None,
) -> Figure:
    """Labelled bars with their values written on top; an optional horizontal reference line."""
    with style():
        fig, ax = new_axes(ax)
        positions = range(len(labels))
        drawn = ax.bar(positions, values, color=[color(i) for i in positions])
        ax.bar_label(drawn, fmt="%.3g", padding=2)
        rotation, ha = (20, "right") if max(map(len, labels), default=0) > 10 else (0, "center")
        ax.set_xticks(positions, labels, rotation=rotation, ha=ha)
        if reference is not None:
            ax.axhline(reference, color="black", linestyle="--", label=reference_label)
            ax.legend()
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="x", visible=False)
        close_if_inline(fig)
        return fig


def speedup(
    workers: Sequence[int],
    speedups: Sequence[float],
    *,
    usable_cores: int | None = None,
    title: str = "Speed-up against workers",
    label: str = "measured",
    amdahl_serial: float | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Speed-up against workers, with the ideal line (and Amdahl's curve for a serial share)."""
    with style():
        fig, ax = new_axes(ax)
        ideal = [w if usable_cores is None else min(w, usable_cores) for w in workers]
        ax.plot(workers, workers, color="grey", linestyle=":", label="ideal: speed-up = workers")
        if usable_cores is not None:
            cores = f"{usable_cores} usable core{'' if usable_cores == 1 else 's'}"
            ax.plot(workers, ideal, color="black", linestyle="--", label=f"ideal on {cores}")
        if amdahl_serial is not None:
            s = amdahl_serial
            curve, label = [1 / (s + (1 - s) / n) for n in ideal], f"Amdahl, serial share {s:.0%}"
            ax.plot(workers, curve, color=color(1), linestyle="-.", label=label)
        ax.plot(workers, speedups, marker="o", color=color(0), linewidth=2.5, label=label)
        ax.set_xlabel("workers")
        ax.set_ylabel("speed-up (× one worker)")
        ax.set_title(title)
        ax.set_xticks(list(workers))
        ax.legend()
        close_if_inline(fig)
        return fig


def measurement_overview(m: Measurement, *, title: str = "What the block did") -> Figure:
    """Memory per process, per-core CPU and, when tasks were recorded, their timeline."""
    import matplotlib.pyplot as plt

    with style():
        rows = 3 if m.tasks else 2
        size = (10, 3.2 * rows)
        fig, axes = plt.subplots(rows, 1, figsize=size, layout="constrained", sharex=True)
        memory(m, ax=axes[0])
        core_load(m, ax=axes[1])
        if m.tasks:
            timeline(m.tasks, origin=m.start, ax=axes[2])
        fig.suptitle(title, fontsize=15)
        close_if_inline(fig)
        return fig
