"""The course's temporary files: one folder per run, removed when the block that made it ends.

Introduced in 00_start_here.ipynb. Everything the course writes to disk for a moment (a
demo script, a trace, a Redis data folder, dask's scratch space) goes in
``scratch("what-for")``: a folder ``helpers-<pid>/<what-for>-XXXX`` under the system temp
folder. The block removes its folder when it ends, by error or interrupt too; the run's
``helpers-<pid>`` folder goes with the last block and, as a last resort, at interpreter
exit. Trap: a Jupyter kernel is killed, not exited, when nbval or a restart stops it, so
nothing may count on the exit: every block cleans up before the cell returns.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

PREFIX = "helpers-"
_registered: int | None = None  # the pid that registered its exit clean-up


def run_folder() -> Path:
    """This process's folder for the course's temporary files (made if missing)."""
    global _registered
    folder = Path(tempfile.gettempdir()) / f"{PREFIX}{os.getpid()}"
    folder.mkdir(exist_ok=True)
    if _registered != os.getpid():  # once per process, on first use (not at import)
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _registered = os.getpid()
    return folder


@contextlib.contextmanager
def scratch(purpose: str) -> Iterator[Path]:
    """A fresh temporary folder for purpose (letters, digits and dashes: "redis-data"),
    removed with everything in it when the block ends."""
    if not purpose or not all(c.isalnum() or c == "-" for c in purpose):
        raise ValueError(f"purpose must be letters, digits and dashes, got {purpose!r}")
    parent = run_folder()
    folder = Path(tempfile.mkdtemp(prefix=f"{purpose}-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):
            parent.rmdir()  # only when no other block still uses it
