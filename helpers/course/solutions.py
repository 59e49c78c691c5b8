"""``%%solution``: run an exercise's solution cell without touching the learner's variables.

Introduced in 00_start_here.ipynb; registered by the course's extension
(``%load_ext helpers.course.notebook``, each lesson's first cell). A solution cell's code
runs in a copy of the notebook's namespace, so it can read everything the lesson made while
its own assignments vanish with the copy: after "Run All", the learner's answer and its
feedback are still there. Checks called inside one are not recorded in
helpers.course.progress.
"""

from __future__ import annotations

_depth = 0


def in_solution() -> bool:
    """True while a %%solution cell runs."""
    return _depth > 0


def run_solution(code: str, namespace: dict) -> None:
    """Run code in a shallow copy of namespace: names it binds do not reach the notebook.

    Trap: the copy is shallow. A solution that mutates an object the learner made (appends to
    their list) changes it; solutions in this course only read the learner's objects.
    """
    global _depth
    scope = dict(namespace)
    _depth += 1
    try:
        exec(compile(code, "<solution>", "exec"), scope)  # noqa: S102 (the solution cell's own code)
    finally:
        _depth -= 1
