"""Lesson 05, section 1: the sharing calls written by hand, and a table of what each run did.

Introduced in 05_sharing_memory.ipynb. The notebook's cells create a RawArray, a
shared_memory segment, Manager proxies and a Redis server themselves, pass them to pool
workers (helpers.workloads.sharing.square_into_*) under helpers.measure(), and hand the
measurement here: by_hand_row() reads the workers' task events (how long they spent writing)
and checks the squares; by_hand_table() lays the rows side by side.
"""

from __future__ import annotations

import numpy as np

from ...probes import Measurement
from ...results import Result
from ...workloads import sharing as work

RATE = "item writes/s (per worker)"  # the column by_hand_table compares


def squares_right(values, n: int) -> bool:
    """Whether values (array, list, or Redis bytes) are i * i for i in range(n)."""
    try:
        got = np.asarray([int(v) for v in values], dtype=np.int64)
    except (TypeError, ValueError):
        return False
    return got.shape == (n,) and bool(np.array_equal(got, np.arange(n, dtype=np.int64) ** 2))


def by_hand_row(way: str, m: Measurement, values, n: int) -> dict:
    """One row: who wrote, how fast (item writes per second of the workers' task time), correct?

    The rate leaves out the pool's start-up (seconds under spawn), which the cell's wall
    time includes. Lesson 05, section 1.
    """
    tasks = [t for t in m.tasks if t.task.startswith(work.SQUARES_INTO)]
    busy = sum(t.duration for t in tasks)
    return {
        "way": way,
        "items": n,
        "worker processes": len({t.pid for t in tasks}),
        RATE: n / busy if busy else None,
        "cell wall time (s)": m.wall,
        "squares right": "yes" if squares_right(values, n) else "NO",
    }


def by_hand_table(rows: list[dict]) -> Result:
    """The hand-written runs side by side, with one finding: fastest against slowest writes."""
    timed = sorted((r for r in rows if r[RATE]), key=lambda r: r[RATE])
    findings = []
    if len(timed) > 1:
        slow, fast = timed[0], timed[-1]
        times = fast[RATE] / slow[RATE]
        findings.append(
            f"{fast['way']} wrote {times:,.0f}x as many items per second as {slow['way']}: a "
            "memory write against a round trip to another process."
        )
    wrong = [r["way"] for r in rows if r["squares right"] != "yes"]
    findings.append(f"Wrong squares: {', '.join(wrong)}." if wrong else "Every way got the squares right.")
    return Result(title="The same squares, shared four ways, by hand", params={}, rows=rows,
                  findings=findings)
