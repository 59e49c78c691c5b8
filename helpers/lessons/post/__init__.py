"""Lesson 07: the 2016 post re-tested, its three programs re-created and run, claim by claim.

Introduced in 07_the_post_retested.ipynb. The notebook calls:

    run_program()       a program of notebooks/post_programs/ as a script, measured (programs)
    trace_table()       program 3's task outcomes per start method (programs, trace)
    measure_copies()    the corrected program 3 per start method and list (copies)
    measure_claims()    one short experiment per claim of the post (quick)
    verdict_table()     the verdicts, computed with the Rules of check.py (verdicts)
    feedback_*()        the exercises' checks (exercises)
    check()             the "post" section of python -m helpers check (check)
"""

from __future__ import annotations

from . import quick, tasks
from .copies import copies_findings, forkserver_sentence, measure_copies, workers_here
from .exercises import feedback_every_error, feedback_one_copy, feedback_pool_size
from .programs import PROGRAMS, program_path, run_program, trace_table
from .verdicts import measure_claims, verdict_table

__all__ = [
    "PROGRAMS",
    "copies_findings",
    "feedback_every_error",
    "feedback_one_copy",
    "feedback_pool_size",
    "forkserver_sentence",
    "measure_claims",
    "measure_copies",
    "program_path",
    "quick",
    "run_program",
    "tasks",
    "trace_table",
    "verdict_table",
    "workers_here",
]
