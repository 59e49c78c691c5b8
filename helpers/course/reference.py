"""Reference results: what `python -m helpers check --json` measured on known machines.

Introduced in 06_choosing_and_scaling_out.ipynb, and used by every lesson whose effect
cannot show on the learner's machine (one usable core, a busy laptop). Each file in
``data/reference/`` is the unedited output of

    python -m helpers check --json > data/reference/<machine>.json

so it carries its own "machine" block (cores, CPU, Python, OS) and the effects measured
there. A missing or empty folder is normal (a fresh checkout before the files are
recorded): every function then returns nothing.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..machine import fingerprint
from ..results import html_table, text_table
from .check import Effect, machine_record

FOLDER_VARIABLE = "HELPERS_REFERENCE_DIR"


def reference_dir() -> Path:
    """The folder of reference files: $HELPERS_REFERENCE_DIR, else data/reference/ beside helpers/."""
    override = os.environ.get(FOLDER_VARIABLE, "").strip()
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "data" / "reference"


@dataclass(frozen=True)
class ReferenceFigure(Effect):
    """One effect as measured on one reference machine."""

    machine: str = ""  # a short label, e.g. "2 cores, Intel Xeon ..., CPython 3.11.7, Linux"
    source: str = ""  # the file name in data/reference/

    def __str__(self) -> str:
        return f"{self.measured_text} on {self.machine} ({self.source})"


@dataclass(frozen=True)
class ReferenceFile:
    """One recorded `check --json` document."""

    path: Path
    machine: dict
    effects: list[dict] = field(default_factory=list)
    verdict: str = ""

    @property
    def usable_cores(self) -> int:
        return int(self.machine.get("usable_cores") or 1)

    @property
    def label(self) -> str:
        """The machine in a few words, to print beside each figure it measured."""
        m, cores = self.machine, self.usable_cores
        parts = [
            f"{cores} usable core{'s' if cores != 1 else ''}",
            _short_cpu(str(m.get("cpu") or "")),
            str(m.get("python") or ""),
            str(m.get("os") or "").split(" ")[0],
            str(m.get("start_method") or ""),
        ]
        return ", ".join(p for p in parts if p)

    def figures(self) -> list[ReferenceFigure]:
        texts = ("lesson", "effect", "expected", "unit", "why")
        return [
            ReferenceFigure(**{k: str(e.get(k, "")) for k in texts}, measured=e.get("measured"),
                            holds=e.get("holds"), machine=self.label, source=self.path.name)
            for e in self.effects
        ]


def _short_cpu(name: str) -> str:
    """'Intel(R) Xeon(R) CPU @ 2.20GHz' -> 'Intel Xeon CPU @ 2.20GHz': shorter on a chart."""
    return re.sub(r"\((R|TM|tm|r)\)", "", name).replace("  ", " ").strip()


def load(path: str | os.PathLike) -> ReferenceFile:
    """Read one reference file; ValueError saying what is wrong if it is not `check --json` output."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path.name} is not a readable JSON file: {exc}") from None
    if not (isinstance(document, dict) and isinstance(document.get("machine"), dict)
            and isinstance(document.get("effects"), list)):
        raise ValueError(
            f"{path.name} is not the output of `python -m helpers check --json` "
            "(it needs a 'machine' block and an 'effects' list)"
        )
    effects = [e for e in document["effects"] if isinstance(e, dict)]
    return ReferenceFile(path, document["machine"], effects, str(document.get("verdict", "")))


def load_all(folder: str | os.PathLike | None = None) -> list[ReferenceFile]:
    """Every readable reference file in folder (default: reference_dir()), sorted by name.

    Files that cannot be read are skipped; skipped_files() says which and why.
    """
    return _read_all(folder)[0]


def skipped_files(folder: str | os.PathLike | None = None) -> dict[str, str]:
    """File name -> why it was skipped, for the files load_all() could not use."""
    return _read_all(folder)[1]


def _read_all(folder: str | os.PathLike | None) -> tuple[list[ReferenceFile], dict[str, str]]:
    root = Path(folder) if folder is not None else reference_dir()
    found, problems = [], {}
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        try:
            found.append(load(path))
        except ValueError as exc:
            problems[path.name] = str(exc)
    return found, problems


def figures(
    lesson: str | None = None, effect: str | None = None, *, folder: str | os.PathLike | None = None
) -> list[ReferenceFigure]:
    """All reference figures, optionally for one lesson and effect.

    lesson matches the Effect's lesson exactly (case-insensitive); effect matches exactly, or
    as a case-insensitive substring when no effect has exactly that name.
    """
    every = [f for ref in load_all(folder) for f in ref.figures()]
    if lesson is not None:
        every = [f for f in every if f.lesson.lower() == lesson.lower()]
    if effect is not None:
        exact = [f for f in every if f.effect == effect]
        every = exact or [f for f in every if effect.lower() in f.effect.lower()]
    return every


def best(
    lesson: str, effect: str, *, folder: str | os.PathLike | None = None, min_cores: int = 2
) -> ReferenceFigure | None:
    """The reference figure to show a learner whose machine cannot show this effect.

    Prefers, in order: a figure that was measured on a machine with at least min_cores
    usable cores; one where the effect held; the same start method as this machine; the same
    Python minor version; then the fewest cores (closest to a learner's laptop).
    """
    files = {ref.path.name: ref for ref in load_all(folder)}
    candidates = [f for f in figures(lesson, effect, folder=folder) if f.measured is not None]
    if not candidates:
        return None
    here = fingerprint()
    minor = ".".join(here.python.split(".")[:2])

    def rank(f: ReferenceFigure) -> tuple:
        ref = files[f.source]
        python = str(ref.machine.get("python", ""))
        return (
            ref.usable_cores < min_cores,
            {True: 0, None: 1, False: 2}[f.holds],
            ref.machine.get("start_method") != here.start_method,
            f" {minor}." not in f" {python.split(' ')[-1]}.",
            ref.usable_cores,
            f.source,
        )

    return min(candidates, key=rank)


@dataclass
class ReferenceTable:
    """Reference figures shown in a notebook: an HTML table, or a note when there are none."""

    figures: list[ReferenceFigure]
    title: str = "Reference results from known machines"

    def rows(self) -> list[dict]:
        held = {True: "yes", False: "no", None: "n/a"}
        return [
            {"lesson": f.lesson, "effect": f.effect, "expected": f.expected,
             "measured": f.measured_text, "held": held[f.holds], "machine": f.machine,
             "file": f.source}
            for f in self.figures
        ]

    def _empty_note(self) -> str:
        return (
            f"No reference results for this yet: {reference_dir()} has no matching file. "
            "A teacher records one with `python -m helpers check --json > "
            "data/reference/<machine>.json` on a machine with 2 or more free cores."
        )

    def _repr_html_(self) -> str:
        if not self.figures:
            return f"<p><i>{html.escape(self._empty_note())}</i></p>"
        return f"<h4>{html.escape(self.title)}</h4>" + html_table(self.rows())

    def __str__(self) -> str:
        if not self.figures:
            return self._empty_note()
        return f"{self.title}\n{text_table(self.rows())}"


def show(lesson: str | None = None, effect: str | None = None) -> ReferenceTable:
    """A table of the reference figures for a lesson (and effect), for a notebook cell."""
    return ReferenceTable(figures(lesson, effect))


def suggested_name(machine: dict | None = None) -> str:
    """A file name that names the machine, e.g. 'linux-2cores-intel-xeon-cpu-py3.11-fork.json'."""
    if machine is None:
        machine = machine_record([])["machine"]  # this machine, as `check --json` records it
    python = str(machine.get("python", "")).split(" ")[-1]
    parts = [
        str(machine.get("os", "unknown")).split(" ")[0],
        f"{machine.get('usable_cores', 1)}cores",
        " ".join(_short_cpu(str(machine.get("cpu", ""))).split()[:3]),
        "py" + ".".join(python.split(".")[:2]),
        str(machine.get("start_method", "")),
    ]
    slug = "-".join(p for p in parts if p)
    return re.sub(r"[^a-z0-9.]+", "-", slug.lower()).strip("-") + ".json"


def _main() -> int:
    """`python -m helpers.course.reference`: list the reference files and name this machine's."""
    refs = load_all()
    print(f"reference folder: {reference_dir()}")
    for ref in refs:
        print(f"  {ref.path.name}: {ref.label}; {len(ref.effects)} effects")
    for name, why in skipped_files().items():
        print(f"  skipped {name}: {why}")
    if not refs:
        print("  (no reference files yet)")
    print(f"record this machine with:\n  python -m helpers check --json > "
          f"{reference_dir() / suggested_name()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
