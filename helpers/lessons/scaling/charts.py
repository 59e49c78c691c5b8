"""Lesson 06's charts: request timelines (section 2), the cluster against the Pool (section 3).

Introduced in 06_choosing_and_scaling_out.ipynb; drawn in the course's style (helpers.charts).
"""

from __future__ import annotations

from ...charts import color, style, timeline
from .cluster import human_seconds


def request_timelines(result):
    """A grid of timelines, one per variant of an AsyncioResult: a row per request, a colour
    per thread.

    helpers.charts.timeline draws one lane per thread, which stacks all of asyncio's requests
    on one lane; here each request has its own row so the overlap shows.
    """
    import matplotlib.pyplot as plt

    variants = result.variants
    columns = 2 if len(variants) > 1 else 1
    rows = -(-len(variants) // columns)
    with style():
        fig, axes = plt.subplots(rows, columns, figsize=(12, 3.6 * rows), layout="constrained",
                                 squeeze=False, sharex=True)
        longest = max((r.wall for r in result.runs), default=1.0)
        for ax, variant in zip(axes.flat, variants, strict=False):
            run = [r for r in result.runs if r.variant == variant][-1]
            events = sorted(run.events, key=lambda e: e.start)
            lanes = {lane: i for i, lane in enumerate(dict.fromkeys((e.pid, e.thread) for e in events))}
            for row, e in enumerate(events):
                ax.barh(row, max(e.duration, 1e-4), left=e.start - run.start, height=0.8,
                        color=color(lanes[(e.pid, e.thread)]))
            ax.set_xlim(0, longest * 1.05)
            ax.invert_yaxis()
            ax.set_ylabel("request")
            ax.set_title(f"{variant.label}: {run.wall:.2f} s, {run.threads_used} thread(s)")
            ax.grid(axis="y", visible=False)
        for ax in axes[-1]:
            ax.set_xlabel("time since the first request (s)")
        for ax in list(axes.flat)[len(variants):]:
            ax.set_visible(False)
        fig.suptitle(f"{result.requests} requests, server delay {result.delay:g} s; "
                     "colour = the thread that waited", fontsize=14)
        plt.close(fig)
        return fig


def cluster_compare(r):
    """Left: start-up and compute time per side of a ClusterResult. Right: the last round's
    timeline, one lane per worker process."""
    import matplotlib.pyplot as plt

    with style():
        fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5), layout="constrained",
                                          width_ratios=[1, 1.6])
        sides = ["pool", "dask"]
        names = [f"Pool({r.workers})", f"LocalCluster({r.workers})"]
        starts = [r.startup[s] for s in sides]
        computes = [r.batch_wall(s) for s in sides]
        left.bar(names, starts, color=color(5), label="start-up")
        drawn = left.bar(names, computes, bottom=starts, color=color(0), label="the batch")
        left.bar_label(drawn, labels=[f"{s + c:.2f} s" for s, c in zip(starts, computes, strict=True)])
        left.axhline(r.serial_estimate, color="black", linestyle="--", label="one core, no pool")
        left.set_ylabel("seconds")
        left.set_title(f"{r.tasks} tasks of {r.task_seconds:g} s each")
        left.legend(loc="upper left", fontsize=9)
        left.grid(axis="x", visible=False)
        last = r.batches[-2:]
        t0 = min(b.start for b in last)
        inside = [(e, b) for e in (r.measurement.tasks if r.measurement else []) for b in last
                  if b.start <= e.start and e.end <= b.end]
        events = [e for e, _ in inside]
        side_of = {e.pid: "dask" if b.side == "dask" else "Pool" for e, b in inside}
        timeline(events, origin=t0, ax=right, title="Last round: which process ran which task")
        lanes = sorted({(e.pid, e.thread) for e in events})
        right.set_yticks(range(len(lanes)), [f"{side_of[pid]} worker\npid {pid}" for pid, _ in lanes])
        for b in last:
            right.axvspan(b.start - t0, b.end - t0, alpha=0.08, color=color(1 if b.side == "dask" else 2))
        plt.close(fig)
        return fig


def cluster_overheads(r):
    """Seconds per tiny task of a ClusterResult, each way, on a log scale in microseconds."""
    import matplotlib.pyplot as plt

    with style():
        fig, ax = plt.subplots(figsize=(9, 4), layout="constrained")
        ways = list(r.per_task)
        micro = [r.per_task[w] * 1e6 for w in ways]
        drawn = ax.barh(ways, micro, color=[color(i) for i in range(len(ways))])
        ax.bar_label(drawn, labels=[human_seconds(v / 1e6) for v in micro], padding=3)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("time per tiny task (µs, log scale)")
        ax.set_title(f"What one task costs: {r.tiny_tasks} tiny tasks, {r.workers} workers")
        ax.grid(axis="y", visible=False)
        ax.set_xlim(right=max(micro) * 8)
        plt.close(fig)
        return fig
