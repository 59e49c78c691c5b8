"""Lesson 07's effects, each named once with its threshold, and the "post" section of the check
(``python -m helpers check post``: check(quick) below). The verdict table of the notebook
(helpers.lessons.post.verdicts) judges with the same Rules.
"""

from __future__ import annotations

from ...course.check import Effect, Rule, report_only
from ...machine import start_method, start_methods
from ...units import MiB
from .copies import measure_copies
from .programs import run_program

LESSON = "post"

# program 3 as written, and the corrected program 3 (sections 2-3)
LOST_ERRORS = Rule(LESSON, "program 3 as written: share of tasks whose error was lost", ">=", 1.0, unit="")
RSS_COPIES = Rule(LESSON, "post's list: copies per process by summed RSS", ">=", 0.75, unit=" copies")
PSS_COPIES = Rule(LESSON, "post's list: copies per process by PSS", ">=", 0.75, unit=" copies")
FORK_ONE_COPY = Rule(LESSON, "post's list under fork: copies in all by PSS", "<=", 1.5, unit=" copies")
DISTINCT_ONE_COPY = Rule(LESSON, "distinct ints: copies in all by PSS", "<=", 1.5, unit=" copies")
WORKER_OWN_SHARE = Rule(LESSON, "a worker's private memory / the parent's", ">=", 0.75, unit="")
WORKER_SOME_SHARE = Rule(LESSON, "a worker's private memory / the parent's", ">=", 0.25, unit="")

# threads (claims 1-3)
THREAD_CORES = Rule(LESSON, "2 CPU-bound threads: cores in use", "<=", 1.3, unit=" cores", cores=2)
THREADS_SLOWER = Rule(LESSON, "2 CPU-bound threads: time / 1 thread", ">=", 1.1, unit="x")
THREADS_NO_FASTER = Rule(LESSON, "2 CPU-bound threads: time / 1 thread", ">=", 0.9, unit="x")
IO_SPEEDUP = Rule(LESSON, "waits on 8 threads: speed-up", ">=", 3.0, unit="x")

# processes against threads (claim 4)
MEMORY_PER_WORKER = Rule(LESSON, "memory per worker: process / thread", ">=", 10.0, unit="x")
EXCHANGE_COST = Rule(LESSON, "handing 8 MiB over: process / thread", ">=", 10.0, unit="x")
PAGE_MIB = 4096 / MiB  # a thread's cost is read in whole pages: its floor

# sharing (claims 8-12)
MANAGER_SLOWER = Rule(LESSON, "a read: Manager proxy / sharedctypes", ">=", 5.0, unit="x")
SHAREDCTYPES_LOCAL = Rule(LESSON, "sharedctypes refused to pickle", ">=", 1, unit="")
MANAGER_OVER_TCP = Rule(LESSON, "Manager calls answered over TCP", ">=", 1.0, unit="/s")
NOTHING_COMPLEX = Rule(LESSON, "complex objects a Manager held", "<=", 0.0, unit="")
NOT_ALL_COMPLEX = Rule(LESSON, "complex objects a Manager held", "<=", 0.99, unit="")
REDIS_AS_IS = Rule(LESSON, "values back from Redis unchanged", "<=", 0.2, unit="")
NUMPY_SHARED = Rule(LESSON, "numpy global: copies per worker", "<=", 0.25, unit=" copies")

# forkserver (lesson 04, section 4 teaches it; measured by helpers.lessons.memory.forkserver)
FORKSERVER_REBUILDS = Rule(LESSON, "forkserver, a script's global: copies per worker", ">=", 0.75, unit=" copies")
FORKSERVER_SHARES = Rule(LESSON, "forkserver, a script's global: copies per worker", "<=", 0.25, unit=" copies")
FORKSERVER_PRELOAD = Rule(
    LESSON, "forkserver + set_forkserver_preload(): copies per worker", "<=", 0.25, unit=" copies"
)


def lost_errors(quick: bool = True) -> Effect:
    """Run program 3 as written, traced, and judge the share of its tasks' errors it lost."""
    run = run_program("program 3", traced=True, start_method=start_method())
    reported = "nothing" if run.returncode == 0 and not run.stderr.strip() else "an error"
    trace = run.trace or {"tasks_sent": "?", "failed": ["?"]}
    why = (f"{run.failed_tasks} of {trace['tasks_sent']} tasks raised "
           f"{', '.join(trace['failed'])}; the program reported {reported}")
    return LOST_ERRORS.judge(run.lost_share, why)


def fork_illusion(quick: bool = True) -> list[Effect]:
    """The corrected program 3 under fork, the post's list: copies by summed RSS and by PSS."""
    if "fork" not in start_methods():
        return [report_only(LESSON, FORK_ONE_COPY.effect, None, why="no fork on this platform")]
    copies = measure_copies(methods=("fork",), kinds=("post",), workers=2 if quick else None)
    rss = copies.per_process("fork", "post", "rss")
    pss = copies.copies("fork", "post", "pss")
    why = f"{copies.workers} workers; summed RSS counts each shared page once per process"
    return [RSS_COPIES.judge(rss, why), FORK_ONE_COPY.judge(pss, why)]


def forkserver_effects(quick: bool = True) -> list[Effect]:
    """Copies of a script's module-level global per forkserver worker, without and with preload."""
    if "forkserver" not in start_methods():
        return [report_only(LESSON, FORKSERVER_PRELOAD.effect, None, why="no forkserver here")]
    from ..memory.forkserver import expected_behaviour, forkserver_copies

    expected = expected_behaviour()
    plain = FORKSERVER_REBUILDS if expected == "rebuilds" else FORKSERVER_SHARES
    why = f"this Python's fork server {expected} the script's globals (gh-126631)"
    return [
        plain.judge(forkserver_copies(preload=False, quick=quick), why),
        FORKSERVER_PRELOAD.judge(forkserver_copies(preload=True, quick=quick)),
    ]


def check(quick: bool = True) -> list[Effect]:
    """Lesson 07's section of the pre-class check: about 5 s quick on an idle machine."""
    return [lost_errors(quick), *fork_illusion(quick), *forkserver_effects(quick)]
