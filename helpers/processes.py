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


def cmdline(proc: psutil.Process, of_parent: bool = False) -> str:
    """proc's (or its parent's) command line; "" when it has ended, has no parent, or is hidden."""
    try:
        proc = proc.parent() if of_parent else proc
        return "" if proc is None else " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def is_multiprocessing_helper(proc: psutil.Process) -> bool:
    """True for a resource tracker or a forkserver process itself (not its workers)."""
    command = cmdline(proc)
    if _TRACKER in command:
        return True
    return _FORKSERVER in command and _FORKSERVER not in cmdline(proc, of_parent=True)


def helpers_env() -> dict[str, str]:
    """This process's environment, plus the path a child Python needs to import helpers.

    For the course's own subprocesses (sampler, servers, demo scripts): they must import
    helpers even when a notebook runs from another folder without the package installed.
    """
    env = dict(os.environ)
    package_parent = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent, env.get("PYTHONPATH")]))
    return env


def release_fork_server() -> bool:
    """Stop this process's fork server, if it runs, and remove multiprocessing's pymp-* folder.

    Returns True if there was one. Why: multiprocessing removes the server's pymp-* socket
    folder only at a normal exit, and a Jupyter kernel stopped by nbval or "Restart" is killed,
    so the folder would stay forever. A later pool starts a new server (about 50 ms).
    Trap: the standard library has no public call for this; CPython's own tests use the
    private ``forkserver._forkserver._stop()``, and that use is kept here, in one place.
    Taught in 01_process_pool.ipynb (start methods) and run after every lesson cell.
    """
    from multiprocessing import forkserver, util

    server = getattr(forkserver, "_forkserver", None)
    if server is None or getattr(server, "_forkserver_pid", None) is None:
        return False
    server._stop()  # closes its socket, waits for it, unlinks the socket file
    # multiprocessing's own finaliser for its temp folder removes the folder and forgets it,
    # so that the next fork server makes a new one; calling it now also unregisters it.
    for finalizer in list(getattr(util, "_finalizer_registry", {}).values()):
        if getattr(finalizer, "_callback", None) is getattr(util, "_remove_temp_dir", object()):
            finalizer()
    return True
