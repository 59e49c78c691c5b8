"""Recognising the long-lived processes multiprocessing keeps for itself.

The resource tracker and a forkserver outlive a pool on purpose; clean-up leaves them alone
and charts label them "helper". A forkserver's workers are forked from it and so share its
command line: only the server itself (whose parent is not a forkserver) is a helper.
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil

_TRACKER = "from multiprocessing.resource_tracker import main"
_FORKSERVER = "from multiprocessing.forkserver import main"


def _cmdline(proc: psutil.Process | None) -> str:
    try:
        return "" if proc is None else " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def is_multiprocessing_helper(proc: psutil.Process) -> bool:
    """True for a resource tracker or a forkserver process itself (not its workers)."""
    cmdline = _cmdline(proc)
    if _TRACKER in cmdline:
        return True
    if _FORKSERVER not in cmdline:
        return False
    try:
        parent = proc.parent()
    except psutil.Error:
        parent = None
    return _FORKSERVER not in _cmdline(parent)


def helpers_env() -> dict[str, str]:
    """This process's environment, plus the path a child Python needs to import helpers.

    For the course's own subprocesses (sampler, servers, demo scripts): they must import
    helpers even when a notebook runs from another folder without the package installed.
    """
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return env
