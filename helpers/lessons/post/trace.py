"""``python -m helpers.lessons.post.trace [--start-method M] PROGRAM [ARGS...]``: run a script as
``python PROGRAM ARGS`` would, and count what its pools' tasks sent back to the parent.

Lesson 07, section 2: program 3 prints nothing and exits 0; where did its workers' errors go?

    parent (this process runs PROGRAM as __main__)          pool workers
    Pool's result-handler thread  <-- (job, chunk, (ok, value)) --  each task, done or failed
      counted here, then handed to the pool as usual
    AsyncResult.get() / error_callback: counted as "surfaced" when they deliver an error

Every task a pool runs sends its outcome back, failures included: a task that raised sends
(False, exception). The pool keeps the first failure of a map in its AsyncResult (which
program 3 never reads) and drops the rest. The counts are written as one line,
``TRACE_PREFIX + json``, on stderr when the program ends; programs.run_program() takes it off.
The tracer changes nothing the program does; --start-method sets multiprocessing's default
before the program runs, as another platform's default would (spawn on macOS and Windows).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import runpy
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from multiprocessing import pool as mp_pool

TRACE_PREFIX = "helpers-trace: "


@dataclass
class Tally:
    """What came back from the workers, counted in the parent. Lesson 07, section 2."""

    tasks_sent: int = 0  # chunks (map) or calls (apply_async) handed to the pool
    items_sent: int = 0  # items covered by those tasks
    results: int = 0  # task outcomes that reached the parent
    failed: Counter[str] = field(default_factory=Counter)  # exception type name -> tasks
    messages: Counter[str] = field(default_factory=Counter)  # "NameError: name 'x' ..." -> tasks
    surfaced: int = 0  # errors handed to the program by .get() or an error_callback


tally = Tally()
_lock = threading.Lock()  # guards tally: the result handler and the program's threads count


def _count_outcome(item) -> None:
    if item is None:  # the handler's stop signal
        return
    _job, _index, (ok, value) = item
    with _lock:
        tally.results += 1
        if not ok:
            tally.failed[type(value).__name__] += 1
            tally.messages[f"{type(value).__name__}: {value}"] += 1


_pools: list[mp_pool.Pool] = []  # every pool the program made, to read what it left unread


def _wrap_pool() -> None:
    """Note every pool (for _report) and count each outcome its result handler reads."""
    pool_init = mp_pool.Pool.__init__

    def noting_init(self, *args, **kwargs):
        _pools.append(self)
        pool_init(self, *args, **kwargs)

    handle_results = mp_pool.Pool._handle_results

    def counting_handler(outqueue, get, cache):
        def counted_get():
            item = get()
            _count_outcome(item)
            return item

        return handle_results(outqueue, counted_get, cache)

    mp_pool.Pool.__init__ = noting_init
    mp_pool.Pool._handle_results = staticmethod(counting_handler)


def _wrap_results() -> None:
    """Count the tasks result objects send, and the errors .get() or an error_callback deliver."""
    map_init = mp_pool.MapResult.__init__

    def counting_map_init(self, pool, chunksize, length, callback, error_callback):
        map_init(self, pool, chunksize, length, callback, error_callback)
        with _lock:
            tally.tasks_sent += self._number_left
            tally.items_sent += length

    apply_init = mp_pool.ApplyResult.__init__

    def counting_apply_init(self, pool, callback, error_callback):
        apply_init(self, pool, callback, error_callback)
        if type(self) is mp_pool.ApplyResult:
            with _lock:
                tally.tasks_sent += 1
                tally.items_sent += 1
        if error_callback is not None:
            def counted_callback(error, _deliver=self._error_callback):
                with _lock:
                    tally.surfaced += 1
                _deliver(error)

            self._error_callback = counted_callback

    get = mp_pool.ApplyResult.get

    def counting_get(self, timeout=None):
        try:
            return get(self, timeout)
        except multiprocessing.TimeoutError:
            raise
        except BaseException:
            with _lock:
                tally.surfaced += 1
            raise

    mp_pool.MapResult.__init__ = counting_map_init
    mp_pool.ApplyResult.__init__ = counting_apply_init
    mp_pool.ApplyResult.get = counting_get


def _report() -> None:
    """Count the outcomes still in each pool's pipe (its result handler stops reading once no
    result object waits, so a map's failures after its first may go unread); write the tally."""
    for pool in _pools:
        reader = getattr(pool._outqueue, "_reader", None)
        try:
            while reader is not None and reader.poll(0.05):
                _count_outcome(pool._outqueue.get())
        except (OSError, EOFError, ValueError):
            continue
    sys.stderr.write(TRACE_PREFIX + json.dumps(vars(tally)) + "\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.lessons.post.trace")
    parser.add_argument("--start-method", choices=multiprocessing.get_all_start_methods())
    parser.add_argument("program")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    if options.start_method:
        multiprocessing.set_start_method(options.start_method)
    _wrap_pool()  # both keep what they wrap doing as before
    _wrap_results()
    sys.argv = [options.program, *options.args]
    sys.path[0] = os.path.dirname(os.path.abspath(options.program))  # as `python PROGRAM` sets it
    try:
        runpy.run_path(options.program, run_name="__main__")
    finally:
        _report()
    return 0


if __name__ == "__main__":
    sys.exit(main())
