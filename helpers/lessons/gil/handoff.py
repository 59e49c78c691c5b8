"""The GIL's turns seen from inside: CPU-bound threads stamp their progress.

Introduced in 03_gil_contention.ipynb, section 2. Each thread stores time.perf_counter()
after every ~50 us block of work; the stamps of all threads, merged in time order and split
where the thread changes, are the turns: who held the interpreter when, for how long.
"""

from __future__ import annotations

import itertools
import statistics
import sys
from dataclasses import dataclass, field
from functools import partial

from ...charts import close_if_inline, color, style
from ...machine import gil_enabled, require_workers, usable_cores
from ...results import Result
from ...runner import DEFAULT_TIMEOUT
from ...workloads.gil import Progress, block_steps, run_threads, stamped_spin, steps_for
from ...workloads.gil import switch_interval as set_switch_interval


@dataclass(frozen=True)
class Turn:
    """One stretch during which one thread (and only it) made progress, in perf_counter s."""

    thread: int
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


def find_turns(progress: list[Progress]) -> list[Turn]:
    """Split the merged stamps of all threads into turns: maximal runs from one thread.

    A turn starts at the previous turn's last stamp (when the interpreter changed hands,
    within one block) and ends at its own last stamp; times in perf_counter seconds.
    Lesson 03, section 2 (and exercise 3, which asks the learner to write it).
    """
    stamps = sorted((t, i) for i, p in enumerate(progress) for t in p.stamps)
    turns: list[Turn] = []
    for i, run in itertools.groupby(stamps, key=lambda stamp: stamp[1]):
        start = turns[-1].end if turns else progress[i].start
        turns.append(Turn(i, start, max(t for t, _ in run)))
    return turns


def contended_turns(progress: list[Progress]) -> list[Turn]:
    """Turns taken while every thread was running, without the first and last (cut short)."""
    begin = max(p.start for p in progress)
    finish = min(p.end for p in progress)
    inside = [t for t in find_turns(progress) if t.start >= begin and t.end <= finish]
    return inside[1:-1]


@dataclass
class HandoffResult(Result):
    """CPU-bound threads' progress stamps, split into turns at the interpreter."""

    progress: list[Progress] = field(default_factory=list)
    switch_interval: float = 0.005

    @property
    def turns(self) -> list[Turn]:
        return contended_turns(self.progress)

    @property
    def median_turn(self) -> float:
        """Median length of a turn, in seconds (nan when the threads never overlapped)."""
        lengths = [t.length for t in self.turns]
        return statistics.median(lengths) if lengths else float("nan")

    def plot(self, zoom: float = 0.04):
        """Top: the first `zoom` s of contention, one lane per thread. Bottom: turn lengths."""
        import matplotlib.pyplot as plt

        turns = self.turns
        with style():
            fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6.5), layout="constrained")
            origin = turns[0].start if turns else min(p.start for p in self.progress)
            for t in turns:
                if t.start - origin <= zoom:
                    span = [((t.start - origin) * 1e3, t.length * 1e3)]
                    lane = (t.thread - 0.4, 0.8)
                    top.broken_barh(span, lane, facecolors=color(t.thread), edgecolor="white")
            labels = [p.label for p in self.progress]
            top.set_yticks(range(len(labels)), labels)
            top.invert_yaxis()
            top.set_xlim(0, zoom * 1e3)
            top.set_xlabel("time (ms)")
            top.set_title(f"Who held the interpreter: the first {zoom * 1e3:.0f} ms of contention")
            top.grid(axis="y", visible=False)
            interval, median = self.switch_interval * 1e3, self.median_turn * 1e3
            label = f"sys.getswitchinterval() = {interval:g} ms"
            bottom.axvline(interval, color="black", linestyle="--", label=label)
            if turns:
                bottom.hist([t.length * 1e3 for t in turns], bins=40, color=color(0))
                label = f"median turn = {median:.2f} ms"
                bottom.axvline(median, color=color(3), linewidth=2.5, label=label)
            bottom.set_xlabel("turn length (ms)")
            bottom.set_ylabel("turns")
            bottom.set_title(f"Lengths of {len(turns)} turns")
            bottom.legend()
            close_if_inline(fig)
            return fig


def handoff(
    threads: int = 2,
    seconds: float = 0.3,
    interval: float | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> HandoffResult:
    """`threads` CPU-bound threads of `seconds` of work each: who held the GIL when, how long.

    interval: the switch interval to run under, in seconds (default: the current one,
    normally 5 ms). Trap: the turns are cut from stamps every ~50 us, so a turn shorter than
    a few blocks cannot be seen. Lesson 03, section 2.
    """
    require_workers(threads, what="threads")
    every = block_steps()
    steps = steps_for(seconds, every)  # ValueError unless seconds is a positive number
    interval = sys.getswitchinterval() if interval is None else interval
    works = [partial(stamped_spin, steps, every, label=f"thread {i + 1}") for i in range(threads)]
    with set_switch_interval(interval):
        progress = run_threads(works, timeout=timeout)
    result = HandoffResult(
        title=f"{threads} CPU-bound threads taking turns (switch interval {interval * 1e3:g} ms)",
        params={"threads": threads, "seconds": seconds, "interval": interval},
        progress=progress,
        switch_interval=interval,
    )
    turns = result.turns
    mine = [[t.length * 1e3 for t in turns if t.thread == i] for i in range(threads)]
    result.rows = [
        {
            "thread": p.label,
            "turns": len(ms),
            "median turn (ms)": statistics.median(ms or [float("nan")]),
            "wall (s)": p.end - p.start,
            "CPU (s)": p.cpu,
        }
        for p, ms in zip(progress, mine, strict=True)
    ]
    if not turns:
        result.findings = ["The threads never ran at the same time: there were no turns."]
        return result
    ratio = result.median_turn / interval
    result.findings = [
        f"{len(turns)} turns; the median turn lasted {result.median_turn * 1e3:.2f} ms, "
        f"{ratio:.2f}x the switch interval of {interval * 1e3:g} ms.",
    ]
    if not gil_enabled():
        result.findings.append(
            "This interpreter runs without the GIL: the threads' stamps interleave finely "
            "because they ran at the same time, not in turns."
        )
    elif 0.8 <= ratio <= 1.3:
        result.findings.append(
            "That matches the GIL's rule: a waiting thread asks the holder to let go after "
            "one switch interval, so each turn lasts about one interval."
        )
    elif 1.3 < ratio <= 3:
        result.findings.append(
            "Turns ran longer than one interval. The waiter's timed wait is precise (on Linux a "
            "condition variable on the monotonic clock, high-resolution timers, not a 1-4 ms "
            "tick: section 4 measures it); the extra is the holder reaching its next check "
            "between bytecodes and the waiter getting a core: milliseconds on a busy machine."
        )
    else:
        result.findings.append(
            "Turns of about one switch interval were expected; a busy machine (threads "
            f"descheduled by the OS, {usable_cores()} usable cores) stretches or splits them."
        )
    return result
