"""Memory of process trees from /proc: PSS counts a page shared by forked processes once,
every process counts once, and the sampler reads the costly PSS only when it could raise a
peak."""

import os
import subprocess
import sys
import time

from benchmarks import sampler as sampler_mod
from benchmarks.sampler import MemorySampler, tree, tree_memory


def test_tree_memory_counts_pages_shared_by_a_fork_once():
    """A forked child shares its parent's pages: summed RSS counts them twice, PSS once.
    The fork happens in a process of its own: pytest's holds Spark and gRPC threads, which a
    fork would copy half-way."""
    script = (
        "import os, sys\n"
        "ballast = bytearray(os.urandom(200 * 2**20))  # 200 MiB, resident before the fork\n"
        "r, w = os.pipe()\n"
        "if os.fork() == 0:  # the child touches nothing of the ballast\n"
        "    os.write(w, b'x'); os.close(w); sys.stdin.read(); os._exit(0)\n"
        "os.read(r, 1)\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()  # until the test closes stdin\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "ready"
        assert len(tree([parent.pid])) == 2
        rss, pss = tree_memory(parent.pid)
        assert rss > 400 * 2**20  # parent and child each hold the ballast as resident
        assert rss - pss > 150 * 2**20  # ... which PSS counts once for the pair
    finally:
        parent.stdin.close()  # the child holds the same stdin: both read EOF and end
        parent.wait(timeout=30)


def test_a_root_below_another_root_counts_once():
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        pids = tree([os.getpid(), child.pid])
        assert pids.count(child.pid) == 1 and pids[0] == os.getpid()
        assert len(pids) == len(set(pids))
    finally:
        child.stdin.close()
        child.wait(timeout=30)


def test_memory_sampler_reads_pss_only_when_it_could_raise_a_peak(monkeypatch):
    """PSS (costly to read) is read while the summed RSS is above the phase's PSS peak, at
    most every pss_every_s; RSS on every sample."""
    rss, reads = {"now": 100}, []
    monkeypatch.setattr(sampler_mod, "tree", lambda roots: [1, 2])
    monkeypatch.setattr(sampler_mod, "rss_of", lambda pid: rss["now"])
    monkeypatch.setattr(sampler_mod, "pss_of", lambda pid: reads.append(pid) or rss["now"] - 10)
    sampler = MemorySampler(lambda: [1], pss_every_s=0)
    sampler.phase = "airflow"
    sampler.sample_once()
    rss["now"] = 80  # RSS below the PSS peak (180): PSS cannot be higher, not read
    sampler.sample_once()
    assert len(reads) == 2 and sampler.peak_pss == 180 and sampler.peak == 200
    rss["now"] = 300
    sampler.sample_once()
    assert len(reads) == 4 and sampler.pss_peaks == {"airflow": 580}
    sampler.phase, rss["now"] = "luigi", 50  # a new phase has a peak of its own
    sampler.sample_once()
    assert sampler.pss_peaks == {"airflow": 580, "luigi": 80} and sampler.peak_pss == 580
    sampler.pss_every_s = 3600
    rss["now"] = 1000
    sampler.sample_once()  # above the peak, but read too recently
    assert len(reads) == 6 and sampler.peak == 2000 and sampler.peaks["luigi"] == 2000
    figures = sampler.figures()
    assert (figures["peak_rss_bytes"], figures["peak_pss_bytes"]) == (2000, 580)
    assert figures["peak_rss_gb_by_orchestrator"] == {"airflow": 0.0, "luigi": 0.0}

    rss_only = MemorySampler(lambda: [1], pss_every_s=None)
    rss_only.sample_once()
    assert len(reads) == 6 and rss_only.peak == 2000 and rss_only.peak_pss == 0


def test_the_sampler_thread_keeps_the_peak_of_a_live_process():
    ballast = subprocess.Popen(
        [sys.executable, "-c", "import sys; b = bytearray(120 * 2**20); b[::4096] = "
         "b'x' * len(b[::4096]); print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert ballast.stdout.readline().strip() == "ready"
        sampler = MemorySampler(lambda: [ballast.pid], every_s=0.05, pss_every_s=0)
        sampler.start()
        time.sleep(0.3)  # a few samples
        peak = sampler.stop()
        assert 120 * 2**20 < peak < 300 * 2**20
        assert 100 * 2**20 < sampler.peak_pss <= peak
    finally:
        ballast.stdin.close()
        ballast.wait(timeout=30)
