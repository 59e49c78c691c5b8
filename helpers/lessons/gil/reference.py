"""Free-threaded CPython: detect it, say how to get it, show recorded free-threaded references.

Introduced in 03_gil_contention.ipynb, section 6. A reference is a file in
data/reference/free_threaded/: the real, unedited output of ``python -m helpers check gil
--json`` run under a free-threaded interpreter with the GIL off, read by helpers.course.reference.
This module refuses a file recorded with the GIL on and labels every figure with its file and
machine. Nothing here is typed in.
"""

from __future__ import annotations

import html
import os
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from ...charts import close_if_inline, color, new_axes, style
from ...course import reference
from ...machine import gil_enabled
from .check import LESSON, THREADS

RECORD_COMMAND = (
    "PYTHON_GIL=0 python3.13t -m helpers check gil --json "
    "> data/reference/free_threaded/$(hostname)-py313t.json"
)
RECORDED = "Recorded on other machines (not this run):"
HOW_TO_GET = (
    ("python.org installer (macOS, Windows)", "tick 'free-threaded binaries'; run python3.13t"),
    ("uv", "uv python install 3.13t && uv venv --python 3.13t"),
    ("conda-forge", "conda create -n nogil -c conda-forge python-freethreading"),
    ("Debian / Ubuntu", "apt-get install python3.13-nogil (where your release packages it)"),
    ("pyenv", "pyenv install 3.13t"),
)


def free_threaded_dir() -> Path:
    """data/reference/free_threaded/ (under $HELPERS_REFERENCE_DIR when that is set)."""
    return reference.reference_dir() / "free_threaded"


def load_references(folder: str | os.PathLike | None = None) -> list[reference.ReferenceFile]:
    """The free-threaded check files in folder (default data/reference/free_threaded/).

    Keeps only lesson 03's effects, and files that have some. A missing folder gives []; a
    file that is not check output, or was recorded with the GIL on, raises ValueError naming
    it: it would otherwise be shown as something it is not.
    """
    root = free_threaded_dir() if folder is None else Path(folder)
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.glob("*.json")):
        ref = reference.load(path)
        if ref.machine.get("gil_enabled", True):
            raise ValueError(
                f"{path.name} was recorded with the GIL enabled, so it is not a free-threaded "
                f"reference; move it to {reference.reference_dir()}"
            )
        effects = [e for e in ref.effects if e.get("lesson") == LESSON]
        if effects:
            found.append(reference.ReferenceFile(ref.path, ref.machine, effects, ref.verdict))
    return found


@dataclass
class FreeThreadingStatus:
    """What this interpreter is, how to get a free-threaded one, and the recorded references."""

    python: str
    gil_enabled: bool
    free_threaded_build: bool  # built free-threaded (PEP 703), whatever the GIL does now
    references: list[reference.ReferenceFile]
    folder: Path

    @property
    def summary(self) -> str:
        if not self.gil_enabled:
            return (
                f"Python {self.python} is running without the GIL (free-threaded): the "
                "experiments in this lesson run here with threads in parallel."
            )
        if self.free_threaded_build:
            return (
                f"Python {self.python} is a free-threaded build, but the GIL is on: an extension "
                "module without free-threading support turned it back on, or PYTHON_GIL=1 is "
                "set. Start it with PYTHON_GIL=0 (or -X gil=0) to run without the GIL."
            )
        return (
            f"Python {self.python} has the GIL. A free-threaded build (3.13t and later) can "
            "run Python threads in parallel; here is how to get one."
        )

    @property
    def missing_note(self) -> str:
        return (
            f"No free-threaded reference has been recorded yet (none in {self.folder}). To "
            "record one, on a machine with a free-threaded Python and this course installed, "
            f"run from the course folder: {RECORD_COMMAND}"
        )

    def rows(self) -> list[dict]:
        """One row per recorded effect, labelled with its file and machine."""
        return [
            {
                "file": f.source,
                "machine": f.machine,
                "effect": f.effect,
                "expected": f.expected,
                "measured": f.measured_text,
            }
            for ref in self.references
            for f in ref.figures()
        ]

    def __str__(self) -> str:
        lines = [self.summary]
        if self.gil_enabled:
            lines += [f"- {where}: {how}" for where, how in HOW_TO_GET]
        if not self.references:
            return "\n".join([*lines, self.missing_note])
        lines.append(RECORDED)
        lines += [
            f"- {r['file']} ({r['machine']}): {r['effect']}: {r['measured']}" for r in self.rows()
        ]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from ...results import html_table

        out = f"<p>{html.escape(self.summary)}</p>"
        if self.gil_enabled:
            items = "".join(
                f"<li>{html.escape(where)}: <code>{html.escape(how)}</code></li>"
                for where, how in HOW_TO_GET
            )
            out += f"<ul>{items}</ul>"
        if not self.references:
            return out + f"<p><b>{html.escape(self.missing_note)}</b></p>"
        return out + f"<p><b>{RECORDED}</b></p>" + html_table(self.rows())

    def plot(self, ours=None):
        """CPU-bound threads' speed-up: this run (if given) beside each free-threaded file.

        None where no free-threaded file is recorded: a chart with nothing to compare would only
        look like a result (str(self) says what is missing and how to record it).
        """
        if not self.references:
            return None

        labels, values, colours = [], [], []
        if ours is not None:
            gil = "GIL" if gil_enabled() else "no GIL"
            labels.append(f"this run\n(Python {platform.python_version()}, {gil})")
            values.append(ours.speedup("threads"))
            colours.append(color(0))
        for i, ref in enumerate(self.references):
            value = next((f.measured for f in ref.figures() if f.effect == THREADS.effect), None)
            if value is not None:
                labels.append(f"recorded: {ref.path.name}\n({ref.label}, no GIL)")
                values.append(value)
                colours.append(color(i + 1))
        with style():
            fig, ax = new_axes(None, size=(10, 4.2))
            if values:
                bars = ax.bar(range(len(values)), values, color=colours)
                ax.bar_label(bars, fmt="%.2fx", padding=2)
                ax.set_xticks(range(len(values)), labels, fontsize=9)
                ax.set_xlim(-0.8, max(len(values), 3) - 0.2)  # a lone bar stays bar-shaped
            ax.axhline(1, color="grey", linestyle=":", label="no gain (1x)")
            ax.set_ylabel("speed-up of 2 threads (× sequential)")
            ax.set_ylim(0, max([2.2, *values]) * 1.15)
            ax.set_title("CPU-bound threads: this run beside recorded free-threaded references")
            ax.legend(loc="upper left")
            ax.grid(axis="x", visible=False)
            close_if_inline(fig)
            return fig


def free_threading(folder: str | os.PathLike | None = None) -> FreeThreadingStatus:
    """This interpreter's GIL status and the free-threaded references in folder."""
    root = free_threaded_dir() if folder is None else Path(folder)
    return FreeThreadingStatus(
        python=platform.python_version(),
        gil_enabled=gil_enabled(),
        free_threaded_build=bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        references=load_references(root),
        folder=root,
    )
