"""The course's machinery: solutions in their own scope, predictions, exercise records, rules,
the registry, and what the notebooks' code cells teach."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from helpers.course import feedback, progress, registry, solutions
from helpers.course.check import Rule

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _code(name_start: str) -> str:
    """The code cells of the notebook whose name starts with name_start, solutions excluded."""
    (path,) = [p for p in NOTEBOOKS if p.name.startswith(name_start)]
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join(
        "".join(c["source"])
        for c in cells
        if c["cell_type"] == "code" and "solution" not in c.get("metadata", {}).get("tags", [])
    )


# -- issue 12: the code each lesson teaches is in the learner's cells -------------------------

TAUGHT = {
    "03": [r"threading\.Thread\(", r"\b(Process|Pool|ProcessPoolExecutor)\("],
    "04": [r"\bPool\(", r"gc\.freeze\(\)"],
    "05": [r"RawArray\(", r"shared_memory\.SharedMemory\(", r"Manager\(", r"\.(set|get|pipeline|incr)\("],
}


@pytest.mark.parametrize("lesson", sorted(TAUGHT))
def test_each_notebook_shows_the_calls_it_teaches(lesson):
    code = _code(lesson)
    missing = [pattern for pattern in TAUGHT[lesson] if not re.search(pattern, code)]
    assert not missing, f"notebook {lesson}'s learner cells lack {missing}"


def test_lesson_04_runs_a_pool_that_reads_a_global():
    code = _code("04")
    # a module-level name built in a cell, then a pool whose workers read it
    assert re.search(r"^\w+ = .*\n(?:.*\n)*?.*Pool\(", code, re.MULTILINE)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_imports_its_lesson_in_one_line(path):
    code = _code(path.name[:2])
    lessons = set(re.findall(r"^from helpers\.lessons import (\w+)", code, re.MULTILINE))
    assert len(lessons) == 1, f"{path.name} imports lessons {sorted(lessons)}"
    assert "helpers.experiments" not in code


# -- issue 13: solutions never overwrite the learner's variables ------------------------------


def test_a_solution_leaves_the_learners_variable_unchanged():
    namespace = {"my_answer": 41, "data": [1, 2, 3]}
    solutions.run_solution("my_answer = 42\nseen = sum(data)\nassert seen == 6", namespace)
    assert namespace["my_answer"] == 41
    assert "seen" not in namespace


def test_the_solution_magic_runs_in_its_own_scope_in_a_real_kernel_shell():
    shell_module = pytest.importorskip("IPython.core.interactiveshell")
    shell = shell_module.InteractiveShell.instance()
    try:
        shell.run_cell("%load_ext helpers.course.notebook", store_history=False)
        shell.run_cell("my_interval = 0.005", store_history=False)
        result = shell.run_cell("%%solution\nmy_interval = 0.0005\nprint(my_interval)")
        assert result.success, result.error_in_exec
        assert shell.user_ns["my_interval"] == 0.005
    finally:
        shell.run_cell("%unload_ext helpers.course.notebook", store_history=False)
        shell_module.InteractiveShell.clear_instance()


def test_checks_inside_a_solution_are_not_recorded(capsys):
    solutions.run_solution(
        "feedback.feedback(True, 'right', 'wrong', exercise='scoped exercise')", {"feedback": feedback}
    )
    assert "scoped exercise" not in progress.attempts()
    feedback.feedback(False, "right", "try again", exercise="scoped exercise")
    assert progress.attempts()["scoped exercise"].solved is False


# -- issue 13: predictions and the summary -----------------------------------------------------


def test_an_unanswered_prediction_is_skipped_without_a_word(capsys):
    assert progress.reveal("a question", None, 1.9, unit="x") is None
    assert capsys.readouterr().out == ""


def test_a_prediction_is_shown_beside_the_measurement_and_kept(capsys):
    p = progress.reveal("speed-up of 2 workers", 4.0, 1.9, unit="x")
    out = capsys.readouterr().out
    assert "4x" in out and "1.9x" in out and "too high" in out
    assert progress.predictions()["speed-up of 2 workers"] is p


def test_the_summary_lists_every_exercise_even_untried():
    feedback.unanswered("write it", exercise="first")
    table = progress.summary(["first", "never tried"])
    states = {what: state for kind, what, state in table.rows if kind == "exercise"}
    assert states == {"first": "not answered", "never tried": "not tried"}
    assert "never tried" in table._repr_html_()


# -- issue 12: rules, registry ------------------------------------------------------------------


def test_a_rule_judges_against_its_threshold_and_needs_its_cores():
    rule = Rule("demo", "speed-up", ">=", 1.6, unit="x", cores=1)
    assert rule.judge(1.7).holds is True
    assert rule.judge(1.5).holds is False
    assert rule.judge(None).holds is None
    assert Rule("demo", "speed-up", ">=", 1.6, cores=10_000).judge(2.0).holds is None
    with pytest.raises(ValueError, match="op must be"):
        Rule("demo", "x", ">", 1)


def test_every_lesson_package_has_its_check_and_experiments():
    sections = registry.check_sections()
    for section, target in sections.items():
        assert callable(registry.resolve(target)), section
    for name, target in registry.experiments().items():
        assert callable(registry.resolve(target)), name


def test_no_underscore_name_is_used_outside_its_module():
    offenders = []
    for path in sorted((ROOT / "helpers").rglob("*.py")) + sorted((ROOT / "tests").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^\s*from \S+ import ([^\n(]+|\([^)]*\))", text, re.MULTILINE):
            names = re.findall(r"\b(_[a-z]\w*)\b", match.group(1))
            offenders += [f"{path.relative_to(ROOT)}: imports {n}" for n in names]
    assert not offenders, "\n".join(offenders)


def test_the_course_settings_turn_off_jupyterlab_news():
    overrides = json.loads((ROOT / "jupyter/lab/settings/overrides.json").read_text())
    notification = overrides["@jupyterlab/apputils-extension:notification"]
    assert notification == {"fetchNews": "false", "checkForUpdates": False}
    installed = Path(sys.prefix) / "share/jupyter/lab/settings/overrides.json"
    if installed.exists():  # make setup copies it into the course's own environment
        assert json.loads(installed.read_text()) == overrides


def test_reference_results_are_found_in_data_reference(monkeypatch):
    from helpers.course import reference

    monkeypatch.delenv(reference.FOLDER_VARIABLE, raising=False)
    folder = reference.reference_dir()
    assert folder == ROOT / "data" / "reference"
    assert sorted(folder.glob("*.json")), "data/reference/ holds recorded check outputs"
