"""Lesson 01's interactive explorer: workers, chunksize and workload chosen with sliders.

Introduced in 01_process_pool.ipynb (section 9). Building the explorer runs nothing: work
starts only when the learner presses Run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ...events import TaskEvent
from ...machine import require_workers, usable_cores
from ...results import html_table
from ...runner import wait
from ...workloads import cpu
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
        settings = (self.workers.value, self.chunksize.value, self.workload.value)
        run = explore_once(*settings, start_method=self.start_method)
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
                settings = f"{run.workers} workers, chunksize {run.chunksize}"
                title = f"{run.workload}: {settings}, {run.wall * 1000:.0f} ms"
                display(plots.timeline(run.events, origin=run.origin, title=title))
        finally:
            self.button.disabled = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def explorer(start_method: str | None = None) -> Explorer:
    """The explorer widget; nothing runs until Run is pressed."""
    return Explorer(start_method=start_method)
