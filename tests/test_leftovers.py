"""Nothing left behind (issue 16): the snapshot's own tests, and the verdict on the notebook run.

``make notebooks`` runs ``pytest notebooks/ tests/test_leftovers.py``: notebooks/conftest.py
records what exists before the first notebook, nbval runs and kills each kernel, then
test_the_notebooks_left_nothing_behind compares.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from multiprocessing import shared_memory
from pathlib import Path

import pytest

from helpers.course.leftovers import BEFORE_NOTEBOOKS, Snapshot, left_since


def test_the_notebooks_left_nothing_behind(request):
    before = request.config.stash.get(BEFORE_NOTEBOOKS, None)
    if before is None:
        pytest.skip("runs after the notebooks, as `make notebooks` does")
    found = left_since(before)
    assert not found, "the notebooks left these behind:\n" + "\n".join(found)


def test_a_shared_memory_segment_left_is_named():
    before = Snapshot.take()
    segment = shared_memory.SharedMemory(create=True, size=4096)
    try:
        found = Snapshot.take().left_since(before)
        assert any(segment.name.lstrip("/") in item for item in found), found
    finally:
        segment.close()
        segment.unlink()
    assert not [i for i in Snapshot.take().left_since(before) if segment.name.lstrip("/") in i]


def test_a_course_temp_folder_left_is_named():
    before = Snapshot.take()
    folder = Path(tempfile.mkdtemp(prefix="helpers-test-"))
    try:
        assert str(folder) in Snapshot.take().left_since(before)
    finally:
        folder.rmdir()


def test_an_orphan_process_is_named_until_it_exits():
    before = Snapshot.take()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        found = Snapshot.take().left_since(before)
        assert any(f"process {child.pid}:" in item for item in found), found
    finally:
        child.kill()
        child.wait()
    assert not [i for i in left_since(before, settle=2) if f"process {child.pid}:" in i]


def test_a_released_fork_server_leaves_no_folder_and_the_next_pool_still_starts():
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        pytest.skip("this platform has no forkserver start method")
    script = (
        "import os, multiprocessing as mp\n"
        "from helpers.processes import release_fork_server\n"
        "if __name__ == '__main__':\n"
        "    ctx = mp.get_context('forkserver')\n"
        "    for _ in range(2):\n"
        "        with ctx.Pool(1) as pool:\n"
        "            assert pool.map(abs, [-3]) == [3]\n"
        "        pool.join()\n"
        "        folder = mp.util.get_temp_dir()  # the fork server's socket lives here\n"
        "        assert release_fork_server()\n"
        "        assert not os.path.exists(folder), folder\n"
        "    assert not release_fork_server()  # nothing left to release\n"
        "    print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr
    assert "Traceback" not in run.stderr, run.stderr  # no finaliser failing at exit
