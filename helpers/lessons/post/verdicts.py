"""The post's claims, one row each: holds, holds in part or does not hold, computed from this run.

Lesson 07, section 4. verdict_table() takes the figures the notebook measured (the corrected
program 3 per start method, and helpers.lessons.post.quick's experiments) and judges each
claim with the Rules of check.py: a claim holds where its main Rule holds, holds in part
where only its partial Rule does. No figure and no verdict is typed in here: a row without
its measurement says "not measured here" and why.
"""

from __future__ import annotations

import html
import platform
from dataclasses import dataclass, field

from ...course.check import Rule, needs_cores
from ...machine import start_method
from . import check as rules

HOLDS, PART, NOT, UNKNOWN = "holds", "holds in part", "does not hold", "not measured here"


@dataclass(frozen=True)
class Verdict:
    """One claim of the post: the verdict, the figures it came from, the reason, the lesson."""

    number: int
    claim: str
    verdict: str
    figures: list[tuple[Rule, float | None]] = field(default_factory=list)
    reason: str = ""
    lesson: str = ""

    def measured_text(self) -> str:
        return "; ".join(
            f"{r.effect}: {'–' if v is None else f'{v:.3g}{r.unit}'}" for r, v in self.figures
        )

    def threshold_text(self) -> str:
        return "; ".join(f"{r.op} {r.threshold:g}{r.unit}" for r, _ in self.figures)


def _judge(main: Rule, value: float | None, partial: Rule | None = None) -> str:
    if value is None:
        return UNKNOWN
    if main.holds(value):
        return HOLDS
    return PART if partial is not None and partial.holds(value) else NOT


def _both(*figures: tuple[Rule, float | None]) -> str:
    held = [None if value is None else rule.holds(value) for rule, value in figures]
    if None in held:
        return UNKNOWN
    return HOLDS if all(held) else PART if any(held) else NOT


def thread_rows(cpu: dict, io: dict) -> list[Verdict]:
    """Claims 1-3: CPU-bound threads and one core, switching costs, I/O-bound threads."""
    short = needs_cores(2)
    cores = None if short else cpu["cores"]
    return [
        Verdict(
            1, "Threads cannot use several cores for CPU-bound Python (the GIL)",
            _judge(rules.THREAD_CORES, cores), [(rules.THREAD_CORES, cores)],
            short or f"2 CPU-bound threads kept {cpu['cores']:.2f} cores busy: the GIL lets one run at a time",
            "03",
        ),
        Verdict(
            2, "Switching between CPU-bound threads makes them slower than one thread",
            _judge(rules.THREADS_SLOWER, cpu["slowdown"], rules.THREADS_NO_FASTER),
            [(rules.THREADS_SLOWER, cpu["slowdown"])],
            f"2 threads took {cpu['slowdown']:.2f}x the time of 1 thread for the same work: "
            "no gain; the loss from switching is small since the new GIL of Python 3.2",
            "03",
        ),
        Verdict(
            3, "Threads suit I/O-bound work",
            _judge(rules.IO_SPEEDUP, io["speedup"]), [(rules.IO_SPEEDUP, io["speedup"])],
            f"{io['threads']} threads finished the same waits {io['speedup']:.1f}x sooner: a waiting thread holds no GIL",
            "02",
        ),
    ]


def cost_row(costs: dict) -> Verdict:
    """Claim 4: processes cost more memory and more data exchange than threads."""
    ratio = costs["process_mib"] / max(costs["thread_mib"], rules.PAGE_MIB)
    figures = [(rules.MEMORY_PER_WORKER, ratio), (rules.EXCHANGE_COST, costs["exchange"])]
    return Verdict(
        4, "Processes cost more memory and more data exchange than threads",
        _both(*figures), figures,
        f"a pool worker took {costs['process_mib']:.1f} MiB (PSS), a thread {costs['thread_mib'] * 1024:.0f} KiB; "
        "data handed to a process is pickled and piped, a thread gets a reference",
        "01, 05",
    )


def copy_rows(copies, method: str) -> list[Verdict]:
    """Claims 5-7, from the corrected program 3 under `method`: copies and what a worker holds."""
    per_pss = copies.per_process(method, "post", "pss")
    per_rss = copies.per_process(method, "post", "rss")
    total = copies.copies(method, "post", "pss")
    distinct = copies.copies(method, "distinct", "pss")
    share = _worker_share(copies, method)
    one_copy = [(rules.FORK_ONE_COPY, total), (rules.DISTINCT_ONE_COPY, distinct)]
    forked = method == "fork"
    return [
        Verdict(
            5, "Pool(8) over a global read-only list holds 8 copies of it",
            _judge(rules.PSS_COPIES, per_pss), [(rules.PSS_COPIES, per_pss), (rules.RSS_COPIES, per_rss)],
            ("summing RSS counts each shared page once per process; PSS, which counts it once, shows the copies are not there"
             if forked else f"under {method} every worker runs the module's top level again and builds its own list"),
            "04, 07",
        ),
        Verdict(
            6, "multiprocessing copies all of the parent's resources into each worker",
            _judge(rules.WORKER_OWN_SHARE, share, rules.WORKER_SOME_SHARE),
            [(rules.WORKER_OWN_SHARE, share)],
            ("a forked worker shares its parent's pages and copies only those it writes"
             if forked else f"a {method} worker starts a fresh interpreter: it copies nothing, "
             "but rebuilds what the module's top level builds"),
            "04",
        ),
        Verdict(
            7, "Copy-on-write should have kept a single copy",
            _both(*one_copy), one_copy,
            ("the post's list stays one copy; reading distinct objects writes their reference counts, "
             "so the pages a worker reads are copied" if forked else
             f"{method} does not fork the parent, so there is nothing for copy-on-write to share"),
            "04",
        ),
    ]


def _worker_share(copies, method: str) -> float | None:
    """A worker's private memory as a share of its parent's, from the post's list run."""
    if (method, "post") not in copies.cases:
        return None
    run = copies.cases[(method, "post")].run
    parent = next((p for p in run.processes() if p.pid == run.pid), None)
    workers = [p.peak_uss for p in run.workers() if p.peak_uss is not None]
    if parent is None or not workers or not parent.peak_rss:
        return None
    return sorted(workers)[len(workers) // 2] / parent.peak_rss


def sharing_rows(sharing: dict, redis: dict | None, numpy: dict) -> list[Verdict]:
    """Claims 8-12: sharedctypes, a Manager, complex types, Redis, a C buffer over fork."""
    held = sharing["manager_shared"] / sharing["of"]
    redis_share = None if redis is None else redis["unchanged"] / redis["of"]
    method = start_method()
    refused = float(sharing["refused"])
    local = [(rules.MANAGER_SLOWER, sharing["speed"]), (rules.SHAREDCTYPES_LOCAL, refused)]
    tcp = sharing["calls_per_s"] if sharing["tcp"] else 0.0
    return [
        Verdict(
            8, "sharedctypes is faster than a Manager, but local only", _both(*local), local,
            f"a read through a Manager proxy took {sharing['speed']:.0f}x one from shared memory; "
            "sharedctypes refuse to be pickled: they reach a worker only when it starts",
            "05",
        ),
        Verdict(
            9, "A Manager can be reached from other machines",
            _judge(rules.MANAGER_OVER_TCP, tcp), [(rules.MANAGER_OVER_TCP, tcp)],
            "its server answered proxy calls over TCP; from another machine it needs the port open "
            "and the same authkey",
            "05",
        ),
        Verdict(
            10, "Complex custom data cannot be shared",
            _judge(rules.NOTHING_COMPLEX, held, rules.NOT_ALL_COMPLEX),
            [(rules.NOT_ALL_COMPLEX, held)],
            f"sharedctypes held {sharing['ctypes_shared']} of {sharing['of']} complex objects, a Manager "
            f"{sharing['manager_shared']} (what pickle accepts)"
            + ("; a change inside a held object was lost" if sharing["nested_lost"] else ""),
            "05",
        ),
        Verdict(
            11, "Redis needs the program to serialise every value itself",
            _judge(rules.REDIS_AS_IS, redis_share), [(rules.REDIS_AS_IS, redis_share)],
            "no redis-server here" if redis is None else
            f"{redis['unchanged']} of {redis['of']} Python values came back as themselves; "
            f"{redis['refused']} were refused outright",
            "05",
        ),
        Verdict(
            12, "A C extension relying on copy-on-write keeps one copy",
            _judge(rules.NUMPY_SHARED, numpy["per_worker"]), [(rules.NUMPY_SHARED, numpy["per_worker"])],
            ("a numpy buffer read by forked workers is never written, so it stays shared"
             if method == "fork" else f"under {method} there is no fork to inherit from: each "
             "worker built its own array; shared_memory is the way there"),
            "05",
        ),
    ]


@dataclass
class VerdictTable:
    """The rows, and where they were measured."""

    rows: list[Verdict]
    python: str = field(default_factory=platform.python_version)
    method: str = field(default_factory=start_method)

    def __repr__(self) -> str:
        return "\n".join([f"Python {self.python}, start method {self.method}"] + [
            f"{r.number:>2}. {r.claim}: {r.verdict.upper()} [{r.measured_text()} | {r.threshold_text()}] "
            f"{r.reason} (lesson {r.lesson})"
            for r in self.rows
        ])

    def _repr_html_(self) -> str:
        colour = {HOLDS: "#1a7f37", PART: "#9a6700", NOT: "#cf222e", UNKNOWN: "#57606a"}
        body = "".join(
            f"<tr><td>{r.number}</td><td style='text-align:left'>{html.escape(r.claim)}</td>"
            f"<td style='color:{colour[r.verdict]}'><b>{r.verdict}</b></td>"
            f"<td style='text-align:left'>{html.escape(r.measured_text())}</td>"
            f"<td>{html.escape(r.threshold_text())}</td>"
            f"<td style='text-align:left'>{html.escape(r.reason)}</td><td>{r.lesson}</td></tr>"
            for r in self.rows
        )
        return (
            f"<p>Measured on Python {self.python}, start method <b>{self.method}</b>.</p><table><thead><tr>"
            "<th>#</th><th>the post's claim</th><th>verdict</th><th>measured in this run</th>"
            "<th>threshold</th><th>why</th><th>lesson</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )


def verdict_table(copies, figures: dict) -> VerdictTable:
    """All twelve rows: `copies` from measure_copies(), `figures` from measure_claims()."""
    return VerdictTable(
        thread_rows(figures["cpu"], figures["io"])
        + [cost_row(figures["costs"])]
        + copy_rows(copies, start_method())
        + sharing_rows(figures["sharing"], figures["redis"], figures["numpy"])
    )


def measure_claims(quick: bool = True) -> dict:
    """Run helpers.lessons.post.quick's experiments: a few seconds in all on an idle machine."""
    from . import quick as q

    return {
        "cpu": q.cpu_threads(0.05 if quick else 0.2),
        "io": q.io_threads(),
        "costs": q.worker_costs(),
        "sharing": q.sharing_figures(),
        "redis": q.redis_figures(),
        "numpy": q.numpy_copies(),
    }
