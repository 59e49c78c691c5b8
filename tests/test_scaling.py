"""Lesson 06: asyncio against threads, a local dask cluster against a Pool, the exercises' checks,
the decision guide, and the reference-results loader."""

from __future__ import annotations

import asyncio
import importlib
import json
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from helpers import measure
from helpers.course import guide, progress, reference
from helpers.course.check import Rule, machine_record, report_only
from helpers.course.registry import LESSONS, check_sections, experiments, resolve
from helpers.lessons import scaling
from helpers.lessons.scaling import waits
from helpers.machine import usable_cores
from helpers.processes import helpers_env
from helpers.servers.http import slow_server
from helpers.workloads import aio, cpu, io

# distributed keeps one idle thread pool per process ("Dask-Offload") once it has been used;
# it is reused by every later cluster, so it is not a leak of one experiment.
_KEPT_THREADS = ("Dask-Offload",)


def _threads() -> set[str]:
    return {
        f"{t.name}:{t.ident}"
        for t in threading.enumerate()
        if not t.name.startswith(_KEPT_THREADS)
    }


# -- reference results ---------------------------------------------------------------------


def _write(folder, name, effects, **machine_changes):
    document = machine_record(effects)  # what `python -m helpers check --json` prints
    document["machine"].update(machine_changes)
    (folder / name).write_text(json.dumps(document))


def test_reference_missing_folder_gives_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv(reference.FOLDER_VARIABLE, str(tmp_path / "absent"))
    assert reference.load_all() == []
    assert reference.best("threads", "anything") is None
    assert "No reference results" in str(reference.show("threads"))
    assert "No reference results" in reference.show("threads")._repr_html_()


def test_reference_loads_labels_and_picks_the_best_match(tmp_path, monkeypatch):
    monkeypatch.setenv(reference.FOLDER_VARIABLE, str(tmp_path))
    effect = "2 processes vs 1, CPU-bound"
    _write(tmp_path, "one-core.json", [Rule("pool", effect, ">=", 1.5, cores=2).judge(1.0)],
           usable_cores=1)
    _write(tmp_path, "two-cores-failed.json", [Rule("pool", effect, ">=", 1.5).judge(1.2)],
           usable_cores=2, start_method="spawn")
    _write(tmp_path, "two-cores.json", [Rule("pool", effect, ">=", 1.5).judge(1.95)], usable_cores=2)
    _write(tmp_path, "eight-cores.json", [Rule("pool", effect, ">=", 1.5).judge(1.97)], usable_cores=8)
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"effects": []}))

    loaded = reference.load_all()
    assert [r.path.name for r in loaded] == [
        "eight-cores.json", "one-core.json", "two-cores-failed.json", "two-cores.json"
    ]
    assert set(reference.skipped_files()) == {"broken.json", "other.json"}
    assert "2 usable cores" in loaded[-1].label and "CPython" in loaded[-1].label

    chosen = reference.best("pool", effect)
    assert chosen is not None and chosen.source == "two-cores.json"  # held, 2+ cores, fewest
    assert chosen.measured == pytest.approx(1.95)
    assert "two-cores.json" in str(chosen) and "2 usable cores" in str(chosen)
    assert len(reference.figures("pool", "CPU-bound")) == 4  # a substring matches too
    assert reference.figures("POOL", effect)  # lessons match without case
    assert reference.best("pool", "no such effect") is None
    table = reference.show("pool")
    assert len(table.rows()) == 4 and "<table>" in table._repr_html_()


def test_reference_load_rejects_other_json(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="check --json"):
        reference.load(path)


def test_reference_suggested_name_names_the_machine():
    name = reference.suggested_name(
        {"os": "Linux 6.1 x86_64", "usable_cores": 2, "cpu": "Intel(R) Xeon(R) CPU @ 2.20GHz",
         "python": "CPython 3.11.7", "start_method": "fork"}
    )
    assert name == "linux-2cores-intel-xeon-cpu-py3.11-fork.json"
    assert reference.suggested_name().endswith(".json")


def test_shipped_reference_files_are_check_output():
    """Every file in data/reference/ loads as `check --json` output and names its machine."""
    assert reference.skipped_files() == {}
    for ref in reference.load_all():
        assert {"cpu", "usable_cores", "python", "os"} <= set(ref.machine), ref.path.name
        assert ref.effects and ref.verdict.startswith("VERDICT"), ref.path.name


# -- asyncio ---------------------------------------------------------------------------------


async def sequential_blocking(url, requests, limit):
    """A typical wrong answer: the blocking client called inside the coroutines."""

    async def one():
        return io.fetch(url)

    return await asyncio.gather(*(one() for _ in range(requests)))


async def polite(url, requests, limit):
    """Exercise 2's solution: the blocking client in threads, under a semaphore."""
    gate = asyncio.Semaphore(limit)

    async def one():
        async with gate:
            return await asyncio.to_thread(io.fetch, url)

    return await asyncio.gather(*(one() for _ in range(requests)))


def test_aio_fetch_answers_and_records_one_event_per_request():
    with slow_server(0.05) as server, measure(interval=0.05) as m:
        answers = scaling.run_coroutine(lambda: aio.fetch_all(server.url, 6, 3))
    assert answers == [b"ok\n"] * 6
    fetches = [e for e in m.tasks if e.task == "fetch"]
    assert len(fetches) == 6
    assert {e.thread for e in fetches} == {"asyncio-loop"}  # every coroutine, one thread
    assert all(e.duration >= 0.045 for e in fetches)  # the span covers the server's wait


def test_aio_fetch_rejects_a_url_it_cannot_fetch():
    with pytest.raises(ValueError, match="http://"):
        scaling.run_coroutine(lambda: aio.fetch("https://example.org/"))


def test_run_coroutine_times_out_inside_a_running_loop_and_leaves_no_thread():
    before = _threads()

    async def notebook_cell():  # a kernel runs cells inside its own event loop
        return scaling.run_coroutine(lambda: asyncio.sleep(5), timeout=0.2)

    start = time.perf_counter()
    with pytest.raises(TimeoutError):
        asyncio.run(notebook_cell())
    assert time.perf_counter() - start < 3
    assert _threads() == before


def test_run_coroutine_shuts_down_to_thread_workers():
    before = _threads()
    assert scaling.run_coroutine(lambda: asyncio.to_thread(sum, [1, 2])) == 3
    assert _threads() == before


@pytest.mark.skipif(not hasattr(signal, "setitimer"), reason="needs SIGALRM to interrupt")
def test_run_coroutine_stops_its_loop_on_interrupt():
    def stop_button(signum, frame):
        raise KeyboardInterrupt

    before = _threads()
    previous = signal.signal(signal.SIGALRM, stop_button)
    signal.setitimer(signal.ITIMER_REAL, 0.2)
    start = time.perf_counter()
    try:
        with pytest.raises(KeyboardInterrupt):
            scaling.run_coroutine(lambda: asyncio.sleep(5))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.perf_counter() - start < 3
    assert _threads() == before


def test_asyncio_matches_threads_with_one_thread():
    before = _threads()
    r = scaling.asyncio_vs_threads(requests=12, delay=0.1, workers=4, repeats=1)
    assert _threads() == before
    assert len(r.runs) == 4 and len(r.rows) == 4
    for run in r.runs:
        assert len(run.events) == 12  # every request recorded, inside its own run
        assert run.wall >= r.ideal(run.variant) - 0.01  # no run beats the server's delay
    threads4, asyncio4, _, asyncio12 = r.variants
    assert threads4 == scaling.Variant(waits.fetch_with_threads, 4)
    assert r.medians(threads4)["threads"] == 4
    assert r.medians(asyncio4)["threads"] == 1
    assert r.medians(asyncio12)["threads"] == 1
    # the waits overlap: 3 rounds of 0.1 s, far from 12 requests one after another
    assert r.medians(asyncio4)["wall"] < 0.8
    assert r.time_ratio() == pytest.approx(r.medians(asyncio4)["wall"] / r.medians(threads4)["wall"])
    assert len(r.findings) == 4
    assert len(r.plot().axes) == 4


def test_asyncio_vs_threads_times_the_functions_it_is_given():
    r = scaling.asyncio_vs_threads(requests=6, delay=0.05, workers=3, repeats=1, all_at_once=False,
                                   threads=waits.fetch_with_threads, coroutines=polite)
    assert [v.label for v in r.variants] == ["fetch_with_threads, 3 at a time", "polite, 3 at a time"]
    assert r.medians(r.variants[1])["threads"] >= 2  # polite's requests ran in to_thread's threads


def test_blocking_call_in_a_coroutine_serialises_the_requests():
    r = scaling.blocking_pitfall(aio.fetch_all, sequential_blocking, requests=4, delay=0.1)
    good, bad = (r.medians(v)["wall"] for v in r.variants)
    assert bad >= 4 * 0.1 - 0.01  # one request after another
    assert good < bad / 2


@pytest.mark.parametrize(
    "kwargs", [{"workers": 0}, {"requests": -1}, {"delay": -1.0}, {"repeats": 1.5}]
)
def test_asyncio_vs_threads_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        scaling.asyncio_vs_threads(**kwargs)


# -- exercise 2: a blocking library in asyncio ---------------------------------------------


def test_blocking_library_check_accepts_the_solution(capsys):
    assert scaling.feedback_blocking_library(polite, requests=6, limit=2) is True
    assert "no thread left" in capsys.readouterr().out
    assert progress.attempts()["blocking library"].solved is True


def test_blocking_library_check_rejects_typical_wrong_answers(capsys):
    async def unlimited(url, requests, limit):
        return await asyncio.gather(*(asyncio.to_thread(io.fetch, url) for _ in range(requests)))

    async def async_client(url, requests, limit):
        return await aio.fetch_all(url, requests, limit)

    for wrong in (sequential_blocking, unlimited, async_client, lambda u, r, n: None):
        assert scaling.feedback_blocking_library(wrong, requests=6, limit=2) is False
    out = capsys.readouterr().out
    assert "one after another" in out and "asyncio.to_thread" in out
    assert "over the limit" in out and "event loop's own thread" in out and "async def" in out
    assert progress.attempts()["blocking library"].solved is False


def test_blocking_library_check_unanswered_raises_nothing(capsys):
    async def fetch_politely(url, requests, limit):
        ...  # as shipped

    assert scaling.feedback_blocking_library(fetch_politely, requests=4, limit=2) is False
    assert "Write fetch_politely" in capsys.readouterr().out
    assert progress.attempts()["blocking library"].solved is None


# -- exercise 1: choose a model --------------------------------------------------------------


def test_choices_check(capsys):
    assert scaling.feedback_choices({}) is False
    assert progress.attempts()["choose a model"].solved is None  # unanswered
    right = {w: sorted(fits)[0] for w, (fits, _) in scaling.WORKLOADS.items()}
    assert scaling.feedback_choices(right) is True
    wrong = dict(right, **{next(iter(right)): "processes"})
    assert scaling.feedback_choices(wrong) is False
    assert scaling.feedback_choices({next(iter(right)): "a typo"}) is False
    assert "not one of" in capsys.readouterr().out


# -- dask -----------------------------------------------------------------------------------


def _scratch_entries() -> set[str]:
    """The course's scratch folders and dask's default one, with its time of change."""
    temp = Path(tempfile.gettempdir())
    found = {p.name for p in temp.glob(f"{scaling.cluster.SCRATCH_PREFIX}*")}
    default = temp / "dask-scratch-space"
    if default.exists():
        found.add(f"dask-scratch-space@{default.stat().st_mtime_ns}")
    return found


@pytest.fixture(scope="module")
def cluster_result():
    before = _scratch_entries()
    result = scaling.cluster_vs_pool(
        tasks=4 * max(2, usable_cores()), task_seconds=0.1, tiny_tasks=60, repeats=3,
        show_link=False,
    )
    result.scratch_left = _scratch_entries() - before
    return result


def test_cluster_runs_every_task_and_leaves_nothing(cluster_result):
    r = cluster_result
    assert r.left_behind is not None and not r.left_behind, str(r.left_behind)
    assert not r.scratch_left, r.scratch_left  # no folder made, dask's default one untouched
    assert not (scaling.leftovers() - scaling.Leftovers([], []))
    assert len(r.batches) == 6 and {b.side for b in r.batches} == {"dask", "pool"}
    spins = [e for e in r.measurement.tasks if e.task == "spin"]
    assert len(spins) == 6 * r.tasks  # every task ran, on both sides, and was recorded
    assert r.scheduler_address.startswith("tcp://127.0.0.1:")
    assert r.dashboard_link.startswith("http://127.0.0.1:")
    assert r.second_client_answer == 144
    assert len(r.plot()) == 2


def test_cluster_costs_more_per_task_than_a_pool(cluster_result):
    r = cluster_result
    # a task through the scheduler over TCP against one through a pipe; typically 10-40x
    assert r.overhead("dask Client.map") > 2 * r.overhead("Pool.map, chunksize=1")
    assert r.startup["dask"] > r.startup["pool"]
    assert r.break_even("dask Client.map") == pytest.approx(10 * r.overhead("dask Client.map"))


def test_check_effects_are_the_rules(cluster_result):
    a = scaling.asyncio_vs_threads(requests=4, delay=0.05, workers=2, repeats=1, all_at_once=False)
    found = scaling.effects(a, cluster_result)
    names = {e.effect for e in found}
    for rule in (scaling.ASYNCIO_VS_THREADS, scaling.DASK_SPEEDUP, scaling.DASK_OVERHEAD_RATIO):
        assert rule.effect in names
    assert all(e.lesson == "scaling" for e in found)


@pytest.mark.skipif(usable_cores() < 2, reason="a cluster computes in parallel only with 2+ cores")
def test_cluster_computes_as_fast_as_a_pool_on_one_machine(cluster_result):
    # alternating batches on the same cores: for 0.1 s tasks the scheduler's cost is small
    # the fastest batch of each side: noise (a slower CPU moment, another program) only adds time
    best = {side: min(b.wall for b in cluster_result.batches if b.side == side) for side in ("dask", "pool")}
    assert best["dask"] <= 1.3 * best["pool"], cluster_result.rows


def test_local_cluster_listens_on_loopback_only_and_stops_on_interrupt():
    before = scaling.leftovers()
    with pytest.raises(KeyboardInterrupt), scaling.cluster.local_cluster(1) as (_, client):
        during = scaling.leftovers() - before
        assert client.submit(abs, -3, pure=False).result(timeout=30) == 3
        raise KeyboardInterrupt  # the notebook's stop button, mid-experiment
    assert during.listening, "the cluster should listen while it runs"
    assert all("127.0.0.1:" in line for line in during.listening), during.listening
    assert during.folders, "its scratch folder exists while it runs"
    assert not (scaling.leftovers() - before)


def test_scratch_space_is_dask_temporary_directory_and_removed():
    import dask

    with scaling.scratch_space() as folder:
        assert Path(folder).is_dir()
        assert dask.config.get("temporary-directory") == folder
    assert not Path(folder).exists()
    assert dask.config.get("temporary-directory") != folder


def test_scratch_space_is_removed_at_exit_when_the_block_never_ends():
    """A kernel shut down in the middle of a cell: the interpreter's exit removes the folder."""
    script = (
        "from helpers.lessons.scaling import scratch_space\n"
        "block = scratch_space()\n"
        "print(block.__enter__(), flush=True)\n"  # entered, never left
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, env=helpers_env(), check=True).stdout.strip()
    assert out.startswith(str(Path(tempfile.gettempdir()) / scaling.cluster.SCRATCH_PREFIX))
    assert not Path(out).exists()


@pytest.mark.parametrize(
    "kwargs",
    [{"workers": 0}, {"tasks": 0}, {"task_seconds": 0}, {"tiny_tasks": -5}, {"repeats": 0}],
)
def test_cluster_vs_pool_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        scaling.cluster_vs_pool(**kwargs)


# -- exercise 3: Pool.map to Client.map ------------------------------------------------------


def squares_on_a_cluster(numbers):
    """Exercise 3's solution."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=2, threads_per_worker=1, **scaling.ON_LOOPBACK) as cluster,
        Client(cluster) as client,
    ):
        return client.gather(client.map(cpu.square, numbers))


def test_client_map_check_accepts_the_solution(capsys):
    before = _scratch_entries()
    assert scaling.feedback_client_map(squares_on_a_cluster, [1, 2, 3]) is True
    assert "nothing left running" in capsys.readouterr().out
    assert _scratch_entries() == before


def test_client_map_check_rejects_a_pool_and_a_cluster_left_open(capsys):
    def on_a_pool(numbers):  # not ported at all
        from helpers.runner import process_pool

        with process_pool(2) as pool:
            return pool.map(cpu.square, numbers)

    def left_open(numbers):  # right results, but nothing closes the cluster
        from distributed import Client, LocalCluster

        client = Client(LocalCluster(n_workers=1, threads_per_worker=1, **scaling.ON_LOOPBACK))
        return client.gather(client.map(cpu.square, numbers))

    before = scaling.leftovers()
    assert scaling.feedback_client_map(on_a_pool, [1, 2, 3]) is False
    assert scaling.feedback_client_map(left_open, [1, 2, 3]) is False
    out = capsys.readouterr().out
    assert "that is a Pool" in out and "still running" in out
    assert not (scaling.leftovers() - before)  # the check closed what the answer left open
    assert progress.attempts()["Pool.map to Client.map"].solved is False


def test_client_map_check_unanswered_raises_nothing(capsys):
    def squares_on_a_cluster(numbers):
        ...  # as shipped

    assert scaling.feedback_client_map(squares_on_a_cluster) is False
    assert "Write squares_on_a_cluster" in capsys.readouterr().out
    assert progress.attempts()["Pool.map to Client.map"].solved is None


# -- the decision guide ---------------------------------------------------------------------


def _rules_of(section: str) -> list[Rule]:
    """Every Rule constant of a lesson's check.py (including those kept in a dict)."""
    module = importlib.import_module(f"helpers.lessons.{LESSONS[section]}.check")
    found = []
    for value in vars(module).values():
        found += [v for v in (value.values() if isinstance(value, dict) else [value]) if isinstance(v, Rule)]
    return found


def test_guide_names_only_effects_that_a_check_measures():
    """A renamed effect would silently drop out of the guide: each key figure is a Rule of its
    lesson's check.py, and the checks' recorded output (data/reference) reports that name."""
    recorded = {(e["lesson"], e["effect"]) for ref in reference.load_all() for e in ref.effects}
    for key in guide.KEY_FIGURES:
        assert key.section in check_sections(), key.section
        assert key.rule in _rules_of(key.section), f"{key.effect!r} is no Rule of {key.section}"
        if recorded:
            assert (key.section, key.effect) in recorded, f"no check ever reported {key.effect!r}"


def test_guide_puts_given_effects_beside_references(tmp_path, monkeypatch):
    monkeypatch.setenv(reference.FOLDER_VARIABLE, str(tmp_path))
    key = guide.KEY_FIGURES[0]
    _write(tmp_path, "ref.json", [Rule(key.section, key.effect, ">=", 8.0).judge(12.0)], usable_cores=4)
    here = [Rule(key.section, key.effect, ">=", 8.0).judge(9.5)]
    g = guide.decision_guide(sections=[], effects=here)
    assert g.seconds == {}  # nothing ran
    row = g.guide[0]
    assert row.key == key
    assert row.here.measured == 9.5 and row.status == "showed it"
    assert g.showed == 1
    assert [f.measured for f in row.references] == [12.0]
    assert g.rows[0]["reference"].startswith("12x")
    assert all(r.status == "not measured here" for r in g.guide[1:])
    assert len(g.plot().axes) >= len(guide.KEY_FIGURES)


def test_guide_says_why_an_effect_cannot_show():
    key = guide.KEY_FIGURES[0]
    cannot = Rule(key.section, key.effect, ">=", 8.0, cores=10_000).judge(1.0)
    g = guide.decision_guide(sections=[], effects=[cannot])
    assert g.guide[0].status == "cannot show it"
    assert any("cannot show" in f and "needs 10000 usable cores" in f for f in g.findings)


def test_guide_quick_measurement_reports_its_rule():
    found = guide.quick_sharing()
    assert [e.effect for e in found] == [guide.KEY_FIGURES[5].effect]


def test_guide_rejects_unknown_sections():
    with pytest.raises(ValueError, match="unknown section"):
        guide.decision_guide(sections=["no-such-lesson"])


def test_threshold_is_read_from_the_expectation():
    assert guide.threshold_in(Rule("l", "e", ">=", 8.0, cores=2).judge(1.0).expected) == 8.0
    assert guide.threshold_in(Rule("l", "e", "<=", 1.3).judge(1.0).expected) == 1.3
    assert guide.threshold_in(report_only("l", "e", 1.0).expected) is None


def test_registered():
    assert check_sections()["scaling"] == "helpers.lessons.scaling.check:check"
    for name in ("scaling-asyncio", "scaling-dask"):
        assert callable(resolve(experiments()[name]))
