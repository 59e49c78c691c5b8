"""Where lessons register their pre-class checks and their shell-runnable experiments.

Entries are "module:function" strings, imported only when used, so that importing helpers
stays cheap. Order is teaching order.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

# section name -> function check(quick: bool) -> list[helpers.check.Effect]
CHECK_SECTIONS: dict[str, str] = {
    "instruments": "helpers.experiments.instruments:check",
}

# experiment name -> function(**defaults) -> helpers.results.Result (whose plot() draws it)
EXPERIMENTS: dict[str, str] = {
    "shared-buffer": "helpers.experiments.instruments:shared_buffer",
}


def resolve(target: str) -> Callable:
    """Import 'package.module:function' and return the function."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
