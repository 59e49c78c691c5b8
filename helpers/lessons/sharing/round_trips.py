"""Lesson 05, section 4: what talking to Redis costs, round trips and serialising.

Introduced in 05_sharing_memory.ipynb. redis_costs() starts a private server
(helpers.servers.redis) and times SETs one by one against pipelines, then a record and an
array stored as pickle, JSON and raw bytes. Every variant is timed with
helpers.timing.median_seconds (alternating rounds, medians).
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field

import numpy as np

from ...machine import require_workers
from ...results import Result, html_table, text_table
from ...servers.redis import HOW_TO_GET_REDIS, find_redis_server, redis_server
from ...timing import median_seconds
from . import charts


@dataclass
class RedisResult(Result):
    """What talking to Redis costs: round trips, pipelining, and serialising values."""

    skipped: str = ""
    trips: list[dict] = field(default_factory=list)
    start_seconds: float = 0.0
    round_trip_s: float | None = None

    def _repr_html_(self) -> str:
        return super()._repr_html_() + "<p><b>Round trips</b></p>" + html_table(self.trips)

    def __str__(self) -> str:
        return super().__str__() + "\n\nRound trips\n" + text_table(self.trips)

    def plot(self):
        return [self.plot_serialising(), self.plot_round_trips()]

    def plot_serialising(self):
        return self._why_skipped() or charts.serialising(self.rows)

    def plot_round_trips(self):
        return self._why_skipped() or charts.round_trips(self.trips)

    def _why_skipped(self):
        """A figure saying why the experiment was skipped (None when it ran)."""
        return charts.message("Redis experiment skipped", self.skipped) if self.skipped else None


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
    """Median seconds for one PING and its answer, over `repeats` runs of `count` pings.

    A round trip is the least any Redis command costs: socket, server, socket. Lesson 05,
    section 4; the pre-class check judges it.
    """

    def pings() -> None:
        for _ in range(count):
            client.ping()

    return median_seconds({"PING": pings}, repeats)["PING"] / count


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
    params = {"operations": operations, "repeats": repeats, "array_items": array_items,
              "batch": batch}
    for what, value in params.items():
        require_workers(value, what=what)
    title = "What Redis costs: round trips and serialising"
    if find_redis_server() is None:
        return RedisResult(
            title=title, params=params, skipped=HOW_TO_GET_REDIS, findings=[HOW_TO_GET_REDIS]
        )
    with redis_server() as server, server.client() as client:
        round_trip = redis_round_trip(client, operations, repeats)
        trips = _trips(client, operations, repeats, batch)
        rows = _serialising(client, array_items, repeats)
    result = RedisResult(title=title, params=params, rows=rows, trips=trips,
                         start_seconds=server.start_seconds, round_trip_s=round_trip)
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

    ways = {
        "one by one": one_by_one,
        f"pipelined, batches of {batch}": lambda: pipelined(batch),
        f"one pipeline of {operations}": lambda: pipelined(operations),
    }
    seconds = median_seconds(ways, repeats)
    client.delete(*keys)
    return [
        {"way": way, "operations/s": operations / took, "µs per operation": took / operations * 1e6}
        for way, took in seconds.items()
    ]


def _serialising(client, array_items: int, repeats: int) -> list[dict]:
    payloads = _payloads(array_items).items()
    rows = [row for name, data in payloads for row in _serialising_one(client, name, data, repeats)]
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
    encode_s = median_seconds({f: lambda e=e: e(payload) for f, (e, _) in formats.items()}, repeats)
    decode_s = median_seconds({f: lambda d=d, f=f: d(encoded[f]) for f, (_, d) in formats.items()},
                              repeats)
    trip_s = median_seconds({f: lambda e=e, d=d: round_trip(e, d) for f, (e, d) in formats.items()},
                            repeats)
    return [
        {"payload": payload_name, "format": fmt,
         "size (KiB)": len(data.encode() if isinstance(data, str) else data) / 1024,
         "encode (µs)": encode_s[fmt] * 1e6, "decode (µs)": decode_s[fmt] * 1e6,
         "SET + GET + decode (µs)": trip_s[fmt] * 1e6}
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
