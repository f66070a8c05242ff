"""A workbench-owned ``luigid``: the central scheduler on 127.0.0.1, with its visualiser, task
history in SQLite and the Prometheus metrics collector on ``/metrics``.

State, history, logs and the generated luigi.cfg live under ``<state_dir>/luigi`` (or any
folder given). The server runs in its own process group; ``stop`` sends TERM to the group,
waits, then KILL, and checks the port is free.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines_core.config import WorkbenchConfig
from pipelines_core.procs import pid_alive as _alive, port_open  # noqa: F401

from workbench_luigi.settings import state_root, write_luigi_cfg

DEFAULT_PORT = 8082


@dataclass
class Luigid:
    """A running luigid: where it listens and where its state lives."""

    pid: int
    port: int
    root: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def history_db(self) -> Path:
        return Path(self.root) / "task-history.sqlite"

    @property
    def config_path(self) -> Path:
        return Path(self.root) / "luigi.cfg"

    @property
    def log_path(self) -> Path:
        return Path(self.root) / "logs" / "luigi-server.log"


def _record_path(root: Path) -> Path:
    return root / "luigid.json"


def luigid_binary() -> str:
    return str(Path(sys.executable).with_name("luigid"))


def start(config: WorkbenchConfig, port: int = DEFAULT_PORT, root: Path | None = None,
          timeout_s: float = 30.0) -> Luigid:
    """Start luigid on 127.0.0.1:``port`` (idempotent for the same root) and wait for its API."""
    root = Path(root or state_root(config))
    current = status(root)
    if current is not None:
        return current
    if port_open(port):
        raise RuntimeError(f"port {port} is taken by a process the workbench did not start")
    (root / "logs").mkdir(parents=True, exist_ok=True)
    cfg = write_luigi_cfg(config, root / "luigi.cfg", history_db=root / "task-history.sqlite",
                          state_path=root / "luigid-state.pickle")
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(cfg), "TZ": "UTC"}
    with (root / "logs" / "luigid.out").open("ab") as out:
        proc = subprocess.Popen(
            [luigid_binary(), "--address", "127.0.0.1", "--port", str(port),
             "--state-path", str(root / "luigid-state.pickle"), "--logdir", str(root / "logs")],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True, cwd=root)
    server = Luigid(proc.pid, port, str(root))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"luigid exited with code {proc.returncode}; see {root / 'logs'}")
        try:
            with urllib.request.urlopen(f"{server.url}/api/has_task_history",
                                        timeout=2) as resp:
                if resp.status == 200:
                    _record_path(root).write_text(json.dumps(asdict(server)))
                    return server
        except OSError:
            time.sleep(0.2)
    stop_pid(proc.pid, port)
    raise RuntimeError(f"luigid did not answer on port {port} within {timeout_s:.0f} s")


def status(root: Path) -> Luigid | None:
    """The luigid recorded under ``root`` if it still runs and listens, else None."""
    path = _record_path(Path(root))
    if not path.exists():
        return None
    server = Luigid(**json.loads(path.read_text()))
    if _alive(server.pid) and port_open(server.port):
        return server
    return None


def stop_pid(pid: int, port: int, grace_s: float = 10.0) -> None:
    """TERM to the process group, a wait, then KILL; then wait until the port is free."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if not _alive(pid):
            break
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and port_open(port):
        time.sleep(0.1)


def stop(root: Path) -> bool:
    """Stop the luigid recorded under ``root``; True if one was running."""
    path = _record_path(Path(root))
    if not path.exists():
        return False
    server = Luigid(**json.loads(path.read_text()))
    running = _alive(server.pid)
    if running:
        stop_pid(server.pid, server.port)
    path.unlink(missing_ok=True)
    return running
