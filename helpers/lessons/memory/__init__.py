"""Lesson 04: does a pool of N workers reading a big global list really hold N copies?

Introduced in 04_memory_duplication.ipynb (claim C6 of the design). A map of the lesson:

    1. the post's set-up        the learner's Pool cell; observed() reads it (post.py)
    2. what the data is made of  the learner's distinct-ints cell
    3. the GC and gc.freeze()    the learner's gc.freeze() cell; workers collect deliberately
    4. every case                cases.py runs the rest (results.py, plots.py)
    5. forkserver                forkserver.py: a real script, by Python version, and preload
    6. the tools                 memory_profiler (post.py), memray (allocations.py)
    7. the pages                 pages.py: reference counts, immortal objects, the page view
    8. verdict, 9. exercises     findings.py, exercises.py; check.py holds the effects
"""

from .allocations import memray_vs_uss
from .cases import compare, default_size_mb, get_case, run_case, sizing_note
from .exercises import (
    EXERCISES,
    feedback_gc_safe_pool,
    feedback_page_prediction,
    feedback_shared_data,
)
from .findings import outcome, verdict
from .forkserver import forkserver_copies, forkserver_main, show_script, version_sentence
from .pages import page_view, reference_counts
from .post import memory_profiler_view, observed, post_setup
from .results import side_by_side

__all__ = [
    "EXERCISES",
    "compare",
    "default_size_mb",
    "feedback_gc_safe_pool",
    "feedback_page_prediction",
    "feedback_shared_data",
    "forkserver_copies",
    "forkserver_main",
    "get_case",
    "memory_profiler_view",
    "memray_vs_uss",
    "observed",
    "outcome",
    "page_view",
    "post_setup",
    "reference_counts",
    "run_case",
    "show_script",
    "side_by_side",
    "sizing_note",
    "verdict",
    "version_sentence",
]

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "memory-post-setup": "post_setup",
    "memory-cases": "compare",
    "memory-pages": "page_view",
    "memory-forkserver": "forkserver_main",
    "memory-memray": "memray_vs_uss",
}
