"""Starting and stopping the servers the workbench owns (Spark Connect, orchestrator servers).

Each server runs in its own process group (a new session), so stopping it reaches every
process it forked: TERM to the group, a grace period, then KILL, and a zombie child is reaped.
Servers bind 127.0.0.1 only; callers check that the port is free again after a stop.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Mapping, Sequence


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


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie child of this process counts as gone (and is reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def start_group(cmd: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> subprocess.Popen:
    """Start ``cmd`` as the leader of a new process group, output appended to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, env=dict(env or os.environ),
                                cwd=cwd, start_new_session=True)


def stop_group(pgid: int, grace_s: float = 15.0) -> bool:
    """TERM the process group ``pgid``, wait up to ``grace_s``, then KILL what is left.

    Returns True when the group was running.
    """
    if not group_alive(pgid):
        pid_alive(pgid)  # reap a zombie leader
        return False
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            pid_alive(pgid)
            if not group_alive(pgid):
                return True
            time.sleep(0.2)
    return True


def wait_for_port(port: int, proc: subprocess.Popen, *, timeout_s: float,
                  what: str, log: Path) -> None:
    """Wait until ``port`` accepts connections; raise RuntimeError if ``proc`` dies first or
    the timeout passes (naming the log to read)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}; see {log}")
        if port_open(port):
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout_s:.0f} s; "
                       f"see {log}")
