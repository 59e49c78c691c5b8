"""The learner's record in this kernel: predictions beside measurements, exercises solved.

Introduced in 00_start_here.ipynb and used by every lesson. A lesson asks for a prediction
before an experiment (a variable the learner fills in, None until then), then calls
``reveal`` with the measured figure: the guess is shown beside it with how far off it was,
and kept. Exercise checks report through ``helpers.course.feedback``, which keeps whether
each was solved. ``summary()`` at the end of a notebook lists both. Nothing here raises on
an unanswered question (CI runs every notebook as shipped), and nothing run inside a
``%%solution`` cell is recorded: the summary is about the learner's own answers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from .solutions import in_solution


@dataclass
class Prediction:
    """One guess and the figure this run measured for it, in the same unit."""

    question: str
    guess: float | str
    measured: float | str
    unit: str = ""

    @property
    def off_by(self) -> str:
        """How far the guess was, as text: 'right', 'x2.3 too high', '+0.4 s' ..."""
        if isinstance(self.guess, str) or isinstance(self.measured, str):
            return "right" if str(self.guess) == str(self.measured) else "different"
        if self.measured == 0:
            return f"{self.guess - self.measured:+.3g}{self.unit}"
        ratio = self.guess / self.measured
        if 0.8 <= ratio <= 1.25:
            return f"within {abs(ratio - 1):.0%}"
        return f"x{ratio:.2g} too high" if ratio > 1 else f"x{1 / ratio:.2g} too low" if ratio > 0 else "wrong sign"


@dataclass
class Attempt:
    """The last check of one exercise: solved (True), not yet right (False), unanswered (None)."""

    exercise: str
    solved: bool | None
    said: str


_predictions: dict[str, Prediction] = {}
_attempts: dict[str, Attempt] = {}


def _fmt(value: float | str, unit: str) -> str:
    return value if isinstance(value, str) else f"{value:.3g}{unit}"


def reveal(question: str, guess: float | str | None, measured: float | str | None, *, unit: str = ""):
    """Show the learner's guess beside what this run measured, and keep both.

    guess None (the learner skipped the prediction) shows nothing; measured None (the effect
    could not be measured here, one core say) shows the guess and says so.
    """
    if guess is None:
        return None
    if measured is None:
        print(f"🔮 You predicted {_fmt(guess, unit)} for {question}; this run could not measure it.")
        return None
    p = Prediction(question, guess, measured, unit)
    if not in_solution():
        _predictions[question] = p
    print(f"🔮 {question}: you predicted {_fmt(guess, unit)}, this run measured "
          f"{_fmt(measured, unit)} ({p.off_by}).")
    return p


def record(exercise: str, solved: bool | None, said: str) -> None:
    """Keep the outcome of an exercise's check (called by helpers.course.feedback)."""
    if not in_solution():
        _attempts[exercise] = Attempt(exercise, solved, said)


def attempts() -> dict[str, Attempt]:
    """The last outcome of each exercise checked in this kernel, by exercise name."""
    return dict(_attempts)


def predictions() -> dict[str, Prediction]:
    """The predictions revealed in this kernel, by question."""
    return dict(_predictions)


@dataclass
class Summary:
    """The end-of-notebook table: (kind, what, state) rows, exercises then predictions."""

    rows: list[tuple[str, str, str]]

    def __repr__(self) -> str:
        return "\n".join(f"{kind:<10}  {what}: {state}" for kind, what, state in self.rows)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{kind}</td><td>{html.escape(what)}</td><td>{html.escape(state)}</td></tr>"
            for kind, what, state in self.rows
        )
        return f"<table><thead><tr><th></th><th>what</th><th>where you are</th></tr></thead><tbody>{body}</tbody></table>"


def summary(exercises: list[str]) -> Summary:
    """This notebook's exercises (solved or not yet; every name in `exercises` has its row,
    tried or not) and the predictions made so far.
    """
    states = {True: "solved", False: "not yet", None: "not answered"}
    rows = [("exercise", name, states[_attempts[name].solved] if name in _attempts else "not tried")
            for name in exercises]
    return Summary(rows + [
        ("prediction", p.question, f"you said {_fmt(p.guess, p.unit)}, measured "
         f"{_fmt(p.measured, p.unit)} ({p.off_by})")
        for p in _predictions.values()
    ])
