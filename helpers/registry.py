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
    "pool": "helpers.experiments.pool:check",
    "threads": "helpers.experiments.threads:check",
    "gil": "helpers.experiments.gil:check",
    "memory": "helpers.experiments.memory:check",
    "sharing": "helpers.experiments.sharing:check",
    "scaling": "helpers.experiments.scaling:check",
}

# experiment name -> function(**defaults) -> helpers.results.Result (whose plot() draws it)
EXPERIMENTS: dict[str, str] = {
    "shared-buffer": "helpers.experiments.instruments:shared_buffer",
    "pool-styles": "helpers.experiments.pool:iteration_styles",
    "pool-chunksize": "helpers.experiments.pool:chunksize_sweep",
    "pool-speedup": "helpers.experiments.pool:speedup_sweep",
    "pool-startup": "helpers.experiments.pool:startup_cost",
    "pool-vs-executor": "helpers.experiments.pool:pool_vs_executor",
    "threads-io-speedup": "helpers.experiments.threads:io_speedup",
    "threads-timeline": "helpers.experiments.threads:io_timeline",
    "threads-race": "helpers.experiments.threads:race",
    "gil-threads-vs-processes": "helpers.experiments.gil:threads_vs_processes",
    "gil-handoff": "helpers.experiments.gil:handoff",
    "gil-switch-interval": "helpers.experiments.gil:switch_interval_sweep",
    "gil-convoy": "helpers.experiments.gil:convoy",
    "gil-release": "helpers.experiments.gil:gil_release",
    "memory-post-setup": "helpers.experiments.memory:post_setup",
    "memory-cases": "helpers.experiments.memory:compare",
    "memory-pages": "helpers.experiments.memory:page_view",
    "sharing-compare": "helpers.experiments.sharing:compare",
    "sharing-lost-updates": "helpers.experiments.sharing:lost_updates",
    "sharing-redis": "helpers.experiments.sharing:redis_costs",
    "sharing-life-cycle": "helpers.experiments.sharing:shm_life_cycle",
    "scaling-asyncio": "helpers.experiments.scaling:asyncio_vs_threads",
    "scaling-dask": "helpers.experiments.scaling_dask:cluster_vs_pool",
}


def resolve(target: str) -> Callable:
    """Import 'package.module:function' and return the function."""
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
