"""Ways to share data between processes, behind one small interface: ``helpers.lessons.sharing.stores``.

Introduced in 05_sharing_memory.ipynb. Each strategy stores n 64-bit integers that a parent
creates and workers read and write (base.py says how); the lesson puts every one through
the same task and measures it.

    name               what holds the data                         module
    fork               a numpy array the parent made before fork    local.py
    value              multiprocessing.Value (one number, locked)   local.py
    array              multiprocessing.Array (locked)               local.py
    rawarray           multiprocessing.RawArray (no lock)           local.py
    shared_memory      multiprocessing.shared_memory + numpy        local.py
    memmap             numpy.memmap over a temporary file           local.py
    manager_list       a Manager's list proxy                       managed.py
    manager_dict       a Manager's dict proxy                       managed.py
    manager_namespace  a Manager's Namespace holding an array       managed.py
    redis              a private Redis server                       remote.py

``open_store(name, n)`` is the usual way in: it creates the store and always frees it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .base import ITEM_BYTES, Shared, timed_ops
from .local import (
    ForkInherited,
    MemmapArray,
    RawArray,
    SharedArray,
    SharedMemoryArray,
    SharedValue,
)
from .managed import ManagerDict, ManagerList, ManagerNamespace
from .remote import RedisBytes

STRATEGIES: dict[str, type[Shared]] = {
    cls.name: cls
    for cls in (ForkInherited, SharedValue, SharedArray, RawArray, SharedMemoryArray, MemmapArray,
                ManagerList, ManagerDict, ManagerNamespace, RedisBytes)
}


def strategy(name: str) -> type[Shared]:
    """The strategy class called name; ValueError listing the known names if there is none."""
    try:
        return STRATEGIES[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown sharing strategy {name!r}; known: {', '.join(STRATEGIES)}"
        ) from None


def require_strategies(names: Iterable[str]) -> list[str]:
    """Return names as a list if every one is known (ValueError naming the first unknown one)."""
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ValueError(f"name at least one strategy; known: {', '.join(STRATEGIES)}")
    for name in names:
        strategy(name)
    return names


@contextmanager
def open_store(name: str, n: int, context=None) -> Iterator[Shared]:
    """Create strategy name's store of n items (0, 1, ..., n-1) for the block; always free it."""
    store = strategy(name).create(n, context)
    try:
        yield store
    finally:
        store.destroy()


def describe() -> list[dict[str, str]]:
    """What each strategy can share, whether it reaches other machines, how it is cleaned up."""
    return [
        {
            "strategy": cls.name,
            "can share": cls.shares,
            "across machines": cls.across_machines,
            "clean-up": cls.cleanup,
            "available here": cls.unavailable() or "yes",
        }
        for cls in STRATEGIES.values()
    ]


__all__ = ["ITEM_BYTES", "STRATEGIES", "Shared", "describe", "open_store", "require_strategies",
           "strategy", "timed_ops"]
