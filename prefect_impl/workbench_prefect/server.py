"""Start and stop a real Prefect server and a process worker on 127.0.0.1, by process group.

Plain Python (no Prefect import): the benchmark adapter runs without Prefect installed and
drives the same processes through the Prefect environment's own executables.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from workbench_prefect import IMPL_DIR
from pipelines_core.procs import free_port, pid_alive as _alive, stop_group  # noqa: F401
from pipelines_core.procs import port_open as port_in_use

VENV_BIN = IMPL_DIR / ".venv" / "bin"
POOL = "workbench-process"


@dataclass
class ManagedProcess:
    """One long-running command in its own session, its pid recorded in ``pid_file``."""

    name: str
    cmd: list[str]
    env: dict[str, str]
    log: Path
    pid_file: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> int:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         cwd=IMPL_DIR, start_new_session=True)
        self.pid_file.write_text(str(self.proc.pid))
        return self.proc.pid

    def running(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid_file.exists() and _alive(int(self.pid_file.read_text()))

    def stop(self) -> None:
        pid = self.proc.pid if self.proc else (
            int(self.pid_file.read_text()) if self.pid_file.exists() else None)
        if pid is not None:
            stop_group(pid)
            if self.proc is not None:
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        self.pid_file.unlink(missing_ok=True)

    def tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def prefect_env(home: Path, api_url: str | None = None,
                extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for any Prefect process of the workbench: its own home, metrics on,
    telemetry off, the core's ``workbench`` logger shipped to Prefect's run logs."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_SERVER_METRICS_ENABLED": "true",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "workbench",
        "PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY": "false",
        # A run held back by the deployment's concurrency limit is looked at again after
        # this many seconds (default 30), and the worker polls for runs this often
        # (default 10): shorter, so a bounded backfill does not idle between runs.
        "PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS": "5",
        "PREFECT_WORKER_QUERY_SECONDS": "2",
        "PYTHONPATH": os.pathsep.join([str(IMPL_DIR)] + (
            [os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])),
    })
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.update(extra or {})
    return env


class PrefectServer:
    """``prefect server start`` on 127.0.0.1 over ``home`` (SQLite database inside it)."""

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.home = Path(home)
        self.port = port or free_port()
        self.process = ManagedProcess(
            "prefect-server",
            [str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
             "--port", str(self.port)],
            # The UI asks the API at PREFECT_UI_API_URL, which follows the port setting and
            # not --port: point it at this server, or the UI shows another server's runs.
            prefect_env(self.home,
                        extra={"PREFECT_UI_API_URL": f"http://127.0.0.1:{self.port}/api"}),
            self.home / "logs" / f"server-{self.port}.log",
            self.home / "pids" / f"server-{self.port}.pid")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self, timeout_s: float = 120.0) -> "PrefectServer":
        if self.healthy():
            return self
        if port_in_use(self.port):
            raise RuntimeError(f"port {self.port} is taken by another process")
        self.process.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.process.running():
                raise RuntimeError(f"prefect server exited:\n{self.process.tail()}")
            if self.healthy():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"prefect server not healthy within {timeout_s:.0f} s")

    def stop(self) -> None:
        self.process.stop()

    def api(self, method: str, path: str, body: Any = None, timeout: float = 60,
            tries: int = 5) -> Any:
        """One call of the server's REST API; the decoded JSON answer. A connection error, a
        timeout or a 503 (the server's answer when its SQLite database is busy, which happens
        on a small loaded machine; the transaction was rolled back) is tried again; any other
        HTTP error is not."""
        data = json.dumps(body, default=str).encode() if body is not None else None
        for n in range(1, tries + 1):
            req = urllib.request.Request(f"{self.api_url}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    raw = resp.read()
                break
            except urllib.error.HTTPError as exc:
                detail = exc.read().decode(errors="replace")[:2000]
                if exc.code != 503 or n == tries:
                    raise RuntimeError(f"{method} {path} -> HTTP {exc.code}: {detail}") from None
                time.sleep(1.0 * n)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if n == tries:
                    raise RuntimeError(f"{method} {path} failed {tries} times: {exc}") from exc
                time.sleep(1.0 * n)
        return json.loads(raw) if raw else None


class ProcessWorker:
    """``prefect worker start`` for the workbench's process work pool; each flow run it
    picks up runs in its own subprocess with the worker's environment plus the run's
    ``env`` job variables (that is how a fault plan reaches one run)."""

    def __init__(self, server: PrefectServer, env: Mapping[str, str], *, limit: int = 4,
                 pool: str = POOL) -> None:
        self.server = server
        self.process = ManagedProcess(
            "prefect-worker",
            [str(VENV_BIN / "prefect"), "worker", "start", "--pool", pool, "--type", "process",
             "--limit", str(limit), "--prefetch-seconds", "5"],
            prefect_env(server.home, server.api_url, env),
            server.home / "logs" / f"worker-{server.port}.log",
            server.home / "pids" / f"worker-{server.port}.pid")

    def start(self, timeout_s: float = 60.0) -> "ProcessWorker":
        self.process.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.process.running():
                raise RuntimeError(f"prefect worker exited:\n{self.process.tail()}")
            workers = self.server.api("POST", f"/work_pools/{POOL}/workers/filter", {})
            if any(w.get("status") == "ONLINE" or w.get("last_heartbeat_time")
                   for w in workers or []):
                return self
            time.sleep(0.5)
        raise RuntimeError(f"prefect worker did not report in {timeout_s:.0f} s:\n"
                           f"{self.process.tail()}")

    def stop(self) -> None:
        self.process.stop()


def deploy(server: PrefectServer, env: Mapping[str, str], *, ml_trigger: bool = True,
           timeout_s: float = 180.0) -> dict[str, Any]:
    """Create the work pool and both deployments (``python -m workbench_prefect deploy``)."""
    cmd = [str(VENV_BIN / "python"), "-m", "workbench_prefect", "deploy", "--pool", POOL]
    if not ml_trigger:
        cmd.append("--no-ml-trigger")
    out = subprocess.run(cmd, cwd=IMPL_DIR, env=prefect_env(server.home, server.api_url, env),
                         capture_output=True, text=True, timeout=timeout_s)
    if out.returncode != 0:
        raise RuntimeError(f"deploy failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])
