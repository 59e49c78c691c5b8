"""Charts for the lessons, readable on a classroom projector.

Introduced in 00_start_here.ipynb. Every function styles its own figure (no global rcParams
on import), labels axes with units, uses the Okabe-Ito colour-blind-safe palette, and
returns the matplotlib Figure. Times are shown in seconds from the start of the block.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import contextmanager
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


@contextmanager
def style():
    with matplotlib.rc_context(_STYLE):
        yield


def color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def new_axes(ax: Axes | None, size=(9, 4)) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


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
        fig, ax = new_axes(
            ax, size=(9, 0.5 + 0.45 * max(2, len({(t.pid, t.thread) for t in tasks})))
        )
        if not tasks:
            ax.text(
                0.5,
                0.5,
                "no task events recorded",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            ax.set_title(title)
            return fig
        t0 = min(t.start for t in tasks) if origin is None else origin
        threads_per_pid: dict[int, set[str]] = {}
        for t in tasks:
            threads_per_pid.setdefault(t.pid, set()).add(t.thread)
        multi_thread = any(len(v) > 1 for v in threads_per_pid.values())
        lanes = sorted({(t.pid, t.thread) for t in tasks})
        lane_index = {lane: i for i, lane in enumerate(lanes)}
        names = sorted({t.task for t in tasks})
        for name_index, name in enumerate(names):
            spans = [t for t in tasks if t.task == name]
            for lane in lanes:
                bars = [
                    (t.start - t0, max(t.duration, 1e-4))
                    for t in spans
                    if (t.pid, t.thread) == lane
                ]
                if bars:
                    ax.broken_barh(
                        bars,
                        (lane_index[lane] - 0.4, 0.8),
                        facecolors=color(name_index),
                        edgecolor="white",
                        linewidth=0.3,
                    )
        labels = [
            f"pid {pid} / {thread}" if multi_thread else f"pid {pid}" for pid, thread in lanes
        ]
        ax.set_yticks(range(len(lanes)), labels)
        ax.invert_yaxis()
        ax.set_xlabel("time since start (s)")
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
        if len(names) > 1:
            ax.legend(
                handles=[Patch(color=color(i), label=n) for i, n in enumerate(names)],
                loc="upper left",
                bbox_to_anchor=(1.0, 1.0),
            )
        close_if_inline(fig)
        return fig


def core_load(m: Measurement, *, title: str = "CPU use per core", ax: Axes | None = None) -> Figure:
    """Per-core CPU use over time, in percent."""
    with style():
        fig, ax = new_axes(ax)
        if m.core_load:
            times = [t - m.start for t, _ in m.core_load]
            per_core = list(zip(*(loads for _, loads in m.core_load), strict=True))
            for i, loads in enumerate(per_core):
                ax.step(times, loads, where="pre", color=color(i), label=f"core {i}", linewidth=2)
        ax.set_ylim(0, 105)
        ax.set_xlabel("time since start (s)")
        ax.set_ylabel("CPU use (%)")
        ax.set_title(title)
        if m.core_load:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        close_if_inline(fig)
        return fig


def _memory_layers(m: Measurement, times: list[float], pids: list[int]):
    """Per process, two rows over time in MiB: private (USS), then its share of shared pages."""
    import numpy as np

    index = {t: i for i, t in enumerate(times)}
    layers = []
    for pid in pids:
        private = np.zeros(len(times))
        shared = np.zeros(len(times))
        for s in m.samples:
            if s.pid == pid:
                private[index[s.t]] = (s.uss or 0) / MiB
                if m.total_metric == "pss":
                    shared[index[s.t]] = max(0, (s.pss or 0) - (s.uss or 0)) / MiB
        layers += [private, shared]
    return layers


def _memory_legend(m: Measurement, pids: list[int], truth_line) -> list:
    handles = [
        Patch(color=color(n), label=f"{m.role(pid)} {pid}") for n, pid in enumerate(pids[:10])
    ]
    if len(pids) > 10:
        handles.append(Patch(color="white", label=f"... {len(pids) - 10} more"))
    private_label = "solid: private (USS)"
    if m.total_metric == "pss":
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="grey",
                hatch="//",
                label="hatched: share of shared pages (PSS - USS)",
            )
        )
    else:
        private_label += "; shared pages not shown (no PSS here)"
    handles.insert(0, Patch(color="grey", label=private_label))
    truth_line.set_label("ground truth: start + system drop")
    handles.append(truth_line)
    return handles


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
        x = np.array(times) - m.start
        colours = [color(n) for n in range(len(pids)) for _ in range(2)]
        stacks = ax.stackplot(x, *_memory_layers(m, times, pids), colors=colours, alpha=0.85)
        for poly in stacks[1::2]:  # the shared share of each process: hatched, lighter
            poly.set_alpha(0.35)
            poly.set_hatch("//")
        base_total = m.baseline(metric) / MiB
        truth = [(t - m.start, base_total + drop / MiB) for t, drop in m.drops()]
        (truth_line,) = ax.plot(
            [t for t, _ in truth], [v for _, v in truth], color="black", linewidth=2.5
        )
        ax.set_xlabel("time since start (s)")
        ax.set_ylabel(f"memory (MiB, stacked {metric.upper()})")
        ax.set_title(title)
        handles = _memory_legend(m, pids, truth_line)
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
        ax.set_xticks(
            list(positions),
            labels,
            rotation=20 if max(map(len, labels), default=0) > 10 else 0,
            ha="right" if max(map(len, labels), default=0) > 10 else "center",
        )
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
        ax.plot(
            workers, list(workers), color="grey", linestyle=":", label="ideal: speed-up = workers"
        )
        if usable_cores is not None:
            ax.plot(
                workers,
                ideal,
                color="black",
                linestyle="--",
                label=f"ideal on {usable_cores} usable core{'' if usable_cores == 1 else 's'}",
            )
        if amdahl_serial is not None:
            s = amdahl_serial
            curve = [1 / (s + (1 - s) / n) for n in ideal]
            ax.plot(
                workers,
                curve,
                color=color(1),
                linestyle="-.",
                label=f"Amdahl, serial share {s:.0%}",
            )
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
        fig, axes = plt.subplots(
            rows, 1, figsize=(10, 3.2 * rows), layout="constrained", sharex=True
        )
        memory(m, ax=axes[0])
        core_load(m, ax=axes[1])
        if m.tasks:
            timeline(m.tasks, origin=m.start, ax=axes[2])
        fig.suptitle(title, fontsize=15)
        close_if_inline(fig)
        return fig
