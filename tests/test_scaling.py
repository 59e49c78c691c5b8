"""Lesson 06: asyncio against threads, a local dask cluster against a Pool, the decision guide,
and the reference-results loader."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time

import pytest

from helpers import measure
from helpers.course import guide as summary
from helpers.course import reference
from helpers.course.check import at_least, at_most, machine_record, report_only
from helpers.course.registry import check_sections, experiments, resolve
from helpers.lessons import scaling
from helpers.lessons.scaling import cluster as scaling_dask
from helpers.machine import usable_cores
from helpers.servers.http import slow_server
from helpers.workloads import aio

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
    _write(tmp_path, "one-core.json", [at_least("pool", effect, 1.0, 1.5, cores=2)],
           usable_cores=1)
    _write(tmp_path, "two-cores-failed.json", [at_least("pool", effect, 1.2, 1.5)],
           usable_cores=2, start_method="spawn")
    _write(tmp_path, "two-cores.json", [at_least("pool", effect, 1.95, 1.5)], usable_cores=2)
    _write(tmp_path, "eight-cores.json", [at_least("pool", effect, 1.97, 1.5)], usable_cores=8)
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


def test_aio_fetch_answers_and_records_one_event_per_request():
    with slow_server(0.05) as server, measure(interval=0.05) as m:
        answers = scaling.run_coroutine(lambda: aio.fetch_all(server.url, 6, limit=3))
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
    assert r.medians(scaling.Variant("threads", 4))["threads"] == 4
    assert r.medians(scaling.Variant("asyncio", 4))["threads"] == 1
    assert r.medians(scaling.Variant("asyncio", 12))["threads"] == 1
    # the waits overlap: 3 rounds of 0.1 s, far from 12 requests one after another
    assert r.medians(scaling.Variant("asyncio", 4))["wall"] < 0.8
    assert len(r.findings) == 4
    assert len(r.plot().axes) == 4


def test_blocking_call_in_a_coroutine_serialises_the_requests():
    r = scaling.blocking_pitfall(requests=4, delay=0.1)
    good = r.medians(scaling.Variant("asyncio", 4))["wall"]
    bad = r.medians(scaling.Variant("blocking", 4))["wall"]
    assert bad >= 4 * 0.1 - 0.01  # one request after another
    assert good < bad / 2


@pytest.mark.parametrize(
    "kwargs", [{"workers": 0}, {"requests": -1}, {"delay": -1.0}, {"repeats": 1.5}]
)
def test_asyncio_vs_threads_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        scaling.asyncio_vs_threads(**kwargs)


def test_fetch_limited_check_tells_right_from_sequential(capsys):
    async def sequential(url, requests, limit):
        return [await aio.fetch(url) for _ in range(requests)]

    async def limited(url, requests, limit):
        gate = asyncio.Semaphore(limit)

        async def one():
            async with gate:
                return await aio.fetch(url)

        return await asyncio.gather(*(one() for _ in range(requests)))

    async def unlimited(url, requests, limit):
        return await aio.fetch_all(url, requests)

    assert scaling.check_fetch_limited(limited, requests=6, limit=2) is True
    assert scaling.check_fetch_limited(sequential, requests=6, limit=2) is False
    assert scaling.check_fetch_limited(unlimited, requests=6, limit=2) is False
    assert scaling.check_fetch_limited(lambda u, r, n: None, requests=6, limit=2) is False
    out = capsys.readouterr().out
    assert "over the limit" in out and "did not overlap" in out and "async def" in out


# -- dask -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_result():
    return scaling_dask.cluster_vs_pool(
        tasks=4 * max(2, usable_cores()), task_seconds=0.1, tiny_tasks=60, repeats=3,
        show_link=False,
    )


def test_cluster_runs_every_task_and_leaves_nothing(cluster_result):
    r = cluster_result
    assert r.left_behind is not None and not r.left_behind, str(r.left_behind)
    assert not (scaling_dask.leftovers() - scaling_dask.Leftovers([], []))
    assert len(r.batches) == 6 and {b.side for b in r.batches} == {"dask", "pool"}
    spins = [e for e in r.measurement.tasks if e.task == "spin"]
    assert len(spins) == 6 * r.tasks  # every task ran, on both sides, and was recorded
    assert r.scheduler_address.startswith("tcp://127.0.0.1:")
    assert r.dashboard_link.startswith("http://127.0.0.1:")
    assert r.second_client_answer == 144
    assert len(r.plot()) == 2


def test_cluster_costs_more_per_task_than_a_pool(cluster_result):
    r = cluster_result
    # a task through the scheduler over TCP against one through a pipe; typically 10-30x
    assert r.overhead("dask Client.map") > 2 * r.overhead("Pool.map, chunksize=1")
    assert r.startup["dask"] > r.startup["pool"]
    assert r.break_even("dask Client.map") == pytest.approx(10 * r.overhead("dask Client.map"))


@pytest.mark.skipif(usable_cores() < 2, reason="a cluster computes in parallel only with 2+ cores")
def test_cluster_computes_as_fast_as_a_pool_on_one_machine(cluster_result):
    # alternating batches on the same cores: for 0.1 s tasks the scheduler's cost is small
    # the fastest batch of each side: noise (a slower CPU moment, another program) only adds time
    best = {side: min(b.wall for b in cluster_result.batches if b.side == side) for side in ("dask", "pool")}
    assert best["dask"] <= 1.3 * best["pool"], cluster_result.rows


def test_local_cluster_listens_on_loopback_only_and_stops_on_interrupt():
    before = scaling_dask.leftovers()
    with pytest.raises(KeyboardInterrupt), scaling_dask.local_cluster(1) as (_, client):
        during = scaling_dask.leftovers() - before
        assert client.submit(abs, -3, pure=False).result(timeout=30) == 3
        raise KeyboardInterrupt  # the notebook's stop button, mid-experiment
    assert during.listening, "the cluster should listen while it runs"
    assert all("127.0.0.1:" in line for line in during.listening), during.listening
    assert not (scaling_dask.leftovers() - before)


@pytest.mark.parametrize(
    "kwargs",
    [{"workers": 0}, {"tasks": 0}, {"task_seconds": 0}, {"tiny_tasks": -5}, {"hold": -1}],
)
def test_cluster_vs_pool_rejects_bad_input(kwargs):
    with pytest.raises(ValueError):
        scaling_dask.cluster_vs_pool(**kwargs)


# -- the decision guide ---------------------------------------------------------------------


def test_guide_puts_given_effects_beside_references(tmp_path, monkeypatch):
    monkeypatch.setenv(reference.FOLDER_VARIABLE, str(tmp_path))
    key = summary.KEY_FIGURES[0]
    _write(tmp_path, "ref.json", [at_least(key.section, key.effect, 12.0, 8.0)], usable_cores=4)
    here = [at_least(key.section, key.effect, 9.5, 8.0)]
    g = summary.decision_guide(sections=[], effects=here)
    assert g.seconds == {}  # nothing ran
    row = g.guide[0]
    assert row.key == key
    assert row.here.measured == 9.5 and row.status == "showed it"
    assert [f.measured for f in row.references] == [12.0]
    assert g.rows[0]["reference"].startswith("12x")
    assert all(r.status == "not measured here" for r in g.guide[1:])
    assert len(g.plot().axes) >= len(summary.KEY_FIGURES)


def test_guide_says_why_an_effect_cannot_show():
    key = summary.KEY_FIGURES[0]
    cannot = at_least(key.section, key.effect, 1.0, 8.0, cores=10_000)
    g = summary.decision_guide(sections=[], effects=[cannot])
    assert g.guide[0].status == "cannot show it"
    assert any("cannot show" in f and "needs 10000 usable cores" in f for f in g.findings)


def test_guide_rejects_unknown_sections():
    with pytest.raises(ValueError, match="unknown section"):
        summary.decision_guide(sections=["no-such-lesson"])


def test_threshold_is_read_from_the_expectation():
    assert summary._threshold(at_least("l", "e", 1.0, 8.0, cores=2).expected) == 8.0
    assert summary._threshold(at_most("l", "e", 1.0, 1.3).expected) == 1.3
    assert summary._threshold(report_only("l", "e", 1.0).expected) is None


def test_key_figures_name_effects_their_sections_report():
    """A renamed effect would silently drop out of the guide: its name must be in the lessons."""
    from pathlib import Path

    folder = Path(summary.__file__).parent
    sources = "".join(
        path.read_text() for path in folder.glob("*.py") if path.name != "summary.py"
    )
    for key in summary.KEY_FIGURES:
        if key.section in check_sections():  # a lesson not on this checkout yet is skipped
            assert key.effect in sources, f"no lesson reports {key.effect!r}"
        if key.measure is not None:
            assert callable(resolve(key.measure))


def test_choices_check(capsys):
    assert summary.check_choices({}) is False
    right = {w: sorted(fits)[0] for w, (fits, _) in summary.WORKLOADS.items()}
    assert summary.check_choices(right) is True
    wrong = dict(right, **{next(iter(right)): "processes"})
    assert summary.check_choices(wrong) is False
    assert summary.check_choices({next(iter(right)): "a typo"}) is False
    assert "not one of" in capsys.readouterr().out


def test_registered():
    assert check_sections()["scaling"] == "helpers.lessons.scaling.check:check"
    for name in ("scaling-asyncio", "scaling-dask"):
        assert callable(resolve(experiments()[name]))
