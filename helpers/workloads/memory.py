"""Work on data that a parent process left in a module global before starting workers.

Introduced in 00_start_here.ipynb (the shared buffer) and used in 04_memory_duplication.ipynb.
Under fork, workers see the parent's global through copy-on-write pages; under spawn and
forkserver the global is empty in workers unless they rebuild it.
"""

from __future__ import annotations

import time

from ..events import recorded

inherited = None  # set by the parent before it forks workers


@recorded
def sum_inherited(hold: float = 0.0) -> float:
    """Read the whole inherited numpy buffer (its sum), then stay alive `hold` seconds."""
    if inherited is None:
        raise RuntimeError(
            "no inherited data: the parent did not set it, or workers were not forked"
        )
    total = float(inherited.sum())
    time.sleep(hold)
    return total
