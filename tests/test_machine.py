"""helpers.machine reads the machine, honours HELPERS_START_METHOD and rejects bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import machine


def test_usable_cores_follows_affinity():
    if not hasattr(os, "sched_getaffinity"):
        pytest.skip("CPU affinity is Linux-only")
    assert 1 <= machine.usable_cores() <= len(os.sched_getaffinity(0))


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux-only")
def test_info_json_under_one_core():
    first_core = min(os.sched_getaffinity(0))
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "info", "--json"],
        capture_output=True,
        text=True,
        check=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {first_core}),
    ).stdout
    info = json.loads(out)
    assert info["usable_cores"] == 1
    for key in (
        "python",
        "usable_cores",
        "memory_limit_bytes",
        "memory_available_bytes",
        "start_method",
        "start_methods",
        "gil_enabled",
        "pss_available",
    ):
        assert key in info


def test_cgroup_quota_caps_cores(monkeypatch):
    monkeypatch.setattr(machine, "cgroup_cpu_quota", lambda: 1.5)
    assert machine.usable_cores() == 1
    monkeypatch.setattr(machine, "cgroup_cpu_quota", lambda: 0.5)
    assert machine.usable_cores() == 1  # a fraction of a core is still one core to run on


def test_cgroup_v2_files(tmp_path, monkeypatch):
    (tmp_path / "cpu.max").write_text("200000 100000\n")
    (tmp_path / "memory.max").write_text("2147483648\n")
    (tmp_path / "memory.current").write_text("1073741824\n")
    monkeypatch.setattr(machine, "_CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(machine, "_own_cgroup_paths", lambda: {"": "/"})
    assert machine.cgroup_cpu_quota() == 2.0
    assert machine.memory_limit_bytes() == 2 * 2**30
    assert machine.memory_available_bytes() <= 2**30


def test_cgroup_v1_files(tmp_path, monkeypatch):
    (tmp_path / "cpu").mkdir()
    (tmp_path / "memory").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    monkeypatch.setattr(machine, "_CGROUP_ROOT", tmp_path)
    monkeypatch.setattr(machine, "_own_cgroup_paths", lambda: {"cpu": "/", "memory": "/"})
    assert machine.cgroup_cpu_quota() is None
    assert machine.memory_limit_bytes() is None
    (tmp_path / "memory" / "memory.limit_in_bytes").write_text("1073741824\n")
    assert machine.memory_limit_bytes() == 2**30


def test_start_method_override(monkeypatch):
    monkeypatch.setenv("HELPERS_START_METHOD", "spawn")
    assert machine.start_method() == "spawn"
    assert machine.mp_context().get_start_method() == "spawn"


@pytest.mark.parametrize("bad", ["bogus", "Fork", "thread"])
def test_unknown_start_method_names_allowed_values(monkeypatch, bad):
    monkeypatch.setenv("HELPERS_START_METHOD", bad)
    with pytest.raises(ValueError, match="allows .*spawn"):
        machine.start_method()


def test_info_command_refuses_unknown_start_method():
    env = dict(os.environ, HELPERS_START_METHOD="bogus")
    run = subprocess.run(
        [sys.executable, "-m", "helpers", "info"], capture_output=True, text=True, env=env
    )
    assert run.returncode == 2
    assert "allows" in run.stderr


@pytest.mark.parametrize("bad", [0, -1, 2.5, "4", True, None])
def test_bad_worker_counts(bad):
    with pytest.raises(ValueError, match="workers"):
        machine.require_workers(bad)


def test_size_past_budget_names_the_budget():
    with pytest.raises(ValueError, match="memory budget of"):
        machine.require_size(machine.memory_budget_bytes() + 2**20)


def test_fingerprint_reads_this_machine():
    fp = machine.fingerprint()
    assert fp.memory_available_bytes > 0
    assert fp.start_method in fp.start_methods
    assert fp.gil_enabled == getattr(sys, "_is_gil_enabled", lambda: True)()
    assert fp.pss_available == sys.platform.startswith("linux")
    assert fp.consequences()
    assert "usable_cores" in fp._repr_html_()


def test_small_machine_switch(monkeypatch):
    monkeypatch.setenv("HELPERS_SMALL", "1")
    assert machine.small_machine()
    monkeypatch.setenv("HELPERS_SMALL", "0")
    assert not machine.small_machine()
