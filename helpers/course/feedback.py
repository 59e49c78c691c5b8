"""Feedback for exercises: a check cell calls these and prints what is right or what to try.

Introduced in 00_start_here.ipynb. A check never raises on a wrong or unfinished answer,
because CI runs every notebook as shipped, exercises unsolved.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from . import progress


def feedback(ok: bool, right: str, wrong: str, *, exercise: str | None = None) -> bool:
    """Print right (with a tick) when ok, else wrong (with a hint); return ok.

    exercise: the name the lesson's summary lists it under; the outcome is kept there.
    """
    said = ("✅ " + right) if ok else ("❌ " + wrong)
    print(said)
    if exercise:
        progress.record(exercise, ok, said)
    return ok


def unanswered(what_to_do: str, *, exercise: str | None = None) -> None:
    """Print what to do for an exercise not answered yet; raise nothing, record it as such."""
    said = "➡️  " + what_to_do
    print(said)
    if exercise:
        progress.record(exercise, None, said)


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Stop the learner's code with TimeoutError after `seconds`, so a check never hangs.

    Trap: it uses SIGALRM, so it limits only the main thread on Unix (a notebook's cells run
    there); elsewhere (Windows, a check run from a thread) there is no limit. Used by the
    exercise checks of lessons 04 and 05.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def stop(signum, frame):
        raise TimeoutError(f"your code ran longer than {seconds:.0f} s, so the check stopped it")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
