"""Where the course finds each lesson's pre-class check and its shell-runnable experiments.

A lesson is a package ``helpers.lessons.<name>``. Adding one takes a line in LESSONS; the
package itself declares the rest:

- ``helpers/lessons/<name>/check.py`` defines ``check(quick: bool) -> list[Effect]``, the
  lesson's section of ``python -m helpers check``;
- ``helpers/lessons/<name>/__init__.py`` may define ``EXPERIMENTS``, a dict from the name
  ``python -m helpers run`` knows to the name of a function of that package returning a
  Result.

Entries are resolved only when used, so that importing helpers stays cheap.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable

# Check sections, in teaching order: section name -> the lesson package that checks it.
# A section is usually a lesson; "interpreters" is a section of lesson 03's package.
LESSONS: dict[str, str] = {
    "instruments": "instruments",
    "pool": "pool",
    "threads": "threads",
    "gil": "gil",
    "interpreters": "gil",
    "memory": "memory",
    "sharing": "sharing",
    "scaling": "scaling",
    "post": "post",
}


def _available(package: str) -> bool:
    return importlib.util.find_spec(f"helpers.lessons.{package}") is not None


def check_sections() -> dict[str, str]:
    """Section name -> "module:function" of its check(quick), for the lessons in this checkout.

    A section named after its package calls ``check``; another (``interpreters``) calls
    ``check_<section>`` in the same check.py.
    """
    sections = {}
    for section, package in LESSONS.items():
        if _available(package):
            name = "check" if section == package else f"check_{section}"
            sections[section] = f"helpers.lessons.{package}.check:{name}"
    return sections


def experiments() -> dict[str, str]:
    """Experiment name -> "module:function", collected from each lesson's EXPERIMENTS."""
    modules = [f"helpers.lessons.{p}" for p in dict.fromkeys(LESSONS.values()) if _available(p)]
    return {
        name: f"{module}:{function}"
        for module in modules
        for name, function in getattr(importlib.import_module(module), "EXPERIMENTS", {}).items()
    }


def resolve(target: str) -> Callable:
    """Import 'package.module:function' and return the function."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
