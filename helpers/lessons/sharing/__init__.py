"""Lesson 05: sharing data between processes, every strategy measured on the same task.

Introduced in 05_sharing_memory.ipynb (claim C7). compare() gives each strategy of
helpers.lessons.sharing.stores the same job (workers read shared data, then write it) and measures
throughput, memory (PSS), start-up cost and whether the parent sees the writes.
lost_updates() counts updates lost without a lock; redis_costs() measures what Redis adds
(round trips, serialising); shm_life_cycle() shows a shared-memory segment's life.

    compare()                            for each strategy, under measure():
      store = Strategy.create(n)           parent fills 0..n-1
      process_pool(initializer=attach) ->  workers attach, meet at a barrier, then
                                           read all, read items, write items (MARK)
      parent checks a few written items    ... destroy(): nothing left behind
"""

from __future__ import annotations

import json
import pickle
import statistics
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np

from ...course.check import Effect, at_least, at_most
from ...machine import (
    memory_budget_bytes,
    mp_context,
    require_size,
    require_workers,
    small_machine,
    start_method,
    usable_cores,
)
from ...probes import Measurement, measure
from ...results import Result
from ...runner import process_pool, wait
from ...servers.redis import HOW_TO_GET_REDIS, find_redis_server, redis_server
from ...units import MiB
from ...workloads import sharing as work
from . import charts, lifecycle
from . import stores as sharing

DEFAULT_STRATEGIES = (
    "fork",
    "array",
    "rawarray",
    "shared_memory",
    "memmap",
    "manager_list",
    "manager_dict",
    "manager_namespace",
    "redis",
)
COUNTER_STRATEGIES = ("value", "rawarray", "shared_memory", "manager_dict", "redis")
TIMEOUT = 120.0  # seconds for one strategy's workers; far above what any of them needs


def default_size_mb() -> int:
    """The lesson's data size: 16 MiB, or 10 MiB on a small machine (HELPERS_SMALL, Binder)."""
    return 10 if small_machine() else 16


def _require_seconds(seconds: object) -> float:
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 10:
        raise ValueError(f"seconds per phase must be a number from 0 to 10, got {seconds!r}")
    return float(seconds)


def strategies() -> Result:
    """The strategies side by side: what each can share, its reach, its clean-up (no measurement)."""
    return Result(
        title="The sharing strategies in helpers.lessons.sharing.stores",
        params={"Redis server": find_redis_server() or "none found"},
        rows=sharing.describe(),
    )


# -- the common task -----------------------------------------------------------------------


@dataclass
class StrategyRun:
    """One strategy through the common task. Rates are per second, summed over workers."""

    name: str
    skipped: str = ""
    start_method: str = ""
    create_s: float = 0.0
    attach_s: float = 0.0
    bulk_mib_s: float | None = None
    reads_per_s: float | None = None
    writes_per_s: float | None = None
    writes_seen: int | None = None  # of the written items the parent looked at
    writes_checked: int = 0
    memory_bytes: int | None = None  # PSS growth beyond the reference run (the workers)
    measurement: Measurement | None = field(default=None, repr=False)

    @property
    def startup_s(self) -> float:
        return self.create_s + self.attach_s


@dataclass
class CompareResult(Result):
    """Each strategy's throughput, memory and start-up cost on the same task."""

    size_bytes: int = 0
    workers: int = 0
    runs: list[StrategyRun] = field(default_factory=list)
    # start method -> PSS growth of the same task on 8 KiB: the workers' own cost
    reference_bytes: dict[str, int] = field(default_factory=dict)

    def run(self, name: str) -> StrategyRun:
        """The run of strategy name (ValueError if it was not part of this comparison)."""
        for r in self.runs:
            if r.name == name:
                return r
        raise ValueError(f"{name!r} was not compared here; compared: {[r.name for r in self.runs]}")

    @property
    def measured(self) -> list[StrategyRun]:
        return [r for r in self.runs if not r.skipped]

    def ratio(self, fast: str, slow: str, metric: str = "reads_per_s") -> float | None:
        """How many times fast's metric exceeds slow's (None if either was skipped)."""
        a, b = getattr(self.run(fast), metric), getattr(self.run(slow), metric)
        return None if not a or not b else a / b

    def plot(self):
        return [self.plot_throughput(), self.plot_memory(), self.plot_startup()]

    def plot_throughput(self):
        return charts.throughput(self.measured, workers=self.workers)

    def plot_memory(self):
        return charts.memory(self.measured, self.size_bytes, workers=self.workers)

    def plot_startup(self):
        return charts.startup(self.measured)


REFERENCE_ITEMS = 1024  # the reference run: the same task on 8 KiB, to subtract the workers
HOLD = 0.2  # seconds the workers stay idle at the end, so the (low-priority) sampler sees them


def _run_strategy(
    name: str,
    n: int,
    workers: int,
    seconds: float,
    write: bool,
    interval: float,
    timeout: float,
    method: str | None = None,
) -> StrategyRun:
    cls = sharing.strategy(name)
    method = method or cls.start_method or start_method()
    ctx = mp_context(method)
    barrier, lock = ctx.Barrier(workers), ctx.Lock()
    store = None
    try:
        with measure(interval=interval) as m:
            started = time.perf_counter()
            store = cls.create(n, ctx)
            create_s = time.perf_counter() - started
            with process_pool(
                workers,
                start_method=method,
                initializer=work.attach,
                initargs=(name, store.handle(), barrier, lock),
            ) as pool:
                tasks = [(seconds, seed, write, HOLD) for seed in range(workers)]
                outs = wait(pool.starmap_async(work.read_and_write, tasks), timeout)
        # after the measurement, so the parent's look does not count in the memory peak
        sample = [i for out in outs for i in out["written"]]
        seen = sum(v == work.MARK for v in store.get_many(sample)) if write else None
    finally:
        if store is not None:
            store.destroy()
    size = n * sharing.ITEM_BYTES
    return StrategyRun(
        name=name,
        start_method=method,
        create_s=create_s,
        attach_s=statistics.median(o["attach_s"] for o in outs),
        bulk_mib_s=size * workers / MiB / max(o["bulk_s"] for o in outs),
        reads_per_s=sum(o["reads"] / o["read_s"] for o in outs),
        writes_per_s=sum(o["writes"] / o["write_s"] for o in outs) if write else None,
        writes_seen=seen,
        writes_checked=len(sample),
        memory_bytes=_growth_while_working(m),
        measurement=m,
    )


def _growth_while_working(m: Measurement) -> int:
    """Peak PSS total while the workers ran their tasks, minus the total before the block.

    Samples taken while processes are being forked can count the parent's pages twice (the
    sampler reads the parent before a fork and the child after it), so the peak is taken
    only between the first task's start and the last task's end, which includes the
    workers' idle hold, when the sampler always gets its turn.
    """
    metric = m.total_metric
    if not m.tasks:
        return m.growth(metric)
    start, end = min(t.start for t in m.tasks), max(t.end for t in m.tasks)
    during = [total for t, total in m.totals(metric) if start <= t <= end]
    return (max(during) if during else m.peak(metric)) - m.baseline(metric)


def compare(
    size_mb: float | None = None,
    strategies: tuple[str, ...] | list[str] = DEFAULT_STRATEGIES,
    *,
    workers: int = 2,
    seconds: float = 0.3,
    write: bool = True,
    interval: float = 0.03,
    timeout: float = TIMEOUT,
) -> CompareResult:
    """Put each strategy through the same task: workers read shared data, then write it.

    size_mb: the data's size (default: default_size_mb(); past the memory budget raises
    ValueError). Each worker reads all the data once, then random items one at a time for
    `seconds`, then (if write) writes random items for `seconds`. Strategies that cannot run
    here (no fork, no Redis, over the memory budget) get a row that says why.
    """
    names = sharing.require_strategies(strategies)
    require_workers(workers)
    seconds = _require_seconds(seconds)
    size_mb = default_size_mb() if size_mb is None else size_mb
    if isinstance(size_mb, bool) or not isinstance(size_mb, (int, float)) or size_mb <= 0:
        raise ValueError(f"size_mb must be a positive number of MiB, got {size_mb!r}")
    size = require_size(int(size_mb * MiB), what="the shared data")
    n = size // sharing.ITEM_BYTES
    if any(sharing.strategy(name).name == "value" for name in names):
        raise ValueError("'value' holds one number, not an array: compare it in lost_updates()")
    result = CompareResult(
        title=f"{workers} workers share {size / MiB:.0f} MiB: every strategy, the same task",
        params={
            "size_mb": size_mb,
            "strategies": names,
            "workers": workers,
            "seconds": seconds,
            "write": write,
        },
        size_bytes=size,
        workers=workers,
    )
    budget = memory_budget_bytes()
    _start_helpers({sharing.strategy(name).start_method or start_method() for name in names})
    for name in names:
        cls = sharing.strategy(name)
        need = cls.footprint(size, workers)
        reason = cls.unavailable()
        if not reason and need > budget:
            reason = (
                f"needs about {need / MiB:.0f} MiB here, over this machine's memory budget of "
                f"{budget / MiB:.0f} MiB: try a smaller size_mb"
            )
        if reason:
            result.runs.append(StrategyRun(name=name, skipped=reason))
            continue
        method = cls.start_method or start_method()
        if method not in result.reference_bytes:
            reference = _run_strategy(
                "rawarray", REFERENCE_ITEMS, workers, seconds, write, interval, timeout, method
            )
            result.reference_bytes[method] = reference.memory_bytes
        run = _run_strategy(name, n, workers, seconds, write, interval, timeout)
        run.memory_bytes = max(0, run.memory_bytes - result.reference_bytes[method])
        result.runs.append(run)
    result.rows = [_row(r, size) for r in result.runs]
    result.findings = _compare_findings(result)
    return result


def _start_helpers(methods: set[str]) -> None:
    """Start multiprocessing's own helper processes now, so no strategy's memory includes them.

    The resource tracker (shared_memory and named semaphores use it) and the forkserver are
    one process each per program; they would otherwise start inside whichever measurement
    needs them first, and count as that strategy's memory.
    """
    if sys.platform != "win32":
        from multiprocessing import resource_tracker

        resource_tracker.ensure_running()
    if "forkserver" in methods:
        from multiprocessing import forkserver

        forkserver.ensure_running()


def _row(r: StrategyRun, size: int) -> dict:
    cls = sharing.strategy(r.name)
    row = {"strategy": r.name}
    if r.skipped:
        row.update(
            {
                "item reads/s": None,
                "item writes/s": None,
                "read all (MiB/s)": None,
                "parent sees writes": f"skipped: {r.skipped}",
                "memory (MiB)": None,
                "memory ÷ data": None,
                "start-up (ms)": None,
            }
        )
    else:
        row.update(
            {
                "item reads/s": r.reads_per_s,
                "item writes/s": r.writes_per_s,
                "read all (MiB/s)": r.bulk_mib_s,
                "parent sees writes": "n/a"
                if r.writes_seen is None
                else f"{r.writes_seen} of {r.writes_checked}",
                "memory (MiB)": r.memory_bytes / MiB,
                "memory ÷ data": r.memory_bytes / size,
                "start-up (ms)": r.startup_s * 1000,
            }
        )
    row.update(
        {"can share": cls.shares, "across machines": cls.across_machines, "clean-up": cls.cleanup}
    )
    return row


def _compare_findings(result: CompareResult) -> list[str]:
    runs = result.measured
    if not runs:
        return ["No strategy could run here: see the table for why."]
    findings = []
    fastest = max(runs, key=lambda r: r.reads_per_s)
    slowest = min(runs, key=lambda r: r.reads_per_s)
    times = fastest.reads_per_s / slowest.reads_per_s
    findings.append(
        f"Item reads: {fastest.name} did {fastest.reads_per_s:,.0f} per second, "
        f"{times:,.1f}x as many as {slowest.name} ({slowest.reads_per_s:,.0f} per second)."
        if times < 10
        else f"Item reads: {fastest.name} did {fastest.reads_per_s:,.0f} per second, "
        f"{times:,.0f}x as many as {slowest.name} ({slowest.reads_per_s:,.0f} per second)."
    )
    lost = [r for r in runs if r.writes_seen is not None and r.writes_seen == 0]
    for r in lost:
        findings.append(
            f"{r.name}: the parent saw none of the {r.writes_checked} writes it checked; "
            "each worker wrote to its own copy."
        )
    one_copy = [r.name for r in runs if r.memory_bytes / result.size_bytes < 1.5]
    many = [r for r in runs if r.memory_bytes / result.size_bytes >= 1.5]
    if one_copy:
        findings.append(
            f"About one copy of the data in memory (PSS, under 1.5x): {', '.join(one_copy)}."
        )
    if many:
        worst = max(many, key=lambda r: r.memory_bytes)
        findings.append(
            f"More than one copy: {', '.join(r.name for r in many)}; the most was {worst.name} with "
            f"{worst.memory_bytes / MiB:.0f} MiB, {worst.memory_bytes / result.size_bytes:.1f}x the data."
        )
    slow_start = max(runs, key=lambda r: r.startup_s)
    findings.append(
        f"Slowest start-up: {slow_start.name}, {slow_start.startup_s * 1000:.0f} ms to create the data "
        "and attach the workers."
    )
    skipped = [r for r in result.runs if r.skipped]
    for r in skipped:
        findings.append(f"{r.name} was skipped: {r.skipped}")
    if usable_cores() < 2:
        findings.append(
            "With 1 usable core the workers took turns, so the rates are those of one process at a time."
        )
    return findings


# -- lost updates --------------------------------------------------------------------------


@dataclass
class LostUpdatesResult(Result):
    """Updates lost when workers add to one shared counter, without and with protection."""

    workers: int = 0

    def plot(self):
        return charts.lost_updates(self.rows, workers=self.workers)


def lost_updates(
    strategies: tuple[str, ...] | list[str] = COUNTER_STRATEGIES,
    *,
    workers: int = 2,
    seconds: float = 0.3,
    timeout: float = TIMEOUT,
) -> LostUpdatesResult:
    """Workers add 1 to one shared counter for `seconds`, unprotected, then protected.

    Unprotected, each addition reads the value and writes it back plus one, so two workers
    can both read 5 and both write 6: one update is lost. Protected uses each strategy's way
    (a lock, or an addition the server does in one step). Counts lost = made - final value.
    """
    names = sharing.require_strategies(strategies)
    require_workers(workers)
    seconds = _require_seconds(seconds)
    rows = []
    for name in names:
        cls = sharing.strategy(name)
        reason = cls.unavailable()
        if reason:
            rows.append({"strategy": name, "skipped": reason})
            continue
        method = cls.start_method or start_method()
        ctx = mp_context(method)
        barrier, lock = ctx.Barrier(workers), ctx.Lock()
        row: dict = {"strategy": name}
        with (
            sharing.open_store(name, 1, ctx) as store,
            process_pool(
                workers,
                start_method=method,
                initializer=work.attach,
                initargs=(name, store.handle(), barrier, lock),
            ) as pool,
        ):
            for safely in (False, True):
                store.set(0, 0)
                counts = wait(
                    pool.starmap_async(work.count_up, [(seconds, safely)] * workers), timeout
                )
                made, final = sum(counts), store.get(0)
                key = "protected" if safely else "unprotected"
                row[f"additions ({key})"] = made
                row[f"lost ({key})"] = made - final
                row[f"lost % ({key})"] = 100 * (made - final) / made
        row["protection"] = cls.protected_by
        rows.append(row)
    result = LostUpdatesResult(
        title=f"{workers} workers add 1 to one shared counter for {seconds:g} s",
        params={"strategies": names, "workers": workers, "seconds": seconds},
        rows=rows,
        workers=workers,
    )
    result.findings = _lost_findings(rows, workers)
    return result


def _lost_findings(rows: list[dict], workers: int) -> list[str]:
    findings = []
    measured = [r for r in rows if "skipped" not in r]
    losing = [r for r in measured if r["lost (unprotected)"] > 0]
    if losing:
        findings.append(
            "Unprotected, updates were lost with "
            + "; ".join(
                f"{r['strategy']} ({r['lost (unprotected)']:,} of {r['additions (unprotected)']:,})"
                for r in losing
            )
            + "."
        )
    clean = [r["strategy"] for r in measured if r["lost (unprotected)"] == 0]
    if clean:
        why = (
            " With 1 usable core the workers rarely switch between a read and its write."
            if usable_cores() < 2
            else " They may still lose updates on another run: the race is a matter of timing."
        )
        findings.append(f"Unprotected, no update was lost this time with {', '.join(clean)}.{why}")
    protected_lost = [r for r in measured if r["lost (protected)"] != 0]
    if protected_lost:
        findings.append(
            "Protected, updates were STILL lost with "
            + ", ".join(r["strategy"] for r in protected_lost)
            + ": that protection does not work."
        )
    elif measured:
        findings.append("Protected, no update was lost with any strategy.")
    for r in rows:
        if "skipped" in r:
            findings.append(f"{r['strategy']} was skipped: {r['skipped']}")
    return findings


# -- Redis: round trips and serialising ----------------------------------------------------


@dataclass
class RedisResult(Result):
    """What talking to Redis costs: round trips, pipelining, and serialising values."""

    skipped: str = ""
    trips: list[dict] = field(default_factory=list)
    start_seconds: float = 0.0
    round_trip_s: float | None = None

    def _repr_html_(self) -> str:
        from ...results import html_table

        return super()._repr_html_() + "<p><b>Round trips</b></p>" + html_table(self.trips)

    def __str__(self) -> str:
        from ...results import text_table

        return super().__str__() + "\n\nRound trips\n" + text_table(self.trips)

    def plot(self):
        return [self.plot_serialising(), self.plot_round_trips()]

    def plot_serialising(self):
        if self.skipped:
            return charts.message("Redis experiment skipped", self.skipped)
        return charts.serialising(self.rows)

    def plot_round_trips(self):
        if self.skipped:
            return charts.message("Redis experiment skipped", self.skipped)
        return charts.round_trips(self.trips)


def _interleaved(variants: dict[str, object], repeats: int) -> dict[str, float]:
    """Median seconds per call of each variant (a function of no arguments), timed in turns.

    Each round times every variant once, in an order that alternates between rounds, so a
    busy spell of the machine hits them all alike. A variant is called often enough per
    round to last about 5 ms, so microsecond calls are not lost in the clock's noise.
    """
    calls = {}
    for name, func in variants.items():
        started = time.perf_counter()
        func()
        calls[name] = max(1, min(1000, int(0.005 / max(time.perf_counter() - started, 1e-7))))
    times: dict[str, list[float]] = {name: [] for name in variants}
    for round_ in range(repeats):
        order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
        for name in order:
            func, count = variants[name], calls[name]
            started = time.perf_counter()
            for _ in range(count):
                func()
            times[name].append((time.perf_counter() - started) / count)
    return {name: statistics.median(values) for name, values in times.items()}


RECORD = "a record (dict)"


def _payloads(array_items: int) -> dict[str, object]:
    rng = np.random.default_rng(5)
    record = {"id": 42, "name": "sensor-42", "ok": True, "readings": rng.random(10).tolist()}
    return {RECORD: record, f"{array_items:,} float64 (numpy)": rng.random(array_items)}


def _formats(payload) -> dict[str, tuple]:
    """format -> (encode, decode) for this payload; raw bytes only where the layout is fixed."""
    formats = {"pickle": (pickle.dumps, pickle.loads)}
    if isinstance(payload, np.ndarray):
        formats["JSON"] = (lambda a: json.dumps(a.tolist()), lambda s: np.array(json.loads(s)))
        dtype = payload.dtype
        formats["raw bytes"] = (lambda a: a.tobytes(), lambda b: np.frombuffer(b, dtype=dtype))
    else:
        formats["JSON"] = (json.dumps, json.loads)
    return formats


def redis_round_trip(client, count: int = 1000, repeats: int = 5) -> float:
    """Median seconds for one PING and its answer, over `repeats` runs of `count` pings."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(count):
            client.ping()
        times.append((time.perf_counter() - started) / count)
    return statistics.median(times)


def redis_costs(
    *, operations: int = 1000, repeats: int = 5, array_items: int = 20_000, batch: int = 100
) -> RedisResult:
    """Start a private Redis server and measure round trips, pipelining and serialising.

    Round trips: `operations` SETs one by one, pipelined in batches of `batch`, and in one
    pipeline, the three ways alternated `repeats` times (medians). Serialising: a small record
    and an array of `array_items` float64 in pickle, JSON and raw bytes: size, time to encode
    and decode, and a SET plus GET with decoding. Without a server, the result says how to
    get one and nothing fails.
    """
    for what, value in (
        ("operations", operations),
        ("repeats", repeats),
        ("array_items", array_items),
        ("batch", batch),
    ):
        require_workers(value, what=what)
    title = "What Redis costs: round trips and serialising"
    params = {
        "operations": operations,
        "repeats": repeats,
        "array_items": array_items,
        "batch": batch,
    }
    if find_redis_server() is None:
        return RedisResult(
            title=title, params=params, skipped=HOW_TO_GET_REDIS, findings=[HOW_TO_GET_REDIS]
        )
    with redis_server() as server, ExitStack() as stack:
        client = stack.enter_context(server.client())
        round_trip = redis_round_trip(client, operations, repeats)
        trips = _trips(client, operations, repeats, batch)
        rows = _serialising(client, array_items, repeats)
    result = RedisResult(
        title=title,
        params=params,
        rows=rows,
        trips=trips,
        start_seconds=server.start_seconds,
        round_trip_s=round_trip,
    )
    result.findings = _redis_findings(result, batch)
    return result


def _trips(client, operations: int, repeats: int, batch: int) -> list[dict]:
    keys = [f"k{i}" for i in range(operations)]

    def one_by_one():
        for key in keys:
            client.set(key, b"1")

    def pipelined(size: int):
        with client.pipeline(transaction=False) as pipe:
            for start in range(0, operations, size):
                for key in keys[start : start + size]:
                    pipe.set(key, b"1")
                pipe.execute()  # one round trip carries the whole batch

    seconds = _interleaved(
        {
            "one by one": one_by_one,
            f"pipelined, batches of {batch}": lambda: pipelined(batch),
            f"one pipeline of {operations}": lambda: pipelined(operations),
        },
        repeats,
    )
    client.delete(*keys)
    return [
        {
            "way": way,
            "operations/s": operations / took,
            "µs per operation": took / operations * 1e6,
        }
        for way, took in seconds.items()
    ]


def _serialising(client, array_items: int, repeats: int) -> list[dict]:
    rows = []
    for payload_name, payload in _payloads(array_items).items():
        rows += _serialising_one(client, payload_name, payload, repeats)
    client.delete("payload")
    return rows


def _serialising_one(client, payload_name: str, payload, repeats: int) -> list[dict]:
    """One payload in each format: size, encode and decode time, SET + GET + decode time."""
    formats = _formats(payload)
    encoded = {fmt: encode(payload) for fmt, (encode, _) in formats.items()}

    def round_trip(encode, decode):
        client.set("payload", encode(payload))
        decode(client.get("payload"))

    # default arguments bind each format's functions now, not when the lambda runs
    encode_s = _interleaved({f: lambda e=e: e(payload) for f, (e, _) in formats.items()}, repeats)
    decode_s = _interleaved(
        {f: lambda d=d, f=f: d(encoded[f]) for f, (_, d) in formats.items()}, repeats
    )
    trip_s = _interleaved(
        {f: lambda e=e, d=d: round_trip(e, d) for f, (e, d) in formats.items()}, repeats
    )
    return [
        {
            "payload": payload_name,
            "format": fmt,
            "size (KiB)": len(data.encode() if isinstance(data, str) else data) / 1024,
            "encode (µs)": encode_s[fmt] * 1e6,
            "decode (µs)": decode_s[fmt] * 1e6,
            "SET + GET + decode (µs)": trip_s[fmt] * 1e6,
        }
        for fmt, data in encoded.items()
    ]


def _redis_findings(result: RedisResult, batch: int) -> list[str]:
    findings = [
        f"The server started in {result.start_seconds * 1000:.0f} ms; one round trip (PING) took "
        f"a median {result.round_trip_s * 1e6:.0f} µs."
    ]
    trips = {row["way"]: row["operations/s"] for row in result.trips}
    single = trips["one by one"]
    batched = trips[f"pipelined, batches of {batch}"]
    findings.append(
        f"Pipelining in batches of {batch} did {batched:,.0f} SETs per second against {single:,.0f} "
        f"one by one: {batched / single:.1f}x, because {batch} commands share one round trip."
    )
    by_key = {(r["payload"], r["format"]): r for r in result.rows}
    arrays = [k for k in by_key if k[0] != RECORD]
    if arrays:
        payload = arrays[0][0]
        raw, js = by_key[(payload, "raw bytes")], by_key[(payload, "JSON")]
        findings.append(
            f"For {payload}: JSON took {js['size (KiB)'] / raw['size (KiB)']:.1f}x the bytes of raw "
            f"bytes and {js['SET + GET + decode (µs)'] / raw['SET + GET + decode (µs)']:.0f}x the time "
            "to store, fetch and decode."
        )
    pk, js = by_key[(RECORD, "pickle")], by_key[(RECORD, "JSON")]
    codec = {f: r["encode (µs)"] + r["decode (µs)"] for f, r in (("pickle", pk), ("JSON", js))}
    findings.append(
        f"For a small record, encoding plus decoding took {codec['pickle']:.1f} µs with pickle and "
        f"{codec['JSON']:.1f} µs with JSON, out of {pk['SET + GET + decode (µs)']:.0f} and "
        f"{js['SET + GET + decode (µs)']:.0f} µs for the whole SET + GET: the round trips "
        f"were {1 - codec['JSON'] / js['SET + GET + decode (µs)']:.0%} of the JSON time."
    )
    return findings


# -- the shared_memory life cycle ----------------------------------------------------------


@dataclass
class LifeCycleResult(Result):
    """What happened to a shared-memory segment in each scenario."""

    def plot(self):
        return charts.message(self.title, "This experiment is a table: it has no chart.")


def shm_life_cycle() -> LifeCycleResult:
    """Run each shared_memory life-cycle scenario (in fresh processes) and say what was left."""
    rows = lifecycle.scenarios()
    result = LifeCycleResult(
        title="A shared-memory segment's life: who closes, who unlinks", params={}, rows=rows
    )
    result.findings = [f"{r['scenario']}: {r['outcome']}" for r in rows]
    return result


# -- exercise feedback -----------------------------------------------------------------------


def feedback_lost_prediction(prediction: bool | None, result: LostUpdatesResult) -> bool | None:
    """Exercise 2: compare a learner's prediction (updates lost: True/False) with the run."""
    from ...course.feedback import feedback

    if prediction is None:
        print("➡️  Set your prediction to True or False in the cell above, run it, then this one.")
        return None
    row = result.rows[0]
    lost, made = row["lost (unprotected)"], row["additions (unprotected)"]
    why = "its lock is taken for the read and again for the write, never around both"
    if lost > 0:
        seen = f"unprotected, {row['strategy']} lost {lost:,} of {made:,} additions in this run"
    else:
        seen = (
            f"this run happened to lose none of {made:,} additions (with 1 usable core, or a "
            "quiet spell, the workers rarely switch between a read and its write)"
        )
    return feedback(
        prediction is True,
        f"Right: {seen}; {why}.",
        f"Updates can be lost: {seen}; {why}.",
    )


def feedback_segment_released(name: str) -> bool:
    """Exercise 3: was segment name closed and unlinked? Removes it if it was left behind."""
    from ...course.feedback import feedback

    left = lifecycle.segment_exists(name)
    if left:
        lifecycle.remove_segment(name)
    return feedback(
        not left,
        f"Nothing left behind: {name} is gone.",
        f"{name} was still there after the function returned (this check removed it now). "
        "Before returning, call shm.close() and then shm.unlink().",
    )


# -- the pre-class check -------------------------------------------------------------------


def item_read_ratio(
    fast: str = "shared_memory",
    slow: str = "manager_list",
    *,
    seconds: float = 0.1,
    repeats: int = 5,
    items: int = 1 << 16,
) -> float:
    """How many times more items per second `fast` reads than `slow`, in this process.

    The two are timed alternately, `seconds` each, `repeats` times; the median ratio is kept.
    """
    rng = np.random.default_rng(0)
    ratios = []
    with sharing.open_store(fast, items) as a, sharing.open_store(slow, items) as b:

        def pick(size):
            return rng.integers(0, items, size).tolist()

        for repeat in range(repeats):
            rates = {}
            for store in (a, b) if repeat % 2 == 0 else (b, a):
                done, took = sharing.timed_ops(store.read, pick, seconds)
                rates[store.name] = done / took
            ratios.append(rates[a.name] / rates[b.name])
    return statistics.median(ratios)


def check_effects(quick: bool = True) -> list[Effect]:
    """The sharing section of python -m helpers check."""
    lesson = "sharing"
    effects = [
        at_least(
            lesson,
            "shared_memory vs Manager list: item reads per second",
            item_read_ratio(seconds=0.1 if quick else 0.3),
            10,
        )
    ]
    if find_redis_server() is None:
        effects.append(
            Effect(
                lesson, "Redis round trip", "<= 1000 µs", None, " µs", None, "no redis-server found"
            )
        )
    else:
        with redis_server() as server, server.client() as client:
            rtt = redis_round_trip(client, 500 if quick else 2000)
        effects.append(
            at_most(lesson, "Redis round trip (PING, Unix socket)", rtt * 1e6, 1000, unit=" µs")
        )
    counted = lost_updates(("value",), seconds=0.3 if quick else 1.0)
    row = counted.rows[0]
    effects.append(
        at_least(
            lesson,
            "lost updates, Value += 1 without its lock",
            row["lost (unprotected)"],
            1,
            unit=" updates",
            cores=2,
        )
    )
    effects.append(
        at_most(
            lesson,
            "lost updates, Value += 1 under its lock",
            row["lost (protected)"],
            0,
            unit=" updates",
        )
    )
    return effects

# python -m helpers run NAME: experiment name -> function of this package (helpers.course.registry)
EXPERIMENTS = {
    "sharing-compare": "compare",
    "sharing-lost-updates": "lost_updates",
    "sharing-redis": "redis_costs",
    "sharing-life-cycle": "shm_life_cycle",
}
