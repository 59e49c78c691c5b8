"""The switch interval's trade-off and the convoy effect: CPU-bound threads delay I/O threads.

Introduced in 03_gil_contention.ipynb, sections 3 and 4.

switch_interval_sweep(): two CPU-bound threads share fixed work while the main thread
sleeps 1 ms at a time; at each switch interval we time the CPU work (throughput) and how
late the sleeper wakes (latency). convoy(): the sleeper's wake-up delay alone, beside one
and beside two CPU-bound threads, at several switch intervals, all cells interleaved.
"""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass, field

from ...charts import close_if_inline, color, style
from ...machine import gil_enabled, require_workers
from ...results import Result
from ...runner import DEFAULT_TIMEOUT
from ...timing import alternating
from ...workloads.gil import (
    block_steps,
    busy_threads,
    stamped_spin,
    steps_for,
    switch_interval,
    thread_group,
    wakeup_delays,
)
from .check import CONVOY

CPYTHON_DEFAULT_INTERVAL = 0.005  # sys.getswitchinterval() unless a program changes it
MS = 1e3


def _intervals(values) -> tuple[float, ...]:
    values = tuple(values)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0 for v in values
    ):
        raise ValueError(f"intervals must be positive numbers of seconds, got {values!r}")
    return values


def _interval_ticks(ax, intervals) -> None:
    """Label a log x axis with the measured intervals in plain ms (0.5, 1, 5), not 5x10^-1."""
    ax.set_xticks([s * MS for s in intervals], [f"{s * MS:g}" for s in intervals])
    ax.minorticks_off()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- throughput against latency ------------------------------------------------------------


def _sequential(steps: int, every: int) -> float:
    """Seconds to run the threads' work twice, one after the other, in this thread."""
    start = time.perf_counter()
    stamped_spin(steps, every)
    stamped_spin(steps, every)
    return time.perf_counter() - start


def _threaded(
    interval: float, steps: int, every: int, period: float, delays: list[float], timeout: float
) -> float:
    """Seconds for two threads to run the loop once each while this thread sleeps `period`
    at a time; the sleeper's wake-up delays are appended to delays."""
    works = [functools.partial(stamped_spin, steps, every)] * 2
    start = time.perf_counter()
    with switch_interval(interval), thread_group(works, name="cpu-bound") as group:
        while True:  # at least one sleep: on one busy core the threads may end first
            delays += wakeup_delays(1, period)
            alive = any(t.is_alive() for t in group.threads)
            if not alive or time.perf_counter() - start > timeout:
                break
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

        xs = sorted(self.speedups)
        with style():
            fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), layout="constrained")
            left.plot(
                [x * MS for x in xs],
                [self.speedup(x) for x in xs],
                marker="o",
                color=color(0),
                linewidth=2.5,
                label="2 CPU-bound threads",
            )
            left.axhline(1, color="grey", linestyle=":", label="sequential speed")
            left.set_xscale("log")
            _interval_ticks(left, xs)
            left.set_ylim(0, max(1.3, *(self.speedup(x) for x in xs)) * 1.1)
            left.set_xlabel("switch interval (ms, log scale)")
            left.set_ylabel("CPU throughput (× sequential)")
            left.set_title("Throughput of the CPU-bound work")
            left.legend(loc="lower right")
            right.plot(
                [x * MS for x in xs],
                [self.median_delay(x) * MS for x in xs],
                marker="o",
                color=color(3),
                linewidth=2.5,
                label="median wake-up delay",
            )
            right.plot(
                [x * MS for x in xs],
                [x * MS for x in xs],
                color="grey",
                linestyle="--",
                label="delay = switch interval",
            )
            right.set_xscale("log")
            _interval_ticks(right, xs)
            right.set_yscale("log")
            right.set_xlabel("switch interval (ms, log scale)")
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

    Two threads share work_seconds of CPU work while the main thread sleeps `period` s.

    Each threaded run is paired with the same work done sequentially (no sleeper) just
    before or after it; the speed-up is the median over rounds of those paired ratios (x),
    delays are in seconds. Trap: the interval is process-wide; it is restored on leaving.
    Lesson 03, section 3.
    """
    intervals = _intervals(intervals)
    require_workers(repeats, what="repeats")
    every = block_steps()
    half = steps_for(work_seconds / 2, every)
    speedups: dict[float, list[float]] = {s: [] for s in intervals}
    delays: dict[float, list[float]] = {s: [] for s in intervals}
    for i, s in enumerate(alternating(intervals, repeats)):
        # each threaded run is paired with a sequential run next to it, in alternating
        # order, so a burst of load elsewhere hits both sides of the ratio
        if i % 2 == 0:
            sequential = _sequential(half, every)
            took = _threaded(s, half, every, period, delays[s], timeout)
        else:
            took = _threaded(s, half, every, period, delays[s], timeout)
            sequential = _sequential(half, every)
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


# -- the convoy effect ---------------------------------------------------------------------


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
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(10, 4.8), layout="constrained")
            xs = self.intervals
            for k in self.cpu_threads:
                label = "alone" if k == 0 else f"beside {k} CPU-bound thread{'s' * (k > 1)}"
                med = [self.median(k, s) * MS for s in xs]
                q1 = [_percentile(self.delays[(k, s)], 0.25) * MS for s in xs]
                q3 = [_percentile(self.delays[(k, s)], 0.75) * MS for s in xs]
                ax.plot(
                    [x * MS for x in xs],
                    med,
                    marker="o",
                    linewidth=2.5,
                    color=color(k),
                    linestyle="--" if k == 0 else "-",
                    label=label,
                )
                ax.fill_between([x * MS for x in xs], q1, q3, color=color(k), alpha=0.2)
            ax.plot(
                [x * MS for x in xs],
                [x * MS for x in xs],
                color="grey",
                linestyle=":",
                label="delay = switch interval",
            )
            ax.set_xscale("log")
            ax.set_yscale("log")
            _interval_ticks(ax, xs)
            ax.set_xlabel("switch interval (ms, log scale)")
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

    The thread sleeps `period` s, `samples` times per cell and round.

    Every round visits every (threads, interval) cell, the order reversed every other round
    (helpers.timing.alternating), so a burst of load elsewhere on the machine spreads over all cells.
    Delays in seconds. Lesson 03, section 4.
    """
    intervals = _intervals(intervals)
    counts = tuple(cpu_threads)
    if not counts or any(isinstance(k, bool) or not isinstance(k, int) or k < 0 for k in counts):
        raise ValueError(f"cpu_threads must be whole numbers of at least 0, got {counts!r}")
    require_workers(samples, what="samples")
    require_workers(rounds, what="rounds")
    every = block_steps()
    cells = [(k, s) for s in intervals for k in counts]
    delays: dict[tuple[int, float], list[float]] = {c: [] for c in cells}
    for k, s in alternating(cells, rounds):
        with switch_interval(s), busy_threads(k, every):
            delays[(k, s)] += wakeup_delays(samples, period)
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

    Lesson 03, section 4. The trap this answers: reading the delay as a timer tick (1-4 ms
    on Linux). CPython waits for the GIL on a condition variable with a timeout of one
    switch interval on the monotonic clock (pthread_cond_timedwait), which Linux serves
    with high-resolution timers; so the delay tracks the interval, even below 1 ms.
    """
    if len(r.intervals) < 2 or 1 not in r.cpu_threads or 0 not in r.cpu_threads:
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
    if gil_enabled() and r.median(1, low) < 1e-3 <= CPYTHON_DEFAULT_INTERVAL:
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
            f"A delay of at least {CONVOY.threshold:g}x alone was expected; a very busy machine (the sleeper "
            "waiting for a core, not for the GIL) raises the delay alone and hides the effect."
        )
    return out
