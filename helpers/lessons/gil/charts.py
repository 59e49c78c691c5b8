"""Lesson 03's charts for section 1: speed-ups with per-core load, and the workers' timelines.

Introduced in 03_gil_contention.ipynb, section 1. Each function takes a
ThreadsVsProcessesResult and returns a matplotlib Figure, styled by helpers.charts.
"""

from __future__ import annotations

from ...charts import close_if_inline, color, style


def threads_speedup(r):
    """Left: speed-up of the work per variant (x). Right: each core's load (%) per variant."""
    import matplotlib.pyplot as plt

    variants = r.variants
    with style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
        values = [r.speedup(v) for v in variants]
        bars = left.bar(variants, values, color=[color(i) for i in range(len(variants))])
        left.bar_label(bars, fmt="%.2fx", padding=2)
        ideal = min(r.params["workers"], r.machine["usable_cores"])
        label = f"ideal on this machine ({ideal}x)"
        left.axhline(ideal, color="black", linestyle="--", label=label)
        left.axhline(1, color="grey", linestyle=":", label="no gain (1x)")
        left.set_ylabel(f"speed-up of the work (× {r.params['baseline']})")
        left.set_ylim(0, max(ideal, *values) * 1.25)
        left.set_title(f"{r.params['workers']} CPU-bound tasks: speed-up")
        left.legend(loc="upper left")
        left.grid(axis="x", visible=False)
        cores = min((len(v) for v in r.core_use.values()), default=0)
        width = 0.8 / max(1, cores)
        for c in range(cores):
            xs = [i + (c - (cores - 1) / 2) * width for i in range(len(variants))]
            loads = [r.core_use[v][c] for v in variants]
            right.bar(xs, loads, width=width, color=color(c + 4), label=f"core {c}")
        for i, v in enumerate(variants):
            busy = f"our workers: {r.cores_busy(v):.2f} cores"
            right.text(i, 104, busy, ha="center", fontsize=10)
        right.set_xticks(range(len(variants)), variants)
        right.set_ylim(0, 115)
        right.set_ylabel("CPU use (%), whole machine")
        right.set_title("CPU use per core while each variant ran")
        if 0 < cores <= 8:  # past 8 cores the bars speak for themselves
            right.legend(loc="lower right")
        right.grid(axis="x", visible=False)
        close_if_inline(fig)
        return fig


def threads_timelines(r, repeat: int | None = None):
    """One lane per worker: where it made progress (s since the call), one round per variant."""
    import matplotlib.pyplot as plt

    repeat = r.params["repeats"] - 1 if repeat is None else repeat
    chosen = sorted(
        (x for x in r.runs if x.repeat == repeat), key=lambda x: r.variants.index(x.variant)
    )
    with style():
        height = 1.2 + 1.1 * len(chosen) * r.params["workers"] / 2
        fig, axes = plt.subplots(
            len(chosen), 1, figsize=(11, height), layout="constrained", sharex=True, squeeze=False
        )
        for i, (ax, run) in enumerate(zip(axes[:, 0], chosen, strict=True)):
            lanes = run.lanes()
            for lane, spans in enumerate(lanes.values()):
                bars = [(s, e - s) for s, e in spans]
                ax.broken_barh(bars, (lane - 0.4, 0.8), facecolors=color(i))
            ax.set_yticks(range(len(lanes)), list(lanes))
            ax.invert_yaxis()
            ax.set_title(f"{run.variant}: {run.wall:.2f} s", loc="left", fontsize=12)
            ax.grid(axis="y", visible=False)
        axes[-1, 0].set_xlabel("time since the call started (s)")
        fig.suptitle("When each worker made progress (white gaps: it waited)", fontsize=14)
        close_if_inline(fig)
        return fig
