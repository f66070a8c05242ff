"""Memory of process trees, read from /proc: resident set (RSS) and proportional set (PSS) per
process, summed over a tree, and a sampler thread that keeps the peaks overall and per phase
(per orchestrator in the benchmark)."""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from pipelines_core.config import WorkbenchConfig
from pipelines_core.procs import descendants, proc_field
from pipelines_core.spark import connect_server_status

KIB = 1024


def rss_of(pid: int) -> int:
    """Resident set of one process in bytes (0 once it has ended)."""
    return proc_field(pid, "VmRSS") * KIB


def pss_of(pid: int) -> int:
    """Proportional set of one process in bytes: each page split among the processes that
    share it, so PSS summed over a tree is what the tree holds in memory (summed RSS counts a
    page shared by forked processes once per process). RSS where smaps_rollup is not
    readable. Reading it walks every mapping: about 80 ms for a Spark JVM."""
    return proc_field(pid, "Pss", "smaps_rollup") * KIB or rss_of(pid)


def tree(roots: list[int]) -> list[int]:
    """``roots`` and every process below them, each once (a root may sit below another)."""
    return list(dict.fromkeys(descendants(roots)))


def tree_memory(pid: int) -> tuple[int, int]:
    """``(rss, pss)`` summed over ``pid`` and all its descendants."""
    pids = tree([pid])
    return sum(rss_of(p) for p in pids), sum(pss_of(p) for p in pids)


def benchmark_roots(config: WorkbenchConfig) -> list[int]:
    """This process (everything the benchmark starts hangs below it) and the Spark Connect
    server, which runs apart."""
    roots = [os.getpid()]
    server = connect_server_status(config).get("pid")
    if server and server not in roots:
        roots.append(server)
    return roots


class MemorySampler(threading.Thread):
    """Peak memory of the trees below ``roots()``, overall and per ``phase``: summed RSS and,
    unless ``pss_every_s`` is None, summed PSS (what the processes hold; shared pages once).

    RSS is read every ``every_s``; PSS, which costs a walk of every mapping (a Spark JVM's
    take about 80 ms), at most every ``pss_every_s`` and only while the summed RSS is above the
    phase's PSS peak: PSS never exceeds RSS, so no other sample could raise that peak. Read
    every 0.5 s it took a third of a core of the machine under test."""

    def __init__(self, roots: Callable[[], list[int]], every_s: float = 0.5,
                 pss_every_s: float | None = 2.0) -> None:
        super().__init__(daemon=True)
        self.roots, self.every_s, self.pss_every_s = roots, every_s, pss_every_s
        self.phase, self.peak, self.peaks = "setup", 0, {}
        self.peak_pss, self.pss_peaks = 0, {}
        self._pss_read_at = float("-inf")
        self._halt = threading.Event()

    def sample_once(self) -> None:
        pids, phase = tree(self.roots()), self.phase
        rss = sum(rss_of(p) for p in pids)
        self.peak = max(self.peak, rss)
        self.peaks[phase] = max(self.peaks.get(phase, 0), rss)
        if self.pss_every_s is None:
            return
        now = time.monotonic()
        if rss > self.pss_peaks.get(phase, 0) and now - self._pss_read_at >= self.pss_every_s:
            self._pss_read_at = now
            pss = sum(pss_of(p) for p in pids)
            self.peak_pss = max(self.peak_pss, pss)
            self.pss_peaks[phase] = max(self.pss_peaks.get(phase, 0), pss)

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample_once()
            self._halt.wait(self.every_s)

    def stop(self) -> int:
        """Stop sampling; the overall RSS peak in bytes."""
        self._halt.set()
        self.join()
        return self.peak

    def figures(self) -> dict[str, Any]:
        """The peaks as results.json records them, with how they were sampled."""
        return {"peak_pss_bytes": self.peak_pss,
                "peak_pss_gb": round(self.peak_pss / 1e9, 2),
                "peak_pss_gb_by_orchestrator": {
                    k: round(v / 1e9, 2) for k, v in self.pss_peaks.items()},
                "peak_rss_bytes": self.peak,
                "peak_rss_gb": round(self.peak / 1e9, 2),
                "peak_rss_gb_by_orchestrator": {
                    k: round(v / 1e9, 2) for k, v in self.peaks.items()},
                "sampled": "the benchmark process, everything it started (process tree) and "
                           f"the Spark Connect server, RSS every {self.every_s} s, PSS at most "
                           f"every {self.pss_every_s} s while RSS is above the PSS peak; PSS "
                           "(proportional set size) summed is what they hold in memory, "
                           "summed RSS counts pages that forked processes share once per "
                           "process"}
