"""Lesson 05, section 3: updates lost when workers add to one shared counter.

Introduced in 05_sharing_memory.ipynb: lost_updates(), first unprotected, then protected.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...machine import mp_context, require_workers, start_method, usable_cores
from ...results import Result
from ...runner import process_pool, wait
from ...workloads import sharing as work
from . import charts
from . import stores as sharing
from .comparison import TIMEOUT, require_seconds

COUNTER_STRATEGIES = ("value", "rawarray", "shared_memory", "manager_dict", "redis")


@dataclass
class LostUpdatesResult(Result):
    """Updates lost when workers add to one shared counter, without and with protection."""

    workers: int = 0

    def plot(self):
        return charts.lost_updates(self.rows, workers=self.workers)


def lost_updates(
    strategies: tuple[str, ...] | list[str] = COUNTER_STRATEGIES,
    *,
    workers: int = 2,
    seconds: float = 0.3,
    timeout: float = TIMEOUT,
) -> LostUpdatesResult:
    """Workers add 1 to one shared counter for `seconds`, unprotected, then protected.

    Unprotected, each addition reads the value and writes it back plus one, so two workers
    can both read 5 and both write 6: one update is lost. Protected uses each strategy's way
    (a lock, or an addition the server does in one step). Counts lost = made - final value.
    """
    names = sharing.require_strategies(strategies)
    require_workers(workers)
    seconds = require_seconds(seconds)
    rows = []
    for name in names:
        cls = sharing.strategy(name)
        reason = cls.unavailable()
        if reason:
            rows.append({"strategy": name, "skipped": reason})
            continue
        method = cls.start_method or start_method()
        ctx = mp_context(method)
        barrier, lock = ctx.Barrier(workers), ctx.Lock()
        row: dict = {"strategy": name}
        with (
            sharing.open_store(name, 1, ctx) as store,
            process_pool(workers, start_method=method, initializer=work.attach,
                         initargs=(name, store.handle(), barrier, lock)) as pool,
        ):
            for safely in (False, True):
                store.set(0, 0)
                counts = wait(
                    pool.starmap_async(work.count_up, [(seconds, safely)] * workers), timeout
                )
                made, final = sum(counts), store.get(0)
                key = "protected" if safely else "unprotected"
                row[f"additions ({key})"] = made
                row[f"lost ({key})"] = made - final
                row[f"lost % ({key})"] = 100 * (made - final) / made
        row["protection"] = cls.protected_by
        rows.append(row)
    return LostUpdatesResult(
        title=f"{workers} workers add 1 to one shared counter for {seconds:g} s",
        params={"strategies": names, "workers": workers, "seconds": seconds},
        rows=rows,
        findings=_lost_findings(rows),
        workers=workers,
    )


def _lost_findings(rows: list[dict]) -> list[str]:
    findings = []
    measured = [r for r in rows if "skipped" not in r]
    losing = [r for r in measured if r["lost (unprotected)"] > 0]
    if losing:
        lost = "; ".join(
            f"{r['strategy']} ({r['lost (unprotected)']:,} of {r['additions (unprotected)']:,})"
            for r in losing
        )
        findings.append(f"Unprotected, updates were lost with {lost}.")
    clean = [r["strategy"] for r in measured if r["lost (unprotected)"] == 0]
    if clean:
        why = (
            " With 1 usable core the workers rarely switch between a read and its write."
            if usable_cores() < 2
            else " They may still lose updates on another run: the race is a matter of timing."
        )
        findings.append(f"Unprotected, no update was lost this time with {', '.join(clean)}.{why}")
    protected_lost = [r for r in measured if r["lost (protected)"] != 0]
    if protected_lost:
        names = ", ".join(r["strategy"] for r in protected_lost)
        findings.append(
            f"Protected, updates were STILL lost with {names}: that protection does not work."
        )
    elif measured:
        findings.append("Protected, no update was lost with any strategy.")
    skipped = [f"{r['strategy']} was skipped: {r['skipped']}" for r in rows if "skipped" in r]
    return findings + skipped
