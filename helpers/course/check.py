"""``python -m helpers check``: the teacher's pre-class check of each lesson's key effect.

Each lesson's check.py defines its section (helpers.course.registry says where): a function
``check(quick: bool) -> list[Effect]`` that runs its experiment briefly and says, per
effect, what was expected, what was measured and whether it held. ``holds`` is None where
the effect cannot show on this machine (one usable core, no PSS); the verdict says so.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass

from ..machine import fingerprint, usable_cores
from .registry import check_sections, resolve


@dataclass(frozen=True)
class Effect:
    """One effect checked: what was expected, what this machine measured, whether it held."""

    lesson: str
    effect: str
    expected: str
    measured: float | None
    unit: str = ""
    holds: bool | None = None
    why: str = ""

    @property
    def measured_text(self) -> str:
        return "not measured" if self.measured is None else f"{self.measured:.3g}{self.unit}"


@dataclass(frozen=True)
class Rule:
    """An effect's name and threshold, defined once in its lesson's check.py.

    The lesson's check, its notebook's findings, the decision guide and the tests all import
    the Rule, so a renamed effect or a changed threshold cannot drift between them.
    ``Rule("pool", "speed-up at 2 workers", ">=", 1.6, unit="x", cores=2).judge(1.9)`` gives
    an Effect that holds; with one usable core, one that is not applicable, saying why.
    """

    lesson: str
    effect: str
    op: str  # ">=" or "<="
    threshold: float
    unit: str = "x"
    cores: int = 1

    def __post_init__(self):
        if self.op not in (">=", "<="):
            raise ValueError(f"op must be '>=' or '<=', got {self.op!r}")

    def holds(self, measured: float) -> bool:
        """Whether a measured figure meets the threshold (ignoring the cores condition)."""
        return measured >= self.threshold if self.op == ">=" else measured <= self.threshold

    @property
    def expected(self) -> str:
        """The condition as the check prints it: '>= 1.6x with 2+ usable cores'."""
        cores = f" with {self.cores}+ usable cores" if self.cores > 1 else ""
        return f"{self.op} {self.threshold:g}{self.unit}{cores}"

    def judge(self, measured: float | None, why: str = "") -> Effect:
        """The Effect for a figure measured now: not applicable (holds None) with too few
        usable cores or nothing measured, saying why."""
        missing = needs_cores(self.cores)
        if missing or measured is None:
            # why nothing was measured (py-spy absent, no subinterpreters) says more than cores
            why = (why if measured is None else "") or missing or "not measured"
            return Effect(self.lesson, self.effect, self.expected, measured, self.unit, None, why)
        holds = self.holds(measured)
        return Effect(self.lesson, self.effect, self.expected, measured, self.unit, holds, why)


def needs_cores(cores: int) -> str:
    """'' if this machine has at least `cores` usable cores, else the reason it cannot show."""
    have = usable_cores()
    return "" if have >= cores else f"needs {cores} usable cores, this machine has {have}"


def report_only(lesson: str, effect: str, measured: float | None, *, unit: str = "",
                expected: str = "reported", why: str = "") -> Effect:
    """A figure the check reports for the teacher without a pass/fail condition."""
    return Effect(lesson, effect, expected, measured, unit, None if measured is None else True, why)


def run_section(name: str, quick: bool = True) -> list[Effect]:
    """Run one registered section; an error becomes a failed effect, not a crash."""
    try:
        return list(resolve(check_sections()[name])(quick=quick))
    except Exception as exc:  # a teacher's check reports failures, it does not stop at the first
        return [
            Effect(name, "section ran", "no error", None, "", False, f"{type(exc).__name__}: {exc}")
        ]


def require_sections(names: list[str]) -> list[str]:
    """The names, if each is a registered check section; else ValueError listing those known."""
    known = check_sections()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown section {', '.join(unknown)}; known: {', '.join(known)}")
    return names


def run_checks(sections: list[str] | None = None, quick: bool = True, echo=None) -> list[Effect]:
    """Run the named sections (default: all, in teaching order)."""
    names = require_sections(sections or list(check_sections()))
    effects: list[Effect] = []
    for name in names:
        start = time.perf_counter()
        found = run_section(name, quick)
        effects += found
        if echo:
            echo(format_table(found) + f"\n  ({name}: {time.perf_counter() - start:.1f} s)\n")
    return effects


def format_table(effects: list[Effect]) -> str:
    marks = {True: "yes", False: "NO", None: "n/a"}
    rows = [("lesson", "effect", "expected", "measured", "holds")] + [
        (e.lesson, e.effect, e.expected, e.measured_text,
         marks[e.holds] + (f" ({e.why})" if e.why else ""))
        for e in effects
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        for r in rows
    )


def verdict(effects: list[Effect]) -> str:
    """One line a teacher can act on."""
    failed = sorted({e.lesson for e in effects if e.holds is False})
    cannot = sorted(
        {e.lesson for e in effects if e.holds is None and e.why.startswith("needs")} - set(failed)
    )
    if not failed and not cannot:
        return "VERDICT: all effects hold; this machine is ready for the course."
    parts = []
    if cannot:
        reasons = sorted(
            {e.why for e in effects if e.lesson in cannot and e.holds is None and e.why}
        )
        parts.append(
            f"lessons {', '.join(cannot)} will show reference results instead ({'; '.join(reasons)})"
        )
    if failed:
        parts.append(
            f"effects did not hold in {', '.join(failed)}: close other programs and run the check "
            "again; if they still fail, those lessons will show reference results"
        )
    return "VERDICT: " + "; ".join(parts) + "."


def machine_record(effects: list[Effect]) -> dict:
    """The --json document: the machine it ran on and the effects, for data/reference/."""
    fp = fingerprint()
    return {
        "machine": {
            "cpu": fp.cpu, "logical_cores": fp.logical_cores, "usable_cores": fp.usable_cores,
            "python": f"{fp.implementation} {fp.python}", "os": fp.platform,
            "node": platform.node(), "start_method": fp.start_method, "gil_enabled": fp.gil_enabled,
        },
        "effects": [asdict(e) for e in effects],
        "verdict": verdict(effects),
    }


def to_json(effects: list[Effect]) -> str:
    return json.dumps(machine_record(effects), indent=2)
