"""One process, four instruments, one instant: ps, psutil, smaps_rollup and the sampler.

Introduced in 00_start_here.ipynb, section 4. Learners leave the course for `top`, `ps` and
psutil; this shows, measured, that they all read the same kernel figures, and which ones add
up across processes:

    ps -o rss / top's RES   RSS, in KiB: every resident page, shared ones counted in full
    psutil (footprint)      RSS, USS and PSS, in bytes (psutil reads /proc/PID/smaps)
    /proc/PID/smaps_rollup  the kernel's own totals: Rss, Pss, Private_*, Shared_*
    the course's sampler    RSS, USS, PSS every interval, from its own process

The sampler should agree with smaps_rollup on PSS (the "instruments" check, ROLLUP_VS_SAMPLER).
"""

from __future__ import annotations

import multiprocessing
import shutil
import subprocess
import time
from dataclasses import dataclass, field

import psutil

from ...footprint import Footprint, footprint
from ...machine import mp_context, require_workers
from ...pages import PageCounts, rollup
from ...probes import Measurement, Sample, measure
from ...results import Result
from ...runner import DEFAULT_TIMEOUT
from ...units import MiB
from .workers import hold_memory

STEADY = 0.01  # RSS counts as steady when it moved less than 1% between two reads
SETTLE_TIMEOUT = 30.0  # seconds to wait for the workers to hold their memory


def ps_rss(pids: list[int]) -> tuple[dict[int, int], str]:
    """RSS in bytes per pid as `ps -o rss` prints it (KiB, top's RES), and '' or why not."""
    if shutil.which("ps") is None:
        return {}, "no ps command here (Windows)"
    done = subprocess.run(
        ["ps", "-o", "pid=,rss=", "-p", ",".join(map(str, pids))],
        capture_output=True, text=True, timeout=10, check=False,
    )
    pairs = (line.split() for line in done.stdout.splitlines())
    return {int(pid): int(kib) * 1024 for pid, kib in pairs}, ""


@dataclass
class Snapshot:
    """What ps, psutil and smaps_rollup said about some processes at `t` (perf_counter s)."""

    t: float
    pids: list[int]
    ps: dict[int, int] = field(default_factory=dict)
    psutil: dict[int, Footprint] = field(default_factory=dict)
    rollup: dict[int, PageCounts | None] = field(default_factory=dict)
    ps_why: str = ""


def settled(pids: list[int], min_rss: int, timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until every pid's RSS is at least min_rss bytes and steady; TimeoutError if never."""
    deadline = time.monotonic() + timeout
    last: dict[int, int] = {}
    while time.monotonic() < deadline:
        now = {pid: psutil.Process(pid).memory_info().rss for pid in pids}
        moved = {pid: abs(rss - last.get(pid, 0)) for pid, rss in now.items()}
        if all(rss >= min_rss and moved[pid] <= STEADY * rss for pid, rss in now.items()):
            return
        last = now
        time.sleep(0.05)
    raise TimeoutError(f"the processes did not reach {min_rss / MiB:.0f} MiB in {timeout:g} s")


def snapshot(pids: list[int], min_rss: int = 0) -> Snapshot:
    """Read ps, psutil and smaps_rollup for pids at one instant, once each holds min_rss bytes.

    Trap: a process whose memory still moves gives each tool a different figure; this waits
    until RSS is steady first. Call it inside ``with helpers.measure()`` so that the sampler's
    reading at the same instant can be set beside them (four_views). Lesson 00, section 4.
    """
    settled(pids, min_rss)
    start = time.perf_counter()
    ps, why = ps_rss(pids)
    fps = {pid: footprint(psutil.Process(pid)) for pid in pids}
    rollups = {pid: rollup(pid) for pid in pids}
    return Snapshot((start + time.perf_counter()) / 2, list(pids), ps, fps, rollups, why)


def nearest_sample(m: Measurement, pid: int, t: float) -> Sample | None:
    """The sampler's reading of pid closest in time to t (None if it never saw pid)."""
    mine = [s for s in m.samples if s.pid == pid]
    return min(mine, key=lambda s: abs(s.t - t)) if mine else None


@dataclass
class ViewsResult(Result):
    """Per process, in MiB: RSS from ps, psutil and smaps_rollup, PSS from all but ps."""

    pss_gaps: dict[int, float] = field(default_factory=dict)  # |sampler - rollup| / rollup, %

    @property
    def worst_pss_gap(self) -> float | None:
        """The largest gap between the sampler's PSS and smaps_rollup's, in percent."""
        return max(self.pss_gaps.values()) if self.pss_gaps else None


def four_views(snap: Snapshot, m: Measurement) -> ViewsResult:
    """The sampler's PSS nearest snap.t beside ps, psutil and smaps_rollup. Lesson 00, section 4."""
    title = "One instant, four instruments (MiB)"
    result = ViewsResult(title, {"pids": snap.pids}, measurement=m)
    for pid in snap.pids:
        sampled, counts, fp = nearest_sample(m, pid, snap.t), snap.rollup[pid], snap.psutil[pid]
        result.rows.append(
            {
                "pid": pid,
                "ps RSS (top's RES)": mib(snap.ps.get(pid)),
                "psutil RSS": mib(fp.rss),
                "smaps_rollup Rss": mib(counts and counts.rss),
                "psutil USS": mib(fp.uss),
                "psutil PSS": mib(fp.pss),
                "smaps_rollup Pss": mib(counts and counts.pss),
                "sampler PSS": mib(sampled and sampled.pss),
                "sampler off by (ms)": None if sampled is None else 1000 * (sampled.t - snap.t),
            }
        )
        if counts is not None and sampled is not None and sampled.pss is not None:
            result.pss_gaps[pid] = 100 * abs(sampled.pss - counts.pss) / counts.pss
    result.findings = views_findings(result, snap)
    return result


def mib(nbytes: int | None) -> float | None:
    return None if nbytes is None else nbytes / MiB


def views_findings(result: ViewsResult, snap: Snapshot) -> list[str]:
    rows = result.rows
    rss = sum(r["psutil RSS"] for r in rows)
    findings = [f"ps could not be asked: {snap.ps_why}."] if snap.ps_why else []
    if result.worst_pss_gap is None:
        return [*findings, "smaps_rollup is Linux-only, and PSS with it: here compare RSS and USS."]
    pss = sum(r["smaps_rollup Pss"] for r in rows)
    return findings + [
        f"ps, psutil and smaps_rollup give the same RSS: one figure from the kernel. Summed over "
        f"the {len(rows)} workers it is {rss:.0f} MiB; their PSS adds up to {pss:.0f} MiB, "
        "because PSS divides each shared page among the processes that map it.",
        f"The sampler's PSS, read from its own process at most "
        f"{max(abs(r['sampler off by (ms)']) for r in rows):.0f} ms away, differs from "
        f"smaps_rollup's by at most {result.worst_pss_gap:.2f}%.",
    ]


def instant_views(workers: int = 3, mib_each: int = 40, hold: float = 2.0) -> ViewsResult:
    """A pool whose workers each hold mib_each MiB, read by four instruments at one instant.

    The check's "smaps_rollup PSS vs the course's sampler" row, and lesson 00, section 4;
    uses the course's start method.
    """
    require_workers(workers)
    with measure(interval=0.05) as m, mp_context().Pool(workers) as pool:
        holding = pool.starmap_async(hold_memory, [(mib_each, hold)] * workers, chunksize=1)
        pids = [p.pid for p in multiprocessing.active_children()]
        snap = snapshot(pids, min_rss=mib_each * MiB)
        holding.get(timeout=DEFAULT_TIMEOUT)
        pool.close()
        pool.join()
    return four_views(snap, m)
