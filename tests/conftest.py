"""Shared fixtures: every test must leave no child process behind."""

from __future__ import annotations

import signal
import time

import psutil
import pytest

from helpers.processes import is_multiprocessing_helper

# A shell runs a background job (`make test &` in a script, nohup) with SIGINT ignored, and
# Python then never raises KeyboardInterrupt; the interrupt tests (the notebook's stop button,
# which a kernel always honours) would fail for how the suite was started. Put Python's own
# handler back; the scripts those tests start inherit the default again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True) if _counts(p)}


def _counts(proc: psutil.Process) -> bool:
    """multiprocessing keeps a resource tracker and a forkserver on purpose; they are not leaks."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE and not is_multiprocessing_helper(proc)
    except psutil.Error:
        return False


@pytest.fixture(autouse=True)
def no_leftover_processes():
    before = _children()
    yield
    deadline = time.monotonic() + 5
    while (left := _children() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"the test left child processes running: {sorted(left)}"
