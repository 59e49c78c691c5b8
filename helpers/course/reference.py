"""Reference results: what `python -m helpers check --json` measured on known machines.

Introduced in 06_choosing_and_scaling_out.ipynb, and used by every lesson whose effect
cannot show on the learner's machine (one usable core, a busy laptop). Each file in
``data/reference/`` is the unedited output of

    python -m helpers check --json > data/reference/<machine>.json

so it carries its own "machine" block (cores, CPU, Python, OS) and the effects measured
there. This module lists those files, loads them, picks the best match for one effect and
labels every figure with the machine it came from. A missing or empty folder is normal
(a fresh checkout before the files are recorded): every function then returns nothing.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..machine import fingerprint

FOLDER_VARIABLE = "HELPERS_REFERENCE_DIR"


def reference_dir() -> Path:
    """The folder of reference files: $HELPERS_REFERENCE_DIR, else data/reference/ beside helpers/."""
    override = os.environ.get(FOLDER_VARIABLE, "").strip()
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "data" / "reference"


@dataclass(frozen=True)
class ReferenceFigure:
    """One effect as measured on one reference machine."""

    lesson: str
    effect: str
    expected: str
    measured: float | None
    unit: str
    holds: bool | None
    why: str
    machine: str  # a short label, e.g. "2 cores, Intel Xeon ..., CPython 3.11.7, Linux"
    source: str  # the file name in data/reference/

    @property
    def measured_text(self) -> str:
        return "not measured" if self.measured is None else f"{self.measured:.3g}{self.unit}"

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
        m = self.machine
        cores = self.usable_cores
        parts = [f"{cores} usable core{'s' if cores != 1 else ''}"]
        if m.get("cpu"):
            parts.append(_short_cpu(str(m["cpu"])))
        if m.get("python"):
            parts.append(str(m["python"]))
        if m.get("os"):
            parts.append(str(m["os"]).split(" ")[0])
        if m.get("start_method"):
            parts.append(str(m["start_method"]))
        return ", ".join(parts)

    def figures(self) -> list[ReferenceFigure]:
        return [
            ReferenceFigure(
                lesson=str(e.get("lesson", "")),
                effect=str(e.get("effect", "")),
                expected=str(e.get("expected", "")),
                measured=e.get("measured"),
                unit=str(e.get("unit", "")),
                holds=e.get("holds"),
                why=str(e.get("why", "")),
                machine=self.label,
                source=self.path.name,
            )
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
    if (
        not isinstance(document, dict)
        or not isinstance(document.get("machine"), dict)
        or not isinstance(document.get("effects"), list)
    ):
        raise ValueError(
            f"{path.name} is not the output of `python -m helpers check --json` "
            "(it needs a 'machine' block and an 'effects' list)"
        )
    return ReferenceFile(
        path=path,
        machine=document["machine"],
        effects=[e for e in document["effects"] if isinstance(e, dict)],
        verdict=str(document.get("verdict", "")),
    )


def load_all(folder: str | os.PathLike | None = None) -> list[ReferenceFile]:
    """Every readable reference file in folder (default: reference_dir()), sorted by name.

    Files that cannot be read are skipped; skipped_files() says which and why.
    """
    found = []
    for path in _json_files(folder):
        try:
            found.append(load(path))
        except ValueError:
            continue
    return found


def skipped_files(folder: str | os.PathLike | None = None) -> dict[str, str]:
    """File name -> why it was skipped, for the files load_all() could not use."""
    problems = {}
    for path in _json_files(folder):
        try:
            load(path)
        except ValueError as exc:
            problems[path.name] = str(exc)
    return problems


def _json_files(folder: str | os.PathLike | None) -> list[Path]:
    root = Path(folder) if folder is not None else reference_dir()
    return sorted(root.glob("*.json")) if root.is_dir() else []


def figures(
    lesson: str | None = None,
    effect: str | None = None,
    *,
    folder: str | os.PathLike | None = None,
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
    lesson: str,
    effect: str,
    *,
    folder: str | os.PathLike | None = None,
    min_cores: int = 2,
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
        return [
            {
                "lesson": f.lesson,
                "effect": f.effect,
                "expected": f.expected,
                "measured": f.measured_text,
                "held": {True: "yes", False: "no", None: "n/a"}[f.holds],
                "machine": f.machine,
                "file": f.source,
            }
            for f in self.figures
        ]

    def _empty_note(self) -> str:
        return (
            f"No reference results for this yet: {reference_dir()} has no matching file. "
            "A teacher records one with `python -m helpers check --json > "
            "data/reference/<machine>.json` on a machine with 2 or more free cores."
        )

    def _repr_html_(self) -> str:
        from ..results import html_table

        if not self.figures:
            return f"<p><i>{html.escape(self._empty_note())}</i></p>"
        return f"<h4>{html.escape(self.title)}</h4>" + html_table(self.rows())

    def __str__(self) -> str:
        from ..results import text_table

        if not self.figures:
            return self._empty_note()
        return f"{self.title}\n{text_table(self.rows())}"


def show(lesson: str | None = None, effect: str | None = None) -> ReferenceTable:
    """A table of the reference figures for a lesson (and effect), for a notebook cell."""
    return ReferenceTable(figures(lesson, effect))


def suggested_name(machine: dict | None = None) -> str:
    """A file name that names the machine, e.g. 'linux-2cores-intel-xeon-cpu-py3.11-fork.json'."""
    if machine is None:
        fp = fingerprint()
        machine = {
            "os": fp.platform,
            "usable_cores": fp.usable_cores,
            "cpu": fp.cpu,
            "python": f"{fp.implementation} {fp.python}",
            "start_method": fp.start_method,
        }
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
    print(
        "record this machine with:\n"
        f"  python -m helpers check --json > {reference_dir() / suggested_name()}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
