"""Charts for lesson 01 (process pools), built on helpers.charts and styled the same way.

Introduced in 01_process_pool.ipynb. Each function takes a result from one of this lesson's
modules and returns one matplotlib Figure, with a title, axis units and a legend.
"""

from __future__ import annotations

import math
import statistics
from typing import TYPE_CHECKING

from ... import charts as plots

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(rows: int = 1, height: float = 4.0, sharex: bool = False):
    import matplotlib.pyplot as plt

    return plt.subplots(rows, 1, figsize=(10, height), layout="constrained", sharex=sharex)


def chunksize_curve(r) -> Figure:
    """Median time for the tiny tasks against chunksize (log-log), each run as a dot."""
    with plots.style():
        fig, ax = _figure()
        sizes = r.chunksizes
        medians = [r.median(s) * 1000 for s in sizes]
        blue = plots.color(0)
        ax.plot(sizes, medians, marker="o", linewidth=2.5, color=blue, label="median time")
        runs = [(s, t * 1000) for s in sizes for t in r.seconds[s]]
        ax.scatter(*zip(*runs, strict=True), color=blue, alpha=0.35, s=18)
        default = f"Pool.map's default ({r.default_chunksize})"
        ax.axvline(r.default_chunksize, color=plots.color(1), linestyle="--", label=default)
        best = r.best_chunksize
        for size, text, offset, align in (
            (1, f"chunksize 1: {r.median(1) * 1000:.0f} ms", (12, -4), "left"),
            (best, f"fastest: {best}, {r.median(best) * 1000:.1f} ms", (0, -18), "center"),
        ):
            point = (size, r.median(size) * 1000)
            ax.annotate(text, point, xytext=offset, textcoords="offset points", ha=align)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("chunksize (tasks per message, log scale)")
        ax.set_ylabel("time for all tasks (ms, log scale)")
        ax.set_title(
            f"{r.tasks:,} tiny tasks on {r.workers} workers: bigger chunks, fewer messages"
        )
        ax.legend(loc="upper right")
        plots.close_if_inline(fig)
        return fig


def chunk_timelines(r) -> Figure:
    """One timeline per chunksize, on one time axis: where each worker's time went.

    Dark blue: a task using the CPU (its CPU time). Light blue: the rest of the task's wall
    time, when it waited for a core another process held (drawn after the running part).
    Vermilion: a worker between two tasks (sending a result, waiting for and unpickling the
    next message). Grey: from the map() call to the worker's first task.
    """
    from matplotlib.patches import Patch

    kinds = (  # what a worker was doing, with its colour, in drawing order
        ("waiting for its first task", "#BBBBBB"),
        ("between two tasks", plots.color(3)),
        ("task paused: no free core", "#A6CEE3"),
        ("task running", plots.color(0)),
    )
    with plots.style():
        sizes = sorted(r.timelines)
        fig, axes = _figure(len(sizes), height=2.4 + 1.5 * len(sizes), sharex=True)
        for ax, size in zip(axes, sizes, strict=True):
            origin = r.timeline_origins[size]
            pids = sorted({e.pid for e in r.timelines[size]})
            pairs = r.consecutive(size)
            for lane, pid in enumerate(pids):
                events = [e for e in r.timelines[size] if e.pid == pid]
                late = [e for e in events if e.duration > e.cpu]
                bars = (
                    [(0, min(e.start for e in events) - origin)],
                    [(a.end - origin, b.start - a.end) for a, b in pairs if a.pid == pid],
                    [(e.start - origin + e.cpu, e.duration - e.cpu) for e in late],
                    [(e.start - origin, min(e.cpu, e.duration)) for e in events],
                )
                for segments, (_, colour) in zip(bars, kinds, strict=True):
                    ax.broken_barh(segments, (lane - 0.4, 0.8), color=colour)
            ax.set_yticks(range(len(pids)), [f"worker {pid}" for pid in pids])
            ax.invert_yaxis()
            ax.grid(axis="y", visible=False)
            ax.axvline(r.timeline_walls[size], color="black", linestyle=":", linewidth=1.5)
            messages = math.ceil(len(r.timelines[size]) / size)
            parent = r.timeline_parent_cpu.get(size)
            ax.set_title(
                f"chunksize {size}: {messages} messages each way, done in "
                f"{r.timeline_walls[size] * 1000:.1f} ms"
                + (f"; this process used {parent * 1000:.1f} ms of CPU" if parent else ""),
                fontsize=12,
            )
        handles = [Patch(color=colour, label=label) for label, colour in reversed(kinds)]
        axes[0].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        axes[-1].set_xlabel("time since map() was called (s)")
        work = [e.cpu for e in r.timelines[sizes[0]]]
        fig.suptitle(
            f"{len(work)} short tasks (median {statistics.median(work) * 1e6:.0f} µs "
            f"of CPU each) on {r.workers} workers",
            fontsize=15,
        )
        plots.close_if_inline(fig)
        return fig


def speedup_overview(r) -> Figure:
    """Speed-up against workers (measured, ideal, Amdahl) and per-core CPU during the sweep."""
    with plots.style():
        rows = 2 if r.measurement is not None else 1
        fig, axes = _figure(rows, height=4.2 * rows)
        top = axes[0] if rows == 2 else axes
        plots.speedup(
            r.workers,
            [r.speedup(w) for w in r.workers],
            usable_cores=r.usable_cores,
            amdahl_serial=r.serial_share,
            label="measured, all parallel",
            title=f"Speed-up against workers ({r.usable_cores} usable "
            f"core{'s' * (r.usable_cores > 1)})",
            ax=top,
        )
        if r.serial_share:
            measured = [r.amdahl_speedup(w) for w in r.workers]
            label = f"measured, {r.serial_share:.0%} serial"
            orange = plots.color(1)
            top.plot(r.workers, measured, marker="s", color=orange, linewidth=2, label=label)
            top.legend(loc="upper left")
        if rows == 2:
            bottom = axes[1]
            plots.core_load(r.measurement, ax=bottom, title="CPU use per core during the sweep")
            origin = r.measurement.start
            for index, (w, variant, start, end) in enumerate(r.spans):
                shade = plots.color(1) if "serial" in variant else "grey"
                alpha = 0.08 + 0.07 * (index % 2)
                bottom.axvspan(start - origin, end - origin, color=shade, alpha=alpha, linewidth=0)
                bottom.text(
                    (start + end) / 2 - origin, 103, f"{w}w", ha="center", va="bottom", fontsize=9
                )
            bottom.set_ylim(0, 115)
            _cores_used(r, bottom)
        plots.close_if_inline(fig)
        return fig


def _cores_used(r, ax) -> None:
    """Add, on a right-hand axis, how many cores' worth of CPU the measured processes used."""
    by_time = r.cores_by_time()
    times = sorted(by_time)[1:]  # the first reading of a process's CPU is meaningless
    if not times:
        return
    right = ax.twinx()
    seconds = [t - r.measurement.start for t in times]
    cores = [by_time[t] for t in times]
    label = "this sweep's processes"
    right.plot(seconds, cores, color="black", linewidth=2, linestyle="--", label=label)
    right.set_ylabel("cores used by this sweep")
    right.set_ylim(0, max(2.3, max(by_time.values()) * 1.15))
    right.grid(False)
    right.spines["right"].set_visible(True)
    handles, labels = ax.get_legend_handles_labels()
    extra, extra_labels = right.get_legend_handles_labels()
    ax.legend(handles + extra, labels + extra_labels, loc="upper left", bbox_to_anchor=(1.1, 1.0))


def startup_bars(r) -> Figure:
    """Start-up time per start method: the first pool and the median of later ones."""
    import numpy as np

    with plots.style():
        fig, ax = _figure(height=4.2)
        x = np.arange(len(r.methods))
        width = 0.38
        for shift, seconds, colour, label in (
            (-width / 2, r.first, plots.color(1), "first pool"),
            (width / 2, r.later, plots.color(0), "later pools (median)"),
        ):
            values = [seconds(m) * 1000 for m in r.methods]
            bars = ax.bar(x + shift, values, width, color=colour, label=label)
            ax.bar_label(bars, fmt="%.0f", padding=2)
        ax.set_xticks(x, r.methods)
        ax.set_xlabel("start method")
        ax.set_ylabel(f"until all {r.workers} workers are ready (ms)")
        ax.set_title(f"Starting a pool of {r.workers} workers")
        ax.grid(axis="x", visible=False)
        ax.legend()
        plots.close_if_inline(fig)
        return fig


def arrivals(r) -> Figure:
    """When each result reached the parent, per iteration style, labelled with its task."""
    on_dot = {"ha": "center", "va": "center", "fontsize": 8, "color": "white", "zorder": 4}
    with plots.style():
        fig, ax = _figure(height=1.2 + 0.8 * len(r.styles))
        for row, style in enumerate(r.styles):
            times, labels = r.arrivals[style], r.orders[style]
            if times[-1] - times[0] < 0.01:  # a list: every result at once
                ax.scatter([times[-1]], [row], s=400, color=plots.color(row), zorder=3)
                at = (times[-1], row)
                text = f"all {len(times)} at once"
                ax.annotate(text, at, xytext=(14, 0), textcoords="offset points", va="center")
            else:
                ax.scatter(times, [row] * len(times), s=160, color=plots.color(row), zorder=3)
                for t, label in zip(times, labels, strict=True):
                    ax.annotate(str(label), (t, row), **on_dot)
            ax.hlines(row, 0, r.finished[style], color=plots.color(row), alpha=0.3, linewidth=6)
        ax.set_yticks(range(len(r.styles)), r.styles)
        ax.invert_yaxis()
        ax.set_xlim(left=0)
        ax.set_xlabel("time since the call (s); each dot is one result, numbered by task")
        ax.set_title("When each result reaches the parent")
        ax.grid(axis="y", visible=False)
        plots.close_if_inline(fig)
        return fig


def api_bars(r) -> Figure:
    """Median time per variant, grouped by workload: Pool against ProcessPoolExecutor."""
    with plots.style():
        most = max(sum(w == x for w, _ in r.seconds) for x in r.workloads)  # variants
        fig, axes = _figure(len(r.workloads), height=1.0 + 1.6 * most)
        axes = axes if len(r.workloads) > 1 else [axes]
        for ax, workload in zip(axes, r.workloads, strict=True):
            names = [name for (w, name) in r.seconds if w == workload]
            values = [r.median(workload, n) * 1000 for n in names]
            colours = [plots.color(i) for i in range(len(names))]
            bars = ax.barh(range(len(names)), values, color=colours)
            ax.bar_label(bars, fmt="%.0f ms", padding=3)
            ax.set_yticks(range(len(names)), names)
            ax.invert_yaxis()
            ax.set_xlabel("median time (ms)")
            ax.set_title(workload)
            ax.grid(axis="y", visible=False)
            ax.set_xlim(0, max(values) * 1.25)
        fig.suptitle("Pool against ProcessPoolExecutor: same workers, same work", fontsize=15)
        plots.close_if_inline(fig)
        return fig
