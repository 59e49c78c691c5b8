"""Lesson 06's exercises: the checks that judge the learner's answers, in the learner's terms.

Introduced in 06_choosing_and_scaling_out.ipynb. Each check runs the learner's code under
the instruments with a timeout, prints what went right or what to try, records the outcome
for the notebook's summary (helpers.course.progress) and never raises: CI runs the notebook
with every exercise unanswered.

    exercise                  the learner writes              the check measures
    "choose a model"          a model per workload            the choices against the lessons
    "blocking library"        a coroutine over io.fetch       answers, requests in flight at the
                                                              server, time, threads left
    "Pool.map to Client.map"  squares on a LocalCluster       results, the thread that ran them,
                                                              processes, ports and folders left
"""

from __future__ import annotations

import gc
import inspect
import threading
import time

from ...course.feedback import call_with_timeout, feedback, unanswered
from ...probes import measure
from ...runner import no_stray_processes
from ...servers.http import slow_server
from .cluster import Leftovers, leftovers, scratch_space
from .waits import TIMEOUT, run_coroutine

CHOICES = "choose a model"
BLOCKING = "blocking library"
CLIENT_MAP = "Pool.map to Client.map"
EXERCISES = [CHOICES, BLOCKING, CLIENT_MAP]


# -- exercise 1: choose a model for each workload -------------------------------------------

MODELS = ("one process", "processes", "threads", "asyncio", "cluster")

# workload -> (the models that fit, why), the reasons pointing at what the course measured
WORKLOADS: dict[str, tuple[set[str], str]] = {
    "download 2,000 pages from a slow web API": (
        {"threads", "asyncio"},
        "the time is waiting, which overlaps in threads or coroutines (02, and section 2 here)",
    ),
    "8 independent pure-Python simulations of 20 s each, on a laptop": (
        {"processes"},
        "pure Python holds the GIL, so only processes use several cores (01, 03)",
    ),
    "square 1,000,000 numbers, each as its own task": (
        {"one process"},
        "each task is far shorter than what sending it to a worker costs (01, section 3 here)",
    ),
    "compress 40 large files with zlib": (
        {"threads", "processes"},
        "zlib releases the GIL while it works, so threads scale; processes do too (03)",
    ),
    "50,000 one-minute simulations, results needed by tomorrow": (
        {"cluster"},
        "about 35 core-days of work: more cores than one machine has (section 3 here)",
    ),
}


def feedback_choices(choices: dict[str, str] | None) -> bool:
    """Exercise 1: the model chosen for each workload, against what the lessons measured."""
    chosen = {w: (choices or {}).get(w) or "" for w in WORKLOADS}
    if not any(chosen.values()):
        unanswered(f"Choose one of {', '.join(MODELS)} for each job in my_choices.", exercise=CHOICES)
        return False
    right = 0
    for workload, (fits, why) in WORKLOADS.items():
        if not chosen[workload]:
            print(f"➡️  {workload}: no choice yet (one of {', '.join(MODELS)})")
        elif chosen[workload] not in MODELS:
            print(f"❌ {workload}: {chosen[workload]!r} is not one of {', '.join(MODELS)}")
        elif chosen[workload] in fits:
            right += 1
            print(f"✅ {workload}: {chosen[workload]}; {why}")
        else:
            print(f"❌ {workload}: {chosen[workload]} is not the best fit. Hint: {why}")
    return feedback(right == len(WORKLOADS), f"all {right} right.",
                    f"{right} of {len(WORKLOADS)} right.", exercise=CHOICES)


# -- exercise 2: a blocking library inside asyncio, with a limit ----------------------------


def feedback_blocking_library(fetch_politely, requests: int = 12, limit: int = 3,
                              delay: float = 0.1) -> bool:
    """Exercise 2: does `await fetch_politely(url, requests, limit)` get every answer through the
    blocking io.fetch, overlapping, with at most `limit` at the server at once, and leave no
    thread behind? The slow server counts the requests it serves at once."""
    if not inspect.iscoroutinefunction(fetch_politely):
        return feedback(False, "", "fetch_politely must be a coroutine function: `async def ...`.",
                        exercise=BLOCKING)
    threads_before = {t.ident for t in threading.enumerate()}
    with slow_server(delay) as server, measure(interval=0.1) as m:
        start = time.perf_counter()
        try:
            answers = run_coroutine(lambda: fetch_politely(server.url, requests, limit), TIMEOUT)
        except Exception as exc:  # the learner's code: report it, do not stop the notebook
            return feedback(False, "", f"fetch_politely raised {type(exc).__name__}: {exc}",
                            exercise=BLOCKING)
        took = time.perf_counter() - start
        at_once = server.stats()["max_in_flight"]
    if answers is None:
        unanswered("Write fetch_politely: hand each io.fetch(url) to a thread with "
                   "asyncio.to_thread, and hold an asyncio.Semaphore(limit) around it.",
                   exercise=BLOCKING)
        return False
    left = [t.name for t in threading.enumerate() if t.ident not in threads_before]
    in_loop = sum(e.thread == "asyncio-loop" for e in m.tasks if e.task == "fetch")
    return feedback(*_judge_blocking(answers, requests, limit, delay, took, at_once, in_loop, left),
                    exercise=BLOCKING)


def _judge_blocking(answers, requests, limit, delay, took, at_once, in_loop, left) -> tuple:
    """(ok, right, wrong) for exercise 2, from what the server and the task events saw."""
    rounds = -(-requests // limit)
    if not (isinstance(answers, list) and answers == [b"ok\n"] * requests):
        return False, "", f"expected a list of {requests} answers b'ok\\n', got {answers!r:.80}"
    if at_once > limit:
        return False, "", (f"the server saw {at_once} requests at once, over the limit of {limit}: "
                           "hold an asyncio.Semaphore(limit) around each request")
    if at_once < min(2, limit) or took > 0.8 * requests * delay:
        return False, "", (f"{took:.2f} s and at most {at_once} request at once: they went one "
                           "after another. io.fetch blocks the loop's only thread; run it with "
                           "`await asyncio.to_thread(io.fetch, url)`, all started by asyncio.gather.")
    if in_loop:
        return False, "", (f"{in_loop} requests ran in the event loop's own thread: that is an "
                           "async client (aio.fetch), fine in general, but this library has none. "
                           "Call io.fetch through asyncio.to_thread.")
    if left:
        return False, "", f"threads still running afterwards: {', '.join(left)}. Shut down your executor."
    return True, (f"{requests} answers in {took:.2f} s, never more than {at_once} at the server "
                  f"(limit {limit}; one at a time would take {requests * delay:.1f} s, "
                  f"{limit} at a time about {rounds * delay:.1f} s), no thread left."), ""


# -- exercise 3: port a Pool.map call to Client.map -----------------------------------------


def _clusters_and_clients() -> list:
    """Every dask LocalCluster and Client alive in this process (the garbage collector's)."""
    from distributed import Client, LocalCluster

    return [o for o in gc.get_objects() if isinstance(o, (LocalCluster, Client))]


def feedback_client_map(squares_on_a_cluster, numbers: list[int] | None = None,
                        timeout: float = 90.0) -> bool:
    """Exercise 3: does squares_on_a_cluster(numbers) return the squares, computed by cpu.square
    on dask workers, and close its cluster before it returns?

    Judged from the task events (dask runs tasks in threads named Dask-..., a Pool in its
    workers' main thread) and from the processes and ports left afterwards. A cluster left
    open is closed here, and the learner told so.
    """
    numbers = list(range(10)) if numbers is None else numbers
    before, objects = leftovers(), {id(o) for o in _clusters_and_clients()}
    with scratch_space(), no_stray_processes(), measure(interval=0.1) as m:
        how, value, _ = call_with_timeout(squares_on_a_cluster, (numbers,), timeout)
        left = leftovers() - before
        left = Leftovers(left.processes, left.listening)  # its scratch folder goes below
        for thing in _clusters_and_clients():  # close what the learner left open
            if id(thing) not in objects:
                thing.close()
    if how == "returned" and value is None and not m.tasks:
        unanswered("Write squares_on_a_cluster: a LocalCluster and a Client in one `with`, "
                   "client.map(cpu.square, numbers), then client.gather.", exercise=CLIENT_MAP)
        return False
    return feedback(*_judge_client_map(numbers, how, value, m.tasks, left, timeout),
                    exercise=CLIENT_MAP)


def _judge_client_map(numbers, how, value, events, left, timeout) -> tuple:
    """(ok, right, wrong) for exercise 3."""
    if how == "timeout":
        return False, "", f"it did not return within {timeout:g} s; the cluster was stopped."
    if how == "raised":
        return False, "", f"it raised {type(value).__name__}: {value}"
    if isinstance(value, list) and value and type(value[0]).__name__ == "Future":
        return False, "", "it returned Futures, not numbers: pass them to client.gather(futures)."
    if value != [x * x for x in numbers]:
        return False, "", f"expected {[x * x for x in numbers]!r:.60}, got {value!r:.60}"
    places = {(e.pid, e.thread) for e in events if e.task == "square"}
    if not places or any("Dask" not in thread for _, thread in places):
        return False, "", (f"the squares ran in the main thread of {len({p for p, _ in places})} "
                           "process(es): that is a Pool (or this process), not dask. "
                           "Use client.map(cpu.square, numbers).")
    if left:
        return False, "", (f"the results are right, but the cluster was still running after it "
                           f"returned ({left}); it has been closed now. Open the cluster and the "
                           "client in a `with` block, so they close when it ends.")
    return True, (f"{len(numbers)} squares from {len({p for p, _ in places})} dask worker "
                  "process(es), and nothing left running afterwards."), ""
