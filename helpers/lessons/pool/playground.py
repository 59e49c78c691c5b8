"""Lesson 01's interactive explorer and its exercise checks.

Introduced in 01_process_pool.ipynb (sections 9 and 10). Building the explorer runs
nothing: work starts only when the learner presses Run. The checks print feedback and
never raise on an unfinished answer, since CI runs the notebook with exercises unsolved.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from ...course.feedback import feedback
from ...events import TaskEvent
from ...machine import require_workers, usable_cores
from ...results import html_table
from ...runner import wait
from ...workloads import cpu
from .chunks import chunksize_sweep
from .workers import started_pool

WORKLOADS = {
    # name -> (tasks, seconds of one core per task)
    "short tasks (400 × 0.2 ms)": (400, 0.0002),
    "long tasks (16 × 50 ms)": (16, 0.05),
}
CHUNKSIZES = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class ExplorerRun:
    """One press of Run: the settings, what it took, and when each task ran."""

    workload: str
    workers: int
    chunksize: int
    wall: float
    events: list[TaskEvent]
    origin: float

    @property
    def busy_share(self) -> float:
        """Share of the workers' time spent inside tasks (1.0 = never idle)."""
        busy = sum(e.duration for e in self.events)
        return busy / (self.workers * self.wall)

    def row(self) -> dict:
        return {
            "workload": self.workload,
            "workers": self.workers,
            "chunksize": self.chunksize,
            "time (ms)": self.wall * 1000,
            "workers busy (%)": self.busy_share * 100,
        }


def explore_once(
    workers: int, chunksize: int, workload: str, *, start_method: str | None = None
) -> ExplorerRun:
    """Run one workload from WORKLOADS with these settings; time it and record its tasks."""
    require_workers(workers)
    require_workers(chunksize, what="chunksize")
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; choose one of {list(WORKLOADS)}")
    tasks, seconds = WORKLOADS[workload]
    steps = [cpu.units_for(seconds)] * tasks
    with started_pool(workers, start_method=start_method) as started:
        origin = time.perf_counter()
        done = wait(started.pool.map_async(cpu.spin_timed, steps, chunksize=chunksize), 60)
        wall = time.perf_counter() - origin
    events = [TaskEvent("task", pid, "MainThread", s, e, used) for pid, s, e, used in done]
    return ExplorerRun(workload, workers, chunksize, wall, events, origin)


@dataclass
class Explorer:
    """Sliders for workers and chunksize, a workload choice and a Run button.

    Display it in a notebook cell. Each Run adds a line to the table and draws the tasks'
    timeline; pressing Run again with other settings lets you compare.
    """

    start_method: str | None = None
    history: list[ExplorerRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        import ipywidgets as widgets

        cores = usable_cores()
        self.workers = widgets.IntSlider(
            value=min(2, 2 * cores), min=1, max=2 * cores, description="workers"
        )
        self.chunksize = widgets.SelectionSlider(
            options=list(CHUNKSIZES), value=1, description="chunksize"
        )
        self.workload = widgets.ToggleButtons(options=list(WORKLOADS), description="work")
        self.button = widgets.Button(description="Run", button_style="primary", icon="play")
        self.output = widgets.Output()
        self.button.on_click(lambda _: self._clicked())
        self.widget = widgets.VBox(
            [self.workload, widgets.HBox([self.workers, self.chunksize, self.button]), self.output]
        )

    def run(self) -> ExplorerRun:
        """Run once with the widgets' current settings and remember the result."""
        run = explore_once(
            self.workers.value,
            self.chunksize.value,
            self.workload.value,
            start_method=self.start_method,
        )
        self.history.append(run)
        return run

    def _clicked(self) -> None:
        from IPython.display import HTML, display

        from ... import charts as plots

        self.button.disabled = True
        try:
            with self.output:
                self.output.clear_output(wait=True)
                try:
                    run = self.run()
                except (ValueError, TimeoutError) as exc:
                    print(f"Could not run: {exc}")
                    return
                display(HTML(html_table([r.row() for r in self.history])))
                display(
                    plots.timeline(
                        run.events,
                        origin=run.origin,
                        title=f"{run.workload}: {run.workers} workers, chunksize "
                        f"{run.chunksize}, {run.wall * 1000:.0f} ms",
                    )
                )
        finally:
            self.button.disabled = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explorer(start_method: str | None = None) -> Explorer:
    """The explorer widget; nothing runs until Run is pressed."""
    return Explorer(start_method=start_method)


# -- exercise checks ------------------------------------------------------------------


def check_collected_errors(values, errors, *, inputs=range(6), bad: int = 4) -> bool:
    """Exercise 1: every good result in values, and the one failure (x == bad) in errors."""
    values, errors = list(values or []), list(errors or [])
    if not values and not errors:
        print("➡️  values and errors are both empty: fill in the exercise cell, run it, then this.")
        return False
    good = sorted(x for x in inputs if x != bad)
    ok_values = feedback(
        sorted(values) == good,
        f"values holds every good result: {sorted(values)}.",
        f"values should hold {good} (in any order); it holds {sorted(values)}.",
    )
    failures = [e for e in errors if isinstance(e, ValueError) and f"task {bad}" in str(e)]
    ok_errors = feedback(
        len(errors) == 1 and len(failures) == 1,
        f"errors holds the one failure: {errors[0]!r}." if errors else "",
        f"errors should hold exactly one ValueError (task {bad}); it holds {errors!r}. "
        "Did you pass error_callback=errors.append, or catch the error that .get() raises?",
    )
    return ok_values and ok_errors


def check_chunksize_choice(
    chunksize, *, tasks: int = 5000, workers: int = 2, at_least: float = 10.0
) -> bool:
    """Exercise 2: time chunksize 1 against the learner's choice, alternately, and say how it did."""
    if chunksize == 1:
        print("➡️  chunksize is still 1, the slow case: try bigger values, then run this again.")
        return False
    try:
        r = chunksize_sweep(tasks, [chunksize], workers=workers, repeats=3, timeline_tasks=0)
    except ValueError as exc:
        print(f"❌ {exc}")
        return False
    gain = r.median(1) / r.median(chunksize)
    messages = math.ceil(tasks / chunksize)
    return feedback(
        gain >= at_least,
        f"chunksize {chunksize}: {gain:.0f}x faster than chunksize 1 ({messages} messages "
        f"each way instead of {tasks}).",
        f"chunksize {chunksize}: {gain:.1f}x faster than chunksize 1; aim for at least "
        f"{at_least:g}x. {'Try a bigger one.' if messages > 100 else 'Try a smaller one.'}",
    )


def check_amdahl(speedup_8_workers, speedup_limit, *, serial_share: float = 0.2) -> bool:
    """Exercise 3: Amdahl's law for a serial share, at 8 workers and with unlimited workers."""
    s = serial_share
    results = []
    for name, answer, truth, hint in (
        ("speedup_8_workers", speedup_8_workers, 1 / (s + (1 - s) / 8), "1 / (s + (1 - s) / n)"),
        ("speedup_limit", speedup_limit, 1 / s, "what 1 / (s + (1 - s) / n) tends to"),
    ):
        if answer is None:
            print(f"➡️  {name} is still None: fill in the cell above, run it, then this.")
            results.append(False)
            continue
        results.append(
            feedback(
                abs(answer - truth) <= 0.02 * truth,
                f"{name} = {answer:.3g}x: right.",
                f"{name} = {answer:.3g}x is not it. Use {hint} with s = {s:g}.",
            )
        )
    return all(results)
