"""Feedback for exercises: a check cell calls these and prints what is right or what to try.

Introduced in 00_start_here.ipynb. A check never raises on a wrong or unfinished answer,
because CI runs every notebook as shipped, exercises unsolved.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator

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


def call_with_timeout(func: Callable, args: tuple, timeout: float) -> tuple[str, object, float]:
    """("returned", value), ("raised", exception) or ("timeout", None) for func(*args), and
    the seconds the call took, run in a daemon thread named "exercise" (lessons 01, 02, 06).

    Trap: a thread cannot be killed, so on timeout it is abandoned (a pool it started is left
    waiting; no_stray_processes() around the call ends the workers).
    """
    outcome: list = []

    def call() -> None:
        start = time.perf_counter()
        try:
            outcome[:] = ["returned", func(*args)]
        except Exception as exc:  # the learner's error is reported, not raised
            outcome[:] = ["raised", exc]
        outcome.append(time.perf_counter() - start)

    runner = threading.Thread(target=call, name="exercise", daemon=True)
    runner.start()
    runner.join(timeout)
    return tuple(outcome) if not runner.is_alive() else ("timeout", None, timeout)


def is_stub(func) -> bool:
    """True for None, or a function whose body does nothing yet (`...`, `pass`, a docstring)."""
    code = getattr(func, "__code__", None)
    return func is None or code is not None and code.co_code == _do_nothing.__code__.co_code


def _do_nothing(*args):
    ...
