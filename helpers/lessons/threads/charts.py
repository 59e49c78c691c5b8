"""Lesson 02's chart: the speed-up of I/O threads against their number, with its two limits.

Introduced in 02_threads.ipynb, section 2 (``sweep.plot()``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .speedup import IOSpeedupResult


def speedup_chart(r: IOSpeedupResult, ax=None):
    """Measured speed-up against threads, with the two limits computed from the same run.

    Both axes are log 2; a limit far above the data is clipped so the chart stays readable.
    Lesson 02, section 2.
    """
    from ... import charts as plots

    with plots.style():
        fig, ax = plots.new_axes(ax, size=(9, 4.5))
        n = r.threads
        rounds_label = (
            f"limit from rounds (server serves {r.max_concurrent} at once; each round ≥ delay)"
            if r.max_concurrent
            else "limit from rounds (each round waits ≥ the delay)"
        )
        ceiling = 4 * max(n)  # a limit far above the data (a zero delay) would squash the chart
        cpu = [min(r.cpu_limit(k), ceiling) for k in n]
        measured = [r.speedup(k) for k in n]
        ax.plot(n, [min(r.rounds_limit(k), ceiling) for k in n], color="black", linestyle="--",
                label=rounds_label)
        ax.plot(n, cpu, color=plots.color(3), linestyle="-.",
                label="limit from CPU (requests prepared one at a time)")
        ax.plot(n, measured, marker="o", color=plots.color(0), linewidth=2.5,
                label="measured (median)")
        if len(n) > 2:  # with two points a "plateau" says nothing
            ax.axvline(r.plateau, color=plots.color(1), linewidth=1.5, alpha=0.8)
            ax.annotate(f"90% of best at {r.plateau} threads", (r.plateau, 1), xytext=(-4, 4),
                        textcoords="offset points", ha="right", color=plots.color(1))
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xticks(n, [str(k) for k in n])
        top = max(max(n), *measured, *cpu)  # room for the clipped CPU limit too
        ticks = [2**i for i in range(int(math.log2(top)) + 2)]
        ax.set_yticks(ticks, [str(t) for t in ticks])
        ax.set_ylim(0.8, ticks[-1] * 1.2)
        ax.set_xlabel("threads (log scale)")
        ax.set_ylabel("speed-up (× one thread, log scale)")
        ax.set_title(r.title)
        ax.legend(loc="upper left", fontsize=9)
        plots.close_if_inline(fig)
        return fig
