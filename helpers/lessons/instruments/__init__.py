"""Lesson 00, the instruments: the notebook's one import (``from helpers.lessons import instruments``).

Introduced in 00_start_here.ipynb. A map of the lesson, section by section:

    2. helpers.measure()          helpers/probes.py (shared by every lesson); its cost: overhead.py
    3. counting shared memory     shared_buffer.py  shared_buffer
    4. four instruments at once   views.py          snapshot, four_views, instant_views
                                  workers.py        hold_memory (runs in each worker)
       exercises                  exercises.py      feedback_uss_growth, feedback_pss_of_tree,
                                                    feedback_workers_memory (tree.py: its tree)
       pre-class check            check.py          check and its Rules

The pools are written in the notebook's cells; these modules measure and compare.
"""

from __future__ import annotations

from . import check
from .exercises import EXERCISES, feedback_pss_of_tree, feedback_uss_growth, feedback_workers_memory
from .overhead import sampler_overhead
from .shared_buffer import shared_buffer
from .views import four_views, instant_views, snapshot
from .workers import hold_memory

__all__ = [  # grouped by section, as in the map above
    "sampler_overhead", "shared_buffer", "snapshot", "four_views", "instant_views", "hold_memory",
    "EXERCISES", "feedback_uss_growth", "feedback_pss_of_tree", "feedback_workers_memory", "check",
]

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {"shared-buffer": "shared_buffer", "instant-views": "instant_views"}
