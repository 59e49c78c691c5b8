"""The Result every experiment returns: its parameters, the machine, a table and findings.

Introduced in 01_process_pool.ipynb. A notebook shows a Result as an HTML table (with the
findings, sentences computed from this run, above it) and draws it with ``result.plot()``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from .machine import fingerprint
from .probes import Measurement


def _cell(value: Any) -> str:
    """A table cell as plain text: 3 significant figures, thousands separated."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return "n/a" if value is None else str(value)


def html_table(rows: list[dict[str, Any]]) -> str:
    """A plain HTML table from a list of dicts with the same keys."""
    if not rows:
        return "<p><i>no rows</i></p>"
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in keys)
    cells = ("".join(f"<td>{html.escape(_cell(r.get(k)))}</td>" for k in keys) for r in rows)
    body = "".join(f"<tr>{row}</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text_table(rows: list[dict[str, Any]]) -> str:
    """The same table as aligned plain text, for the shell."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[str(k) for k in keys]] + [[_cell(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(keys))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@dataclass
class Result:
    """What one experiment found. Subclasses add their data and a plot() that draws it.

    rows: the table, one dict per line. findings: sentences computed from this run, saying
    what it showed and, where an expectation did not hold, why (one core, a busy machine).
    """

    title: str
    params: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    measurement: Measurement | None = None
    machine: dict[str, Any] = field(default_factory=lambda: fingerprint().to_dict())

    def _repr_html_(self) -> str:
        findings = "".join(f"<li>{html.escape(f)}</li>" for f in self.findings)
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return (
            f"<h4>{html.escape(self.title)}</h4>"
            f"<p><small>{html.escape(params)}; start method {self.machine['start_method']}, "
            f"{self.machine['usable_cores']} usable cores</small></p>"
            + (f"<ul>{findings}</ul>" if findings else "")
            + html_table(self.rows)
        )

    def __init_subclass__(cls, **kwargs):
        # Keep the short repr in subclasses: @dataclass only writes a __repr__ a class lacks.
        super().__init_subclass__(**kwargs)
        cls.__repr__ = Result.__repr__

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.title}>"

    def __str__(self) -> str:
        return "\n".join([self.title, text_table(self.rows), *(f"- {f}" for f in self.findings)])

    def plot(self):
        """Draw this result; experiments override it. The base draws its measurement."""
        if self.measurement is None:
            raise NotImplementedError(f"{type(self).__name__} has no chart")
        return self.measurement.plot(title=self.title)
