"""The one process toolkit of the workbench: process groups, pid records, /proc reads, ports,
and waiting for a condition.

Every long-running server (Spark Connect, each orchestrator component) runs as the leader of
its own process group (a new session), so stopping it reaches every process it forked: TERM
to the group, a grace period, then KILL, and a zombie leader is reaped. Servers bind
127.0.0.1 only; callers check that the port is free again after a stop. Nothing here
restarts anything: a component that dies stays dead until someone starts it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence, TypeVar

T = TypeVar("T")


# --- waiting -------------------------------------------------------------------------------------

def poll_until(check: Callable[[], T], *, timeout_s: float, what: str, interval_s: float = 0.5,
               fail: Callable[[], str | None] | None = None,
               error: type[Exception] = TimeoutError) -> T:
    """Call ``check`` every ``interval_s`` until it returns something truthy, and return that.

    ``fail`` is asked before each try: a non-empty answer (why waiting is pointless, e.g. the
    process exited) raises RuntimeError at once. After ``timeout_s`` raises ``error`` naming
    ``what`` and the last exception ``check`` raised, if any (an ``OSError`` from ``check``
    counts as "not yet").
    """
    deadline = time.monotonic() + timeout_s
    last: BaseException | None = None
    while True:
        if fail is not None:
            why = fail()
            if why:
                raise RuntimeError(f"{what}: {why}")
        try:
            result = check()
            if result:
                return result
        except OSError as exc:
            last = exc
        if time.monotonic() >= deadline:
            detail = f" (last error: {last})" if last else ""
            raise error(f"{what}: not within {timeout_s:.0f} s{detail}")
        time.sleep(interval_s)


# --- ports ---------------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> bool:
    """Whether something accepts connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port_free(ports: Sequence[int], timeout_s: float = 15.0) -> list[int]:
    """Wait until none of ``ports`` accepts connections; returns those still taken."""
    deadline = time.monotonic() + timeout_s
    while True:
        taken = [p for p in ports if p and port_open(p)]
        if not taken or time.monotonic() >= deadline:
            return taken
        time.sleep(0.2)


# --- /proc ---------------------------------------------------------------------------------------

def proc_stat(pid: int | str) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a process from /proc, None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2])


def proc_field(pid: int | str, key: str, name: str = "status") -> int:
    """A numeric ``key:`` line of ``/proc/<pid>/<name>`` (kB fields as kB), 0 when missing."""
    try:
        with open(f"/proc/{pid}/{name}") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def cmdline(pid: int | str) -> str:
    """The command line of ``pid``, arguments joined by spaces ('' when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
            errors="replace").strip()
    except OSError:
        return ""


def live_pids() -> list[int]:
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]


def group_members(pgid: int) -> list[int]:
    """The live (non-zombie) processes of process group ``pgid``."""
    members = []
    for pid in live_pids():
        stat = proc_stat(pid)
        if stat and stat[0] != "Z" and stat[2] == pgid:
            members.append(pid)
    return members


def descendants(roots: Sequence[int]) -> list[int]:
    """``roots`` and every live process below them in the process tree (one pass over
    /proc)."""
    children: dict[int, list[int]] = {}
    for p in live_pids():
        stat = proc_stat(p)
        if stat and stat[0] != "Z":
            children.setdefault(stat[1], []).append(p)
    out, todo = list(roots), list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie child of this process counts as gone (and is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    reap(pid)
    stat = proc_stat(pid)
    return stat is not None and stat[0] != "Z"


def reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is a finished child of this process."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def group_alive(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    reap(pgid)
    return bool(group_members(pgid))


# --- starting and stopping -------------------------------------------------------------------------

def start_group(cmd: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> subprocess.Popen:
    """Start ``cmd`` as the leader of a new process group, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=dict(env or os.environ),
                                cwd=cwd, start_new_session=True)


def signal_group(pgid: int, sig: int) -> bool:
    """Send ``sig`` to process group ``pgid``; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
        return True
    except ProcessLookupError:
        return False


def kill_group(pgid: int, timeout_s: float = 10.0) -> int:
    """SIGKILL to process group ``pgid`` and nothing else, then wait until it is gone.

    Returns how many processes the group had. This is a crash, not a stop: nothing is told.
    """
    members = group_members(pgid)
    if members and signal_group(pgid, signal.SIGKILL):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.1)
    reap(pgid)
    return len(members)


def stop_group(pgid: int, grace_s: float = 15.0) -> int:
    """TERM the process group ``pgid``, wait up to ``grace_s`` for every member to end, then
    KILL what is left. Returns how many processes the group had (0: it was not running)."""
    count = len(group_members(pgid))
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10.0)):
        if not group_alive(pgid):
            break
        if not signal_group(pgid, sig):
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and group_alive(pgid):
            time.sleep(0.2)
    reap(pgid)
    return count


def wait_for_port(port: int, proc: subprocess.Popen, *, timeout_s: float,
                  what: str, log: Path) -> None:
    """Wait until ``port`` accepts connections; raise RuntimeError if ``proc`` dies first or
    the timeout passes (naming the log to read)."""
    poll_until(lambda: port_open(port), timeout_s=timeout_s, interval_s=0.5,
               what=f"{what} listening on 127.0.0.1:{port} (see {log})",
               fail=lambda: (f"exited with code {proc.returncode}; see {log}"
                             if proc.poll() is not None else None),
               error=RuntimeError)


# --- pid records -----------------------------------------------------------------------------------

@dataclass
class ProcessRecord:
    """What was started, written beside its state so that a later command finds it: the
    process group leader, the command, its log and the port it serves (if any)."""

    name: str
    pid: int
    cmd: list[str]
    log: str
    port: int | None = None
    started: float = field(default_factory=time.time)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pgid(self) -> int:
        return self.pid  # a group leader: started with start_new_session

    def alive(self) -> bool:
        """Whether the group still runs a process, and it is the one recorded: a pid the
        system gave to another program since counts as gone."""
        if not group_alive(self.pgid):
            return False
        wanted = Path(self.cmd[0]).name if self.cmd else ""
        return any(wanted in cmdline(p) for p in group_members(self.pgid))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> "ProcessRecord | None":
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def start_recorded(name: str, cmd: Sequence[str], *, record: Path, log: Path,
                   env: Mapping[str, str] | None = None, cwd: Path | None = None,
                   port: int | None = None, **extra: Any) -> tuple[subprocess.Popen,
                                                                  ProcessRecord]:
    """Start ``cmd`` in a new process group and write its :class:`ProcessRecord` to
    ``record``."""
    proc = start_group(cmd, log=log, env=env, cwd=cwd)
    rec = ProcessRecord(name, proc.pid, list(cmd), str(log), port, extra=dict(extra))
    rec.save(record)
    return proc, rec


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive lock on ``path`` (created if missing) for the block, across processes:
    for a read-decide-write that must not interleave with another."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
