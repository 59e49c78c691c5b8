"""Feedback for lesson 04's exercises: each check prints what is right or what to try next.

Introduced in 04_memory_duplication.ipynb. A check never raises on an unsolved exercise
(CI runs the notebook as shipped); it returns True when the exercise is solved.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .findings import SHARED, per_worker

if TYPE_CHECKING:
    from .cases import CaseResult
    from .pages import PageViewResult


def _say(solved: bool, text: str) -> bool:
    print(("Right: " if solved else "Not yet: ") + text)
    return solved


def shared_data(result: CaseResult) -> bool:
    """Exercise 1: forked workers read every item, yet hold (almost) nothing alone."""
    share = per_worker(result)
    if share is None:
        return _say(False, "this platform could not measure the workers' private memory.")
    if result.case.method != "fork":
        return _say(False, f"the workers started with {result.case.method}: only fork shares.")
    held = f"each worker held {share:.1%} of {result.copied_of} alone"
    if share <= SHARED:
        return _say(
            True,
            f"{held}. A {result.case.kind!r} object is one block of memory: reading it writes only "
            "its header's reference count, so the data pages stay shared.",
        )
    return _say(
        False,
        f"{held}. A list of {result.case.kind!r} items hands out objects whose counts get "
        "written: pick a kind that is one big buffer.",
    )


def gc_without_copies(result: CaseResult) -> bool:
    """Exercise 2: the workers' GC still runs full collections, and copies nothing."""
    share = per_worker(result)
    if share is None:
        return _say(False, "this platform could not measure the workers' private memory.")
    held = f"each worker held {share:.0%} of {result.copied_of} alone"
    if result.full_collections == 0:
        return _say(
            False,
            f"{held}, but no full collection ran in the workers: the GC is off there, so "
            "cycles they create would never be freed. Keep the GC on and keep it away from "
            "the parent's objects instead.",
        )
    if share <= SHARED:
        return _say(
            True,
            f"{held} after {result.full_collections} full collections: frozen objects sit in "
            "a generation the GC never visits.",
        )
    return _say(
        False,
        f"{held} after {result.full_collections} full collections: they walked the parent's "
        "objects and wrote into each one.",
    )


def page_prediction(view: PageViewResult, predicted_pages: float | None) -> bool:
    """Exercise 3: pages made private by reading half the list, predicted then measured."""
    if view.reason:
        print(f"The page-level view cannot run here ({view.reason}); nothing to compare with.")
        return False
    if 0.5 not in view.fractions:
        return _say(False, "run page_view() with an even number of steps, so half is a step.")
    measured = view.private_pages[view.fractions.index(0.5)]
    if predicted_pages is None:
        return _say(False, "write your prediction in my_pages_for_half, then run this cell.")
    error = abs(predicted_pages - measured) / max(measured, 1)
    text = f"you predicted {predicted_pages:,.0f} pages; reading half made {measured:,} private"
    if error <= 0.15:
        return _say(True, f"{text} ({error:.0%} off).")
    return _say(
        False,
        f"{text} ({error:.0%} off). How many bytes does one int take in memory, and how many "
        "of them does a page hold?",
    )
