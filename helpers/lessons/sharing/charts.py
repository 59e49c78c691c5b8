"""Charts for the sharing lesson: one bar per strategy, readable on a projector.

Introduced in 05_sharing_memory.ipynb. Strategy names are long, so bars are horizontal;
rates span several powers of ten, so their axes are logarithmic. Each function returns
the Figure (styled by helpers.charts, never by global rcParams).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...charts import close_if_inline, color, style
from ...units import MiB

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _figure(rows: int):
    """A figure 10 inches wide with one axes, tall enough for `rows` bars or groups."""
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(10, 1.6 + 0.5 * max(rows, 2)), layout="constrained")


def _number(value: float | None) -> str:
    """A value label: '1,234' for large numbers, 3 significant digits for small ones."""
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _grouped_barh(ax, labels, series: dict[str, list], *, log: bool, colours=None,
                  fmt=_number) -> None:
    """Horizontal bars, one group per label, one bar per series, values written beside them."""
    height = 0.8 / len(series)
    for k, (name, values) in enumerate(series.items()):
        positions = [i - 0.4 + height * (k + 0.5) for i in range(len(labels))]
        shown = [v if v else 0 for v in values]
        bars = ax.barh(positions, shown, height=height, color=colours[k] if colours else color(k),
                       label=name)
        ax.bar_label(bars, labels=[fmt(v) for v in values], padding=3, fontsize=10)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    if log:
        ax.set_xscale("log")
    ax.grid(axis="y", visible=False)
    right = max((v for vs in series.values() for v in vs if v), default=1)
    ax.set_xlim(right=right * (8 if log else 1.25))  # room for the value labels


def _bar_chart(labels, series: dict[str, list], *, log: bool, xlabel: str, title: str,
               legend: bool = True) -> Figure:
    """A figure of grouped horizontal bars (_grouped_barh), with its axis label and title."""
    with style():
        fig, ax = _figure(len(labels))
        _grouped_barh(ax, labels, series, log=log)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        if legend:
            ax.legend(loc="lower right")
        close_if_inline(fig)
        return fig


def throughput(runs, *, workers: int) -> Figure:
    """Item reads and writes per second for each strategy (log scale), all workers together."""
    series = {"item reads per second": [r.reads_per_s for r in runs]}
    if any(r.writes_per_s for r in runs):
        series["item writes per second"] = [r.writes_per_s for r in runs]
    return _bar_chart([r.name for r in runs], series, log=True,
                      xlabel=f"operations per second, {workers} workers together (log scale)",
                      title="Reading and writing one item at a time")


def memory(runs, size_bytes: int, *, workers: int) -> Figure:
    """Extra memory (PSS) each strategy used beyond the workers themselves, against the data."""
    from matplotlib.patches import Patch

    with style():
        fig, ax = _figure(len(runs))
        values = [r.memory_bytes / MiB for r in runs]
        served = [r.name.startswith("manager") or r.name == "redis" for r in runs]
        bars = ax.barh(range(len(runs)), values, color=[color(3 if s else 0) for s in served])
        labels = [f"{v:.0f} MiB ({v * MiB / size_bytes:.1f}x)" for v in values]
        ax.bar_label(bars, labels=labels, padding=3, fontsize=10)
        ax.set_yticks(range(len(runs)), [r.name for r in runs])
        ax.invert_yaxis()
        ax.axvline(size_bytes / MiB, color="black", linestyle="--",
                   label=f"the data itself: {size_bytes / MiB:.0f} MiB")
        ax.set_xlim(right=max(values + [size_bytes / MiB]) * 1.35)
        ax.set_xlabel(f"peak memory, beyond what {workers} workers need anyway (MiB, PSS total)")
        ax.set_title("Memory the data cost, all processes together")
        ax.grid(axis="y", visible=False)
        handles, _ = ax.get_legend_handles_labels()
        handles += [
            Patch(color=color(0), label="processes map the same memory pages"),
            Patch(color=color(3), label="a server process holds the data (Manager, Redis)"),
        ]
        ax.legend(handles=handles, loc="lower right")
        close_if_inline(fig)
        return fig


def startup(runs) -> Figure:
    """Time to create the data (parent) plus time for a worker to attach, in ms (log scale)."""
    series = {
        "create and fill (parent)": [r.create_s * 1000 for r in runs],
        "attach (one worker, median)": [r.attach_s * 1000 for r in runs],
    }
    return _bar_chart([r.name for r in runs], series, log=True,
                      xlabel="milliseconds (log scale)", title="Start-up cost")


def lost_updates(rows: list[dict], *, workers: int) -> Figure:
    """Share of additions lost, unprotected and protected, for each strategy."""
    rows = [r for r in rows if "skipped" not in r]
    with style():
        fig, ax = _figure(len(rows))
        series = {
            "unprotected (read, then write back)": [r["lost % (unprotected)"] for r in rows],
            "protected (a lock, or one server step)": [r["lost % (protected)"] for r in rows],
        }
        _grouped_barh(ax, [r["strategy"] for r in rows], series, log=False,
                      colours=(color(3), color(2)),  # vermillion: lost; green: protected
                      fmt=lambda v: f"{v:.1f}%")
        ax.set_xlim(0, max([100 / 1.3] + [v for vs in series.values() for v in vs]) * 1.3)
        ax.set_xlabel("additions lost (% of those made)")
        ax.set_title(f"{workers} workers add 1 to one shared counter")
        ax.legend(loc="lower right")
        close_if_inline(fig)
        return fig


def serialising(rows: list[dict]) -> Figure:
    """Per payload: time to encode, decode, and store-fetch-decode in each format (µs, log)."""
    import matplotlib.pyplot as plt

    payloads = list(dict.fromkeys(r["payload"] for r in rows))
    with style():
        fig, axes = plt.subplots(len(payloads), 1, figsize=(10, 2.2 + 2.4 * len(payloads)),
                                 layout="constrained", squeeze=False)
        for ax, payload in zip(axes[:, 0], payloads, strict=True):
            mine = [r for r in rows if r["payload"] == payload]
            series = {
                "encode": [r["encode (µs)"] for r in mine],
                "decode": [r["decode (µs)"] for r in mine],
                "SET + GET + decode": [r["SET + GET + decode (µs)"] for r in mine],
            }
            labels = [f"{r['format']}\n{_number(r['size (KiB)'])} KiB" for r in mine]
            _grouped_barh(ax, labels, series, log=True)
            ax.set_title(payload)
        axes[-1, 0].set_xlabel("microseconds (log scale)")
        axes[0, 0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        fig.suptitle("Serialising for Redis: time per format (label: bytes stored)", fontsize=15)
        close_if_inline(fig)
        return fig


def round_trips(trips: list[dict]) -> Figure:
    """SETs per second one by one, pipelined in batches, and in one pipeline (linear scale)."""
    series = {"SETs per second": [t["operations/s"] for t in trips]}
    return _bar_chart([t["way"] for t in trips], series, log=False, legend=False,
                      xlabel="SET commands per second", title="Round trips against pipelining")


def message(title: str, text: str) -> Figure:
    """A small figure that says why there is nothing to draw."""
    import textwrap

    with style():
        fig, ax = _figure(2)
        ax.axis("off")
        ax.text(0.0, 0.5, textwrap.fill(text, 90), va="center", ha="left", fontsize=11,
                transform=ax.transAxes)
        ax.set_title(title)
        close_if_inline(fig)
        return fig
