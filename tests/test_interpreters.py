"""Lesson 03, subinterpreters: where the API comes from, what crosses, what it costs, the check.

Tests that need interpreters with their own GIL skip on Python 3.11 and 3.12 (saying so);
there the module must still import, say why, and give the check a not-applicable effect.
"""

from __future__ import annotations

import sys
import threading

import pytest

from helpers.course import reference
from helpers.lessons.gil import interpreters as sub
from helpers.machine import usable_cores

have = pytest.mark.skipif(
    sub.interpreters is None, reason=f"no own-GIL interpreters on this Python: {sub.WHY_NOT}"
)
two_cores = pytest.mark.skipif(usable_cores() < 2, reason="needs 2 usable cores")


@pytest.fixture(autouse=True)
def nothing_left_open():
    """Every test ends with no interpreter open and no thread of its own still running."""
    threads = threading.active_count()
    yield
    assert sub.open_interpreters() == 0, "an interpreter was left open"
    assert threading.active_count() <= threads, "a thread was left running"


def test_source_matches_the_python():
    if sys.version_info >= (3, 14):
        assert sub.SOURCE == "concurrent.interpreters"
        assert sub.InterpreterPoolExecutor is not None
    elif sys.version_info >= (3, 13):
        assert sub.SOURCE.startswith("_interpreters")
        assert sub.InterpreterPoolExecutor is None
    else:
        assert sub.interpreters is None
        assert "3.13" in sub.WHY_NOT and "3.14" in sub.WHY_NOT
        with pytest.raises(RuntimeError, match="reference results"):
            sub.compare_models()


def test_check_without_interpreters_says_why(monkeypatch):
    monkeypatch.setattr(sub, "interpreters", None)
    monkeypatch.setattr(sub, "WHY_NOT", "Python 3.11 has none")
    (effect,) = sub.check_interpreters(quick=True)
    assert effect.effect == sub.SPEEDUP.effect and effect.lesson == "interpreters"
    assert effect.holds is None and effect.measured is None
    assert effect.why == "Python 3.11 has none" or effect.why.startswith("needs")


def test_reference_falls_back_to_another_version(tmp_path, monkeypatch):
    """On 3.11 the lesson shows the figure recorded on 3.13: the closest file that has it."""
    doc = '{"machine": {"usable_cores": 2, "python": "CPython %s", "start_method": "fork"}, "effects": [%s]}'
    effect = '{"lesson": "interpreters", "effect": "%s", "measured": %s, "unit": "x", "holds": %s}'
    (tmp_path / "a-py3.11.json").write_text(
        doc % ("3.11.7", effect % (sub.SPEEDUP.effect, "null", "null"))
    )
    (tmp_path / "b-py3.13.json").write_text(
        doc % ("3.13.0", effect % (sub.SPEEDUP.effect, 1.9, "true"))
    )
    monkeypatch.setenv(reference.FOLDER_VARIABLE, str(tmp_path))
    found = reference.best(sub.LESSON, sub.SPEEDUP.effect)
    assert found is not None and found.source == "b-py3.13.json" and found.measured == 1.9
    assert [f.source for f in sub.reference_figures().figures] == ["b-py3.13.json"]


@have
def test_exec_runs_code_and_reports_its_error():
    interp = sub.interpreters.create()
    try:
        interp.prepare_main(n=3)
        interp.exec("x = n * 2")
        with pytest.raises(sub.interpreters.ExecutionFailed, match="ZeroDivisionError"):
            interp.exec("1 / 0")
        if isinstance(sub.interpreters, sub.LowLevelInterpreters):  # 3.14 pickles the list
            with pytest.raises(sub.interpreters.NotShareableError):
                interp.prepare_main(values=[1, 2])
    finally:
        interp.close()


@have
@pytest.mark.skipif(not sub.queues_available(), reason=sub.QUEUES_WHY_NOT)
def test_what_crosses():
    rows = {r["object"]: r for r in sub.what_crosses().rows}
    for kind in ("None", "int", "float", "str", "bytes", "tuple"):
        assert rows[kind]["is_shareable"] and rows[kind]["arrived"], rows[kind]
    for kind in ("list", "dict", "a lambda", "a lock"):
        assert not rows[kind]["is_shareable"]
    # a list is pickled across (a copy); a lambda and a lock cannot be pickled at all
    assert rows["list"]["arrived"] and "[1, 2, 3]" in rows["list"]["as"]
    assert not rows["a lambda"]["arrived"] and not rows["a lock"]["arrived"]


@have
def test_an_extension_module_refuses():
    result = sub.refused_imports()
    said = {r["module"]: r["in a subinterpreter"] for r in result.rows}
    refused = [m for m, s in said.items() if "ImportError" in s]
    assert refused, said
    assert "does not support loading in subinterpreters" in said[refused[0]]


@have
def test_start_up_and_memory():
    cost = sub.start_up_and_memory(count=2, repeats=3, start_methods=("spawn",))
    assert list(cost.seconds) == list(cost.pss) == ["interpreter", "spawn process"]
    assert all(v > 0 for v in [*cost.seconds.values(), *cost.pss.values()])
    # a spawned Python imports its modules afresh: it costs more memory than an interpreter
    assert cost.pss["spawn process"] > cost.pss["interpreter"]
    assert len(cost.findings) == 2 and cost.plot() is not None


@have
@two_cores
def test_interpreters_use_two_cores_where_threads_use_one():
    """Cores in use against sequential's: steady on a busy VM where wall speed-ups swing."""
    result = sub.compare_models(workers=2, task_seconds=0.2, repeats=3)
    assert result.cores_vs_sequential("interpreters") >= 1.5, result.rows
    assert result.cores_vs_sequential("threads") <= 1.3, result.rows
    assert {r["variant"] for r in result.rows} == set(sub.VARIANTS)
    assert result.findings and result.plot() is not None


def one_after_the_other(code, n):
    """Right in all but one thing: each thread is joined before the next one starts."""

    def run(interp, errors):
        try:
            interp.exec(code)
        except Exception as exc:
            errors.append(exc)

    for _ in range(n):
        interp, errors = sub.interpreters.create(), []
        try:
            t = threading.Thread(target=run, args=(interp, errors))
            t.start()
            t.join()
        finally:
            interp.close()
        if errors:
            raise errors[0]


def errors_lost(code, n):
    interps = [sub.interpreters.create() for _ in range(n)]
    threads = [threading.Thread(target=i.exec, args=(code,)) for i in interps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in interps:
        i.close()


def solution(code, n):
    interps = [sub.interpreters.create() for _ in range(n)]
    errors = []

    def run(interp):
        try:
            interp.exec(code)
        except Exception as exc:
            errors.append(exc)

    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in interps]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for i in interps:
            i.close()
    if errors:
        raise errors[0]


@have
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_exercise_accepts_the_solution_and_rejects_typical_mistakes(capsys, monkeypatch):
    """Judged as on one core (no cores condition): the outcome cannot depend on the load."""
    monkeypatch.setattr(sub, "needs_cores", lambda cores: "one core, in this test")

    def stub(code, n): ...

    assert sub.feedback_interpreters(stub) is None
    assert "➡️" in capsys.readouterr().out
    left: list = []

    def left_open(code, n):
        left.append(sub.interpreters.create())

    try:
        assert sub.feedback_interpreters(left_open) is False
        assert "left 1 interpreter" in capsys.readouterr().out
    finally:
        sub.close_all(left)
    assert sub.feedback_interpreters(errors_lost) is False
    assert "returned as if all went well" in capsys.readouterr().out
    assert sub.feedback_interpreters(solution) is True, capsys.readouterr().out


@have
@two_cores
def test_exercise_sees_interpreters_run_one_after_the_other(capsys):
    assert sub.feedback_interpreters(one_after_the_other) is False
    assert "one after the other" in capsys.readouterr().out


@have
@two_cores
def test_check_section():
    effects = sub.check_interpreters(quick=True)
    names = [e.effect for e in effects]
    assert names == [sub.SPEEDUP.effect, sub.WALL_SPEEDUP, sub.STARTUP_EFFECT, sub.PSS_EFFECT]
    assert effects[0].measured is not None and effects[1].measured > 0
