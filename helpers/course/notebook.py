"""The course's IPython extension: ``%load_ext helpers.course.notebook`` in each lesson's first cell.

Introduced in 00_start_here.ipynb. It adds the ``%%solution`` cell magic
(helpers.course.solutions), and a clean-up after every cell: objects the cell dropped are
collected now (a dropped spawn-pool's semaphores are unlinked when it is collected), and a
fork server the cell started is stopped with its pymp-* folder. Why: nbval, and a teacher's
"Restart kernel", kill the kernel with its process group, so nothing the kernel still holds
at that moment is ever cleaned up (issue 16).
"""

from __future__ import annotations

import gc

from ..processes import release_fork_server
from .solutions import run_solution


def after_cell(result=None) -> None:
    """Release what the cell that just ran no longer uses (IPython's post_run_cell event)."""
    gc.collect()
    release_fork_server()


def load_ipython_extension(ipython) -> None:
    """Register %%solution and the after-cell clean-up (IPython calls this on %load_ext)."""

    def solution(line: str, cell: str) -> None:
        run_solution(ipython.transform_cell(cell), ipython.user_ns)

    ipython.register_magic_function(solution, magic_kind="cell", magic_name="solution")
    ipython.events.register("post_run_cell", after_cell)


def unload_ipython_extension(ipython) -> None:
    """Stop the after-cell clean-up (%unload_ext)."""
    ipython.events.unregister("post_run_cell", after_cell)
