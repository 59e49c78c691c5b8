"""Before the first notebook runs, record what exists, so the run can prove it leaves nothing.

nbval executes each notebook in a kernel and kills the kernel when the notebook ends, so a
lesson that still holds a semaphore, a shared-memory segment, a temporary folder or a
process at that moment leaks it. This records /dev/shm, the course's entries in the temp
folder and the processes; tests/test_leftovers.py, run after the notebooks by
``make notebooks``, compares (issue 16).
"""

from __future__ import annotations

from helpers.course.leftovers import BEFORE_NOTEBOOKS, Snapshot


def pytest_sessionstart(session):
    session.config.stash[BEFORE_NOTEBOOKS] = Snapshot.take()
