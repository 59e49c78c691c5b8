"""The switch interval's trade-off and the convoy effect: CPU-bound threads delay I/O threads.

Introduced in 03_gil_contention.ipynb, sections 3 (switch_interval_sweep: the CPU work's
throughput against a sleeping thread's wake-up delay) and 4 (convoy: that delay alone and
beside CPU-bound threads, at several switch intervals).
"""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass, field

from ...charts import close_if_inline, color, new_axes, style
from ...machine import gil_enabled, require_workers
from ...results import Result
from ...runner import DEFAULT_TIMEOUT
from ...timing import alternating
from ...workloads import gil as work
from .check import CONVOY

CPYTHON_DEFAULT_INTERVAL = 0.005  # sys.getswitchinterval() unless a program changes it
MS = 1e3
LINE = {"marker": "o", "linewidth": 2.5}  # the measured lines of every chart here


def _intervals(values) -> tuple[float, ...]:
    values = tuple(values)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in values
    ):
        raise ValueError(f"intervals must be positive numbers of seconds, got {values!r}")
    return values


def _interval_axis(ax, xs: list[float], diagonal: str | None = None) -> None:
    """A log x axis of the measured intervals in ms, ticked plainly (0.5, 1, 5, not 5x10^-1).

    diagonal: the line style of "delay = switch interval", drawn on a log y axis of delays.
    """
    if diagonal:
        ax.plot(xs, xs, color="grey", linestyle=diagonal, label="delay = switch interval")
        ax.set_yscale("log")
    ax.set_xscale("log")
    ax.set_xticks(xs, [f"{x:g}" for x in xs])
    ax.minorticks_off()
    ax.set_xlabel("switch interval (ms, log scale)")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _sequential(steps: int, every: int) -> float:
    """Seconds to run the threads' work twice, one after the other, in this thread."""
    start = time.perf_counter()
    work.stamped_spin(steps, every)
    work.stamped_spin(steps, every)
    return time.perf_counter() - start


def _threaded(
    interval: float, steps: int, every: int, period: float, delays: list[float], timeout: float
) -> float:
    """Seconds for two threads to run the loop once each while this thread sleeps `period`
    at a time; the sleeper's wake-up delays are appended to delays."""
    works = [functools.partial(work.stamped_spin, steps, every)] * 2
    start = time.perf_counter()
    with work.switch_interval(interval), work.thread_group(works, name="cpu-bound") as group:
        alive = True  # sleep at least once: on one busy core the threads may end first
        while alive and time.perf_counter() - start <= timeout:
            delays += work.wakeup_delays(1, period)
            alive = any(t.is_alive() for t in group.threads)
        group.join(timeout)
    return time.perf_counter() - start


@dataclass
class SwitchIntervalResult(Result):
    """Per switch interval: CPU throughput of two threads and a sleeper's wake-up delays."""

    speedups: dict[float, list[float]] = field(default_factory=dict)  # interval -> per round
    delays: dict[float, list[float]] = field(default_factory=dict)  # interval -> seconds

    def speedup(self, interval: float) -> float:
        return statistics.median(self.speedups[interval])

    def median_delay(self, interval: float) -> float:
        return statistics.median(self.delays[interval])

    def plot(self):
        import matplotlib.pyplot as plt

        intervals = sorted(self.speedups)
        xs, speeds = [s * MS for s in intervals], [self.speedup(s) for s in intervals]
        with style():
            fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
            left.plot(xs, speeds, color=color(0), label="2 CPU-bound threads", **LINE)
            left.axhline(1, color="grey", linestyle=":", label="sequential speed")
            _interval_axis(left, xs)
            left.set_ylim(0, max(1.3, *speeds) * 1.1)
            left.set_ylabel("CPU throughput (× sequential)")
            left.set_title("Throughput of the CPU-bound work")
            left.legend(loc="lower right")
            delays = [self.median_delay(s) * MS for s in intervals]
            right.plot(xs, delays, color=color(3), label="median wake-up delay", **LINE)
            _interval_axis(right, xs, diagonal="--")
            right.set_ylabel("wake-up delay (ms, log scale)")
            right.set_title("Latency of a thread sleeping 1 ms at a time")
            right.legend(loc="upper left")
            fig.suptitle("sys.setswitchinterval trades latency against throughput", fontsize=14)
            close_if_inline(fig)
            return fig


def switch_interval_sweep(
    intervals=(0.00002, 0.0002, 0.001, 0.005, 0.01),
    work_seconds: float = 0.12,
    repeats: int = 3,
    *,
    period: float = 0.001,
    timeout: float = DEFAULT_TIMEOUT,
) -> SwitchIntervalResult:
    """Switch intervals: CPU throughput of two threads against a sleeping thread's wake-up delay.

    Two threads share work_seconds of CPU work while the main thread sleeps `period` s. Each
    threaded run is paired with the same work done sequentially (no sleeper) just before or
    after it, in alternating order, so a burst of load elsewhere hits both sides of the ratio;
    the speed-up is the median over rounds of those ratios (x), delays are in seconds. Trap:
    the interval is process-wide; it is restored on leaving. Lesson 03, section 3.
    """
    intervals = _intervals(intervals)
    require_workers(repeats, what="repeats")
    every = work.block_steps()
    half = work.steps_for(work_seconds / 2, every)
    speedups: dict[float, list[float]] = {s: [] for s in intervals}
    delays: dict[float, list[float]] = {s: [] for s in intervals}
    for i, s in enumerate(alternating(intervals, repeats)):
        before = _sequential(half, every) if i % 2 == 0 else None
        took = _threaded(s, half, every, period, delays[s], timeout)
        sequential = _sequential(half, every) if before is None else before
        speedups[s].append(sequential / took)
    result = SwitchIntervalResult(
        title="Switch interval: CPU throughput against wake-up latency",
        params={"intervals": intervals, "work_seconds": work_seconds, "repeats": repeats},
        speedups=speedups,
        delays=delays,
    )
    result.rows = [
        {
            "switch interval (ms)": s * MS,
            "CPU throughput (x sequential)": result.speedup(s),
            "median wake-up delay (ms)": result.median_delay(s) * MS,
            "throughput, rounds (min-max)": f"{min(speedups[s]):.2f}-{max(speedups[s]):.2f}",
            "wake-ups measured": len(delays[s]),
        }
        for s in sorted(intervals)
    ]
    low, high = min(intervals), max(intervals)
    result.findings = [
        f"At {low * MS:g} ms the sleeper woke {result.median_delay(low) * MS:.2f} ms late "
        f"(median) and the CPU work ran at {result.speedup(low):.2f}x sequential speed; at "
        f"{high * MS:g} ms it woke {result.median_delay(high) * MS:.2f} ms late and the work "
        f"ran at {result.speedup(high):.2f}x.",
    ]
    # a throughput difference counts only if the rounds of the two intervals do not overlap
    if max(speedups[low]) < min(speedups[high]):
        result.findings.append(
            f"Every round at {low * MS:g} ms was slower than every round at {high * MS:g} ms: "
            "the extra hand-offs cost the CPU-bound threads throughput."
        )
    else:
        result.findings.append(
            f"The rounds at {low * MS:g} ms and at {high * MS:g} ms overlap (throughput "
            f"{min(speedups[low]):.2f} to {max(speedups[low]):.2f} against "
            f"{min(speedups[high]):.2f} to {max(speedups[high]):.2f}), so this run cannot "
            "tell their throughput apart: here the hand-offs cost less than the noise."
        )
    return result


@dataclass
class ConvoyResult(Result):
    """Wake-up delays of a sleeping thread per (CPU-bound threads beside it, switch interval)."""

    delays: dict[tuple[int, float], list[float]] = field(default_factory=dict)

    def median(self, cpu_threads: int, interval: float) -> float:
        """Median wake-up delay in seconds."""
        return statistics.median(self.delays[(cpu_threads, interval)])

    @property
    def intervals(self) -> list[float]:
        return sorted({s for _, s in self.delays})

    @property
    def cpu_threads(self) -> list[int]:
        return sorted({k for k, _ in self.delays})

    @property
    def default_interval(self) -> float:
        """The measured interval nearest CPython's default of 5 ms."""
        return min(self.intervals, key=lambda s: abs(s - CPYTHON_DEFAULT_INTERVAL))

    def slowdown(self, cpu_threads: int = 1, interval: float | None = None) -> float:
        """Median delay beside cpu_threads busy threads / median delay alone (same interval)."""
        s = self.default_interval if interval is None else interval
        return self.median(cpu_threads, s) / self.median(0, s)

    def plot(self):
        with style():
            fig, ax = new_axes(None, size=(10, 4.8))
            intervals = self.intervals
            xs = [s * MS for s in intervals]
            for k in self.cpu_threads:
                label = "alone" if k == 0 else f"beside {k} CPU-bound thread{'s' * (k > 1)}"
                med = [self.median(k, s) * MS for s in intervals]
                q1 = [_percentile(self.delays[(k, s)], 0.25) * MS for s in intervals]
                q3 = [_percentile(self.delays[(k, s)], 0.75) * MS for s in intervals]
                dashes = "--" if k == 0 else "-"
                ax.plot(xs, med, color=color(k), linestyle=dashes, label=label, **LINE)
                ax.fill_between(xs, q1, q3, color=color(k), alpha=0.2)
            _interval_axis(ax, xs, diagonal=":")
            ax.set_ylabel("wake-up delay after a 1 ms sleep (ms, log)")
            ax.set_title("The convoy effect: median and middle half of the wake-up delays")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
            close_if_inline(fig)
            return fig


def convoy(
    cpu_threads=(0, 1, 2),
    intervals=(0.0005, 0.001, 0.002, 0.005),
    samples: int = 12,
    rounds: int = 3,
    *,
    period: float = 0.001,
) -> ConvoyResult:
    """The convoy effect: a sleeping thread's wake-up delay beside 0, 1, 2 CPU-bound threads.

    The thread sleeps `period` s, `samples` times per cell and round. Every round visits every
    (threads, interval) cell, the order reversed every other round (helpers.timing.alternating),
    so a burst of load elsewhere spreads over all cells. Delays in seconds. Lesson 03, section 4.
    """
    intervals = _intervals(intervals)
    counts = tuple(cpu_threads)
    if not counts or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in counts):
        raise ValueError(f"cpu_threads must be whole numbers of at least 0, got {counts!r}")
    require_workers(samples, what="samples")
    require_workers(rounds, what="rounds")
    every = work.block_steps()
    cells = [(k, s) for s in intervals for k in counts]
    delays: dict[tuple[int, float], list[float]] = {c: [] for c in cells}
    for k, s in alternating(cells, rounds):
        with work.switch_interval(s), work.busy_threads(k, every):
            delays[(k, s)] += work.wakeup_delays(samples, period)
    result = ConvoyResult(
        title="Wake-up delay of a sleeping thread beside CPU-bound threads",
        params={"cpu_threads": counts, "intervals": intervals, "samples": samples * rounds},
        delays=delays,
    )
    result.rows = [
        {
            "CPU-bound threads": k,
            "switch interval (ms)": s * MS,
            "median delay (ms)": result.median(k, s) * MS,
            "90th percentile (ms)": _percentile(delays[(k, s)], 0.9) * MS,
            "x alone": result.median(k, s) / result.median(0, s) if 0 in counts else None,
        }
        for k, s in sorted(cells)
    ]
    result.findings = _convoy_findings(result)
    return result


def interval_findings(r: ConvoyResult) -> list[str]:
    """Where the delay beside a CPU-bound thread comes from: it follows the switch interval.

    The trap it answers: reading the delay as a 1-4 ms timer tick, when the GIL's timed wait
    (pthread_cond_timedwait on the monotonic clock) is served by high-resolution timers and
    tracks the interval even below 1 ms. Lesson 03, section 4; called by _convoy_findings.
    """
    if len(r.intervals) < 2:
        return []
    pairs = ", ".join(f"{s * MS:g} ms -> {r.median(1, s) * MS:.2f} ms" for s in r.intervals)
    ratios = [r.median(1, s) / s for s in r.intervals]
    low = min(r.intervals)
    alone = statistics.median(d for s in r.intervals for d in r.delays[(0, s)])
    out = [
        f"Beside one CPU-bound thread, switch interval -> median delay: {pairs} (delay / interval "
        f"{min(ratios):.2f} to {max(ratios):.2f}). Alone it was {alone * MS:.3f} ms at every "
        "interval: the operating system's wake-up after a sleep."
    ]
    if gil_enabled() and r.median(1, low) < 1e-3:
        out.append(
            f"At {low * MS:g} ms the sleeper woke {r.median(1, low) * MS:.2f} ms late, under any "
            "1-4 ms timer tick: the GIL's timed wait is precise (a condition variable timed on the "
            "monotonic clock, high-resolution timers on Linux). The delay is one switch interval "
            "of waiting, plus the holder reaching its next check and the sleeper getting a core."
        )
    return out


def _convoy_findings(r: ConvoyResult) -> list[str]:
    if 0 not in r.cpu_threads or 1 not in r.cpu_threads:
        return []
    d = r.default_interval
    alone, beside = r.median(0, d), r.median(1, d)
    out = [
        f"Alone, the sleeper woke {alone * MS:.3f} ms late (median); beside one CPU-bound "
        f"thread, at a {d * MS:g} ms switch interval, {beside * MS:.2f} ms late: "
        f"{beside / alone:.0f}x."
    ]
    if 2 in r.cpu_threads:
        out.append(
            f"Beside two CPU-bound threads it woke {r.median(2, d) * MS:.2f} ms late. The GIL "
            "does not queue its waiters: at each hand-off the sleeper may win or lose against "
            "the other waiting thread, so its delays spread wider (see the 90th percentile)."
        )
    out += interval_findings(r)
    if not gil_enabled():
        out.append("This interpreter runs without the GIL, so no convoy is expected.")
    elif not CONVOY.holds(beside / alone):
        out.append(
            f"A delay of at least {CONVOY.threshold:g}x alone was expected; a busy machine (the "
            "sleeper waiting for a core, not the GIL) raises the delay alone, hiding the effect."
        )
    return out
