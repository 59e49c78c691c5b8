"""Quick experiments behind lesson 07's verdicts: one per claim of the post, a second or less each.

Lesson 07, section 4. Each function runs the call it times (Thread, Pool, Manager, Redis) in
its own body and returns plain figures; verdicts.py judges them with the Rules of check.py.
The lessons that teach each effect at length are named in the table (lessons 01-05).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import managers, sharedctypes

import psutil

from ...footprint import footprint
from ...machine import mp_context
from ...timing import median_seconds
from ...units import MiB
from ...workloads import cpu, io
from . import tasks

# -- claims 1-2: CPU-bound threads ----------------------------------------------------------


def cpu_threads(seconds: float = 0.1, repeats: int = 3) -> dict[str, float]:
    """The same CPU-bound work, `seconds` of one core per part, on 1 thread and on 2 threads.

    Returns the median wall seconds of each ("one", "two", in s), their ratio "slowdown"
    (two / one: above 1 means the threads were slower), and "cores": CPU seconds per wall
    second while the 2 threads ran (a GIL keeps it near 1 whatever the machine's load).
    """
    steps = cpu.units_for(seconds)

    def on_threads(count: int) -> None:  # the same 2 * steps in all, split between the threads
        workers = [threading.Thread(target=cpu.count_steps, args=(2 * steps // count,))
                   for _ in range(count)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    times = median_seconds({"one": lambda: on_threads(1), "two": lambda: on_threads(2)}, repeats)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    on_threads(2)
    cores = (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    return {**times, "slowdown": times["two"] / times["one"], "cores": cores}


# -- claim 3: I/O-bound threads -------------------------------------------------------------


def io_threads(tasks_: int = 16, wait: float = 0.02, threads: int = 8) -> dict[str, float]:
    """`tasks_` waits of `wait` seconds on one thread, then on `threads` threads: the seconds of
    each ("one", "many") and "speedup" (one / many, in x)."""
    started = time.perf_counter()
    for _ in range(tasks_):
        io.wait(wait)
    one = time.perf_counter() - started
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(io.wait, [wait] * tasks_))
    many = time.perf_counter() - started
    return {"one": one, "many": many, "speedup": one / many, "threads": threads}


# -- claim 4: what a process costs beside a thread -------------------------------------------


def worker_costs(workers: int = 2, payload_mib: int = 8, repeats: int = 3) -> dict[str, float]:
    """Memory per worker and the cost of handing it data: processes against threads.

    Returns "process_mib" (PSS of one pool worker, median, MiB; USS where PSS is missing),
    "thread_mib" (what one waiting thread added to this process's private memory, MiB),
    "process_s" and "thread_s" (median seconds to hand `payload_mib` MiB to a worker and get
    its length back) and "exchange" (process_s / thread_s, x). Trap: the payload is pickled
    and piped to the process, but a thread receives a reference: no bytes move at all.
    """
    payload = bytes(payload_mib * MiB)
    with mp_context().Pool(workers) as pool:
        pool.map(len, [b""] * workers)  # every worker up and running
        prints = [footprint(psutil.Process(c.pid)) for c in multiprocessing.active_children()]
        sizes = [f.pss if f.pss is not None else (f.uss or f.rss) for f in prints]  # the workers'
        with ThreadPoolExecutor(workers) as threads:
            seconds = median_seconds({
                "process": lambda: pool.apply(len, (payload,)),
                "thread": lambda: threads.submit(len, payload).result(),
            }, repeats)
        pool.close()
        pool.join()
    return {
        "process_mib": sorted(sizes)[len(sizes) // 2] / MiB,
        "thread_mib": _thread_bytes(workers) / MiB,
        **{f"{name}_s": s for name, s in seconds.items()},  # process_s, thread_s
        "exchange": seconds["process"] / seconds["thread"],
    }


def _thread_bytes(count: int) -> float:
    """Private bytes one waiting thread adds to this process (its stack pages, its state)."""
    release = threading.Event()
    before = tasks.private_bytes()
    waiting = [threading.Thread(target=release.wait) for _ in range(count)]
    for t in waiting:
        t.start()
    after = tasks.private_bytes()
    release.set()
    for t in waiting:
        t.join()
    return max(0, after - before) / count


# -- claims 8-10: sharedctypes and a Manager ------------------------------------------------


COMPLEX = {
    "a dataclass with a dict inside": lambda: tasks.Record("a", {"b": [1, 2]}),
    "a dict of lists": lambda: {"x": [1, 2, 3], "y": [4]},
    "a set of tuples": lambda: {(1, 2), (3, 4)},
    "a function made on the fly (lambda)": lambda: (lambda x: x),
    "an object holding a lock": lambda: {"lock": threading.Lock()},
}


def sharing_figures(items: int = 1000, reads: int = 300) -> dict:
    """sharedctypes against a Manager reached over TCP: speed, reach, and what each can hold.

    Returns "array_s" and "proxy_s" (seconds per read of one item: a lock-guarded
    sharedctypes Array, a Manager list proxy), "speed" (proxy_s / array_s, x), "refused"
    (True when pickling a sharedctypes array for another process is refused), "tcp" (the
    Manager's address is a TCP host and port), "calls_per_s" (proxy calls answered per
    second), "manager_shared" and "ctypes_shared" (how many of COMPLEX round-trip), "of"
    (len(COMPLEX)) and "nested_lost" (a change inside an object held by a proxy was lost).
    """
    ctx = mp_context()
    array = ctx.Array(ctypes.c_double, items)
    try:
        pickle.dumps(array)
        refused = False
    except RuntimeError:  # "should only be shared between processes through inheritance"
        refused = True
    with managers.SyncManager(address=("127.0.0.1", 0), authkey=os.urandom(16), ctx=ctx) as m:
        proxy = m.list([0.0] * items)
        seconds = median_seconds({
            "array": lambda: [array[i] for i in range(reads)],
            "proxy": lambda: [proxy[i] for i in range(reads)],
        }, 3)
        held = m.dict()
        shared = sum(_round_trip(held, make()) for make in COMPLEX.values())
        held["rows"] = {"a": []}
        held["rows"]["a"].append(1)  # changes a copy: the proxy hands out copies of values
        nested_lost = held["rows"] == {"a": []}
        tcp = isinstance(m.address, tuple)
    per_read = {f"{name}_s": s / reads for name, s in seconds.items()}  # array_s, proxy_s
    return {
        **per_read,
        "speed": per_read["proxy_s"] / per_read["array_s"],
        "refused": refused,
        "tcp": tcp,
        "calls_per_s": 1 / per_read["proxy_s"],
        "manager_shared": shared,
        "ctypes_shared": sum(_into_ctypes(make()) for make in COMPLEX.values()),
        "of": len(COMPLEX),
        "nested_lost": nested_lost,
    }


def _round_trip(held, value) -> bool:
    try:
        held["value"] = value
        return held["value"] == value
    except Exception:  # a value pickle refuses: the Manager cannot hold it
        return False


def _into_ctypes(value) -> bool:
    try:
        sharedctypes.RawValue(type(value), value)
    except TypeError:  # sharedctypes hold ctypes types (numbers, arrays, structures) only
        return False
    return True


# -- claim 11: Redis ------------------------------------------------------------------------


REDIS_VALUES = {"an int": 42, "a float": 2.5, "a str": "text", "a list": [1, 2], "a dict": {"a": 1}}


def redis_figures() -> dict | None:
    """What comes back from Redis unchanged, without our own serialisation. None: no Redis.

    Returns "unchanged" (how many of REDIS_VALUES came back equal and of the same type),
    "of", "refused" (values redis-py would not send at all) and "seconds" (start-up of
    the server, s).
    """
    from ...servers import redis as redis_servers

    if redis_servers.find_redis_server() is None:
        return None
    import redis

    unchanged = refused = 0
    with redis_servers.redis_server() as server, server.client() as client:
        for key, value in REDIS_VALUES.items():
            try:
                client.set(key, value)
            except redis.DataError:  # "Convert to a bytes, string, int or float first"
                refused += 1
                continue
            back = client.get(key)
            unchanged += type(back) is type(value) and back == value
        seconds = server.start_seconds
    return {"unchanged": unchanged, "of": len(REDIS_VALUES), "refused": refused, "seconds": seconds}


# -- claim 12: a C buffer over copy-on-write --------------------------------------------------


def numpy_copies(workers: int = 2, size_mib: int = 32) -> dict:
    """A numpy array in a module global, read whole by `workers` pool workers.

    Under fork the workers inherit it: reading a C buffer writes nothing, so it stays one
    copy. Under spawn and forkserver each worker builds it again (tasks.keep_array), as a
    script's module-level code runs again. Returns "per_worker" (copies each worker came to
    hold alone, the median) and "correct" (every worker summed the same array).
    """
    size = size_mib * MiB // 8
    tasks.array = __import__("numpy").arange(size, dtype="float64")
    try:
        with mp_context().Pool(workers, initializer=tasks.keep_array, initargs=(size,)) as pool:
            reports = pool.map(tasks.sum_array, [None] * workers, chunksize=1)
            pool.close()
            pool.join()
    finally:
        expected = float(tasks.array.sum())
        tasks.array = None
    grown = sorted(r["grown"] for r in reports)
    return {
        "per_worker": grown[len(grown) // 2] / (size * 8),
        "correct": all(r["sum"] == expected for r in reports),
        "workers": workers,
    }
