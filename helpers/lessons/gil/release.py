"""C code that lets go of the GIL scales on threads; pure Python does not.

Introduced in 03_gil_contention.ipynb, section 5. The same amount of each kind of work (pure
Python, sha256 of 1 MiB buffers, zlib, numpy's sin) runs on 1 thread, then split over more;
rounds alternate kinds and thread counts, speed-ups are taken within a round.
"""

from __future__ import annotations

import functools
import statistics
import time
from dataclasses import dataclass, field

from ...charts import close_if_inline, color, new_axes, style
from ...machine import gil_enabled, require_size, require_workers
from ...results import Result
from ...runner import DEFAULT_TIMEOUT
from ...timing import alternating
from ...units import MiB
from ...workloads.gil import KINDS, c_work, make_inputs, run_threads, unit_seconds
from .check import SHA256

SCALES = SHA256.threshold  # a speed-up on 2 threads at least this "scales" (the check's rule)


@dataclass
class GilReleaseResult(Result):
    """Per kind of work and thread count: the wall time of each round."""

    walls: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    @property
    def kinds(self) -> list[str]:
        return list(dict.fromkeys(k for k, _ in self.walls))

    @property
    def thread_counts(self) -> list[int]:
        return sorted({n for _, n in self.walls})

    def speedup(self, kind: str, threads: int) -> float:
        """Median over rounds of (time on 1 thread / time on `threads`), paired per round."""
        pairs = zip(self.walls[(kind, 1)], self.walls[(kind, threads)], strict=True)
        return statistics.median(a / b for a, b in pairs)

    def cores_busy(self, kind: str, threads: int) -> float:
        """Median CPU seconds this process used per wall second: 1.0 = one core's worth.

        Unlike a speed-up, the CPU's speed of the moment does not sway it.
        """
        pairs = zip(self.cpu[(kind, threads)], self.walls[(kind, threads)], strict=True)
        return statistics.median(c / w for c, w in pairs)

    def scales(self, kind: str) -> bool:
        """Whether this run saw the kind speed up on the largest thread count measured."""
        return self.speedup(kind, max(self.thread_counts)) >= SCALES

    def plot(self):
        counts = [n for n in self.thread_counts if n > 1]
        kinds = self.kinds
        width = 0.8 / max(1, len(counts))
        with style():
            fig, ax = new_axes(None, size=(10, 4.5))
            for j, n in enumerate(counts):
                xs = [i + (j - (len(counts) - 1) / 2) * width for i in range(len(kinds))]
                speeds = [self.speedup(k, n) for k in kinds]
                bars = ax.bar(xs, speeds, width=width, color=color(j), label=f"{n} threads")
                ax.bar_label(bars, fmt="%.2fx", padding=2)
            cores = self.machine["usable_cores"]
            for j, n in enumerate(counts):
                label = f"ideal for {n} threads on {cores} usable cores"
                dashes = "--" if j == 0 else "-."
                ax.axhline(min(n, cores), color="black", linestyle=dashes, label=label)
            ax.axhline(1, color="grey", linestyle=":", label="no gain (1x)")
            ax.set_xticks(range(len(kinds)), kinds)
            ax.set_ylabel("speed-up (× one thread)")
            ax.set_ylim(0, max(2.2, max(counts, default=1) * 0.6) * 1.15)
            ax.set_title("Same work split over threads: who lets go of the GIL?")
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
            ax.grid(axis="x", visible=False)
            close_if_inline(fig)
            return fig


def gil_release(
    kinds=KINDS,
    threads=(1, 2),
    seconds: float = 0.15,
    repeats: int = 3,
    *,
    nbytes: int = MiB,
    timeout: float = DEFAULT_TIMEOUT,
) -> GilReleaseResult:
    """Pure Python against GIL-releasing C code (sha256, zlib, numpy), split over threads.

    Each kind of work (any of KINDS), about `seconds` of it on one thread, runs on each thread
    count. nbytes: the sha256 buffer size (zlib gets a sixteenth, numpy a quarter: make_inputs).
    Speed-ups are medians of per-round ratios (x); cores_busy() gives CPU seconds per wall
    second, which a CPU slowed by other programs does not bias. Lesson 03, section 5.
    """
    kinds = tuple(kinds)
    unknown = [k for k in kinds if k not in KINDS]
    if not kinds or unknown:
        raise ValueError(f"unknown kinds {unknown!r}; known kinds: {', '.join(KINDS)}")
    counts = tuple(sorted({require_workers(n, what="threads") for n in threads} | {1}))
    require_workers(repeats, what="repeats")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"seconds must be a positive number, got {seconds!r}")
    inputs = make_inputs(require_size(nbytes, what="the input buffer"))
    units = {
        k: max(max(counts), round(seconds / max(unit_seconds(k, inputs), 1e-6))) for k in kinds
    }
    cells = [(kind, n) for kind in kinds for n in counts]
    walls: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    cpu: dict[tuple[str, int], list[float]] = {cell: [] for cell in cells}
    for kind, n in alternating(cells, repeats):  # a busy spell spreads over every cell
        base, extra = divmod(units[kind], n)  # the units shared as evenly as whole units allow
        works = [functools.partial(c_work, kind, base + (i < extra), inputs) for i in range(n)]
        start, cpu0 = time.perf_counter(), time.process_time()
        run_threads(works, timeout=timeout, name=kind.replace(" ", "-"))
        walls[(kind, n)].append(time.perf_counter() - start)
        cpu[(kind, n)].append(time.process_time() - cpu0)
    result = GilReleaseResult(
        title="GIL-releasing C code against pure Python, split over threads",
        params={"kinds": kinds, "threads": counts, "seconds": seconds, "repeats": repeats},
        walls=walls,
        cpu=cpu,
    )
    result.rows = [
        {
            "kind": k,
            "units": units[k],
            "1 thread (s)": statistics.median(walls[(k, 1)]),
            **{f"{n} threads: speed-up": result.speedup(k, n) for n in counts if n > 1},
        }
        for k in kinds
    ]
    result.findings = _findings(result)
    return result


def _findings(r: GilReleaseResult) -> list[str]:
    top = max(r.thread_counts)
    if top == 1:
        return ["Only one thread count was measured, so there is no speed-up to report."]
    parts = ", ".join(f"{k} {r.speedup(k, top):.2f}x" for k in r.kinds)
    out = [f"On {top} threads: {parts} (medians of {r.params['repeats']} rounds)."]
    cores = r.machine["usable_cores"]
    if cores < 2:
        out.append(
            f"This machine has {cores} usable core, so no kind can speed up on threads here; "
            "with 2 or more cores, sha256, zlib and numpy would, and pure Python would not."
        )
        return out
    releasing = [k for k in r.kinds if k != "pure Python"]
    scaled = [k for k in releasing if r.scales(k)]
    missed = [k for k in releasing if not r.scales(k)]
    if scaled:
        out.append(
            f"{', '.join(scaled)} scaled: the C code runs without the GIL, so threads use "
            "several cores at once."
        )
    if missed:
        out.append(
            f"{', '.join(missed)} did not reach {SCALES}x in this run; with 2 free cores they "
            "should, so other programs were probably busy: run the cell again."
        )
    if "pure Python" in r.kinds:
        held = r.speedup("pure Python", top)
        if not gil_enabled():
            out.append(f"Pure Python reached {held:.2f}x: this build runs without the GIL.")
        elif held < SCALES:
            out.append(f"Pure Python stayed at {held:.2f}x: the bytecode loop holds the GIL.")
        else:
            out.append(f"Pure Python reached {held:.2f}x, which a GIL build should not allow.")
    return out
