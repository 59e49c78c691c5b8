"""The task lesson 00's pools run: allocate private memory and hold it, so it can be measured.

Introduced in 00_start_here.ipynb (section 4 and exercise 3). It lives in a module, not in a
notebook cell, so that spawn and forkserver workers can import it.
"""

from __future__ import annotations

import time

from ...events import recorded
from ...units import MiB

MAX_HOLD = 30.0  # seconds; longer is a typo, and would keep a notebook cell waiting


def touched(nbytes: int) -> bytearray:
    """nbytes of memory with every 4 KiB page written once, so that it is really in RAM. Lesson 00, section 4 and exercises 2-3."""
    block = bytearray(nbytes)
    block[::4096] = b"x" * len(block[::4096])
    return block


@recorded
def hold_memory(mib: int, hold: float = 1.5) -> int:
    """Runs in each worker. Allocate `mib` MiB, write every page, keep it `hold` seconds.

    Returns the bytes allocated. Trap: memory allocated but never written is not in RAM yet,
    so it would not show in RSS, USS or PSS (hence touched()). Lesson 00, section 4 and exercise 3.
    """
    if not 0 < mib <= 4096 or not 0 <= hold <= MAX_HOLD:
        raise ValueError(f"mib must be 1 to 4096 and hold 0 to {MAX_HOLD:g} s, got {mib!r}, {hold!r}")
    block = touched(int(mib * MiB))
    time.sleep(hold)
    return len(block)
