"""Start, stop and talk to a real Airflow 3 (scheduler, dag-processor, triggerer, api-server)
over a workbench-owned AIRFLOW_HOME.

Standard library only, so that both the adapter (root environment) and the Airflow
implementation's own tests (Airflow environment) use it. The server runs from
``airflow_impl/.venv`` in its own process group, bound to 127.0.0.1; it is stopped by TERM to
the whole group, a wait, then KILL. Runs, task instances, tries and logs are read through
the REST API v2 with a JWT from ``POST /auth/token``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Callable, Mapping

from pipelines_core.procs import free_port, port_open  # noqa: F401

IMPL_DIR = Path(__file__).resolve().parents[2] / "airflow_impl"
VENV_BIN = IMPL_DIR / ".venv" / "bin"
DAGS_FOLDER = IMPL_DIR / "dags"
SETTINGS_FOLDER = IMPL_DIR / "settings"  # airflow_local_settings.py
USERNAME = "workbench"


class AirflowError(RuntimeError):
    pass


def airflow_env(home: Path, *, api_port: int, extra: Mapping[str, str] | None = None,
                log_ports: tuple[int, int] | None = None,
                sql_alchemy_conn: str | None = None) -> dict[str, str]:
    """The environment of every Airflow process of one home: config as ``AIRFLOW__*``.

    Airflow settings of the calling process are not inherited (they may describe another
    home); the metadata DB is ``sql_alchemy_conn`` or a SQLite file in the home.
    """
    home = Path(home)
    log_ports = log_ports or (free_port(), free_port())
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
        "AIRFLOW_HOME": str(home),
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        # The triggerer imports the Deadline Alert's callback (``workbench_airflow``) by
        # name; unlike the DAG processor and the tasks it does not put the bundle on sys.path.
        # The settings folder holds airflow_local_settings.py (the scheduler's preload).
        "PYTHONPATH": os.pathsep.join(p for p in (str(DAGS_FOLDER), str(SETTINGS_FOLDER),
                                                  os.environ.get("PYTHONPATH", "")) if p),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(home),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_ports[0]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(log_ports[1]),
        # A small machine and short test delays: look for work often.
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "1",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "30",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
    }
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = (sql_alchemy_conn
                                                  or f"sqlite:///{home / 'airflow.db'}")
    env.update(extra or {})
    return env


def _secret(home: Path) -> str:
    path = Path(home) / "jwt_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(os.urandom(24).hex())
    return path.read_text().strip()


def migrate(env: Mapping[str, str], timeout_s: float = 300) -> None:
    """``airflow db migrate`` for the home of ``env`` (idempotent), skipped when this home's
    SQLite file was already migrated by this very Airflow installation (a stamp beside it):
    the benchmark restarts the services every round, and a migration that has nothing to do
    still costs a process start and a schema comparison."""
    conn = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    stamp = Path(env["AIRFLOW_HOME"]) / "airflow.db.migrated"
    installed = " ".join(sorted(p.name for p in VENV_BIN.parent.glob(
        "lib/python*/site-packages/apache_airflow*.dist-info")))
    wanted = f"{conn} {installed}"
    sqlite_file = Path(conn.removeprefix("sqlite:///")) if conn.startswith("sqlite:///") else None
    if sqlite_file and sqlite_file.exists() and stamp.exists() and stamp.read_text() == wanted:
        return
    proc = subprocess.run([str(VENV_BIN / "airflow"), "db", "migrate"], env=dict(env),
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise AirflowError(f"airflow db migrate failed:\n{proc.stderr[-3000:]}")
    if sqlite_file:
        stamp.write_text(wanted)


class AirflowServer:
    """Scheduler, dag-processor, triggerer and api-server of one home, in one process group."""

    def __init__(self, home: Path, *, api_port: int | None = None,
                 extra_env: Mapping[str, str] | None = None,
                 sql_alchemy_conn: str | None = None) -> None:
        self.home = Path(home)
        self.home.mkdir(parents=True, exist_ok=True)
        self.api_port = api_port or free_port()
        self.log_ports = (free_port(), free_port())
        self.env = airflow_env(self.home, api_port=self.api_port, extra=extra_env,
                               log_ports=self.log_ports, sql_alchemy_conn=sql_alchemy_conn)
        self.password = self._password()
        self.proc: subprocess.Popen | None = None
        self._token: str | None = None
        self._token_at = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "airflow.pid"

    @property
    def log_file(self) -> Path:
        return self.home / "airflow.log"

    def _password(self) -> str:
        path = self.home / "passwords.json"
        if path.exists():
            return json.loads(path.read_text())[USERNAME]
        password = os.urandom(12).hex()
        path.write_text(json.dumps({USERNAME: password}))
        return password

    # --- lifecycle -----------------------------------------------------------------------

    def start(self, timeout_s: float = 300) -> None:
        """Migrate the metadata DB, start the components, wait until scheduler and
        dag-processor report healthy and both workbench DAGs are parsed.

        The components rather than ``airflow standalone``: standalone starts the scheduler's
        and triggerer's log servers on every interface; ``--skip-serve-logs`` keeps everything
        on 127.0.0.1 (finished tasks' logs are read from the shared AIRFLOW_HOME).
        """
        if port_open(self.api_port):
            raise AirflowError(f"port {self.api_port} is already taken")
        migrate(self.env)
        airflow = VENV_BIN / "airflow"
        # Each component under a restart loop, as a supervisor (systemd, Kubernetes) would
        # run it: on SQLite the scheduler can die of a write conflict with the API (a
        # StaleDataError on dag_run while a backfill is being created). TERM to the group
        # ends the loops and the components together.
        script = "\n".join([
            "supervise() { while true; do \"$@\"; echo \"$2 exited with $?; restarting\";"
            " sleep 2; done; }",
            f"supervise '{airflow}' scheduler --skip-serve-logs &",
            f"supervise '{airflow}' dag-processor &",
            f"supervise '{airflow}' triggerer --skip-serve-logs &",
            f"supervise '{airflow}' api-server --host 127.0.0.1 --port {self.api_port} &",
            "wait",
        ])
        with self.log_file.open("ab") as out:
            self.proc = subprocess.Popen(["/bin/sh", "-c", script], env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, cwd=self.home)
        self.pid_file.write_text(str(self.proc.pid))
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AirflowError(f"airflow exited with {self.proc.returncode}; "
                                   f"see {self.log_file}")
            if self._healthy():
                break
            time.sleep(1)
        else:
            self.stop()
            raise AirflowError(f"airflow did not become healthy in {timeout_s:.0f} s; "
                               f"see {self.log_file}")
        self.wait_for_dags(["customer_daily_etl", "lead_scoring_mlops"],
                           timeout_s=max(30.0, deadline - time.monotonic()))

    def _healthy(self) -> bool:
        try:
            health = self._request("GET", "/api/v2/monitor/health", auth=False, retry=False,
                                   timeout=10)
        except (OSError, AirflowError):
            return False
        return all(health.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "dag_processor"))

    def wait_for_dags(self, dag_ids: list[str], timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = {d["dag_id"] for d in self.get("/api/v2/dags", limit=100)["dags"]}
            if set(dag_ids) <= found:
                return
            time.sleep(1)
        errors = self.get("/api/v2/importErrors")
        raise AirflowError(f"DAGs {dag_ids} not parsed in {timeout_s:.0f} s; import errors: "
                           f"{errors}")

    def stop(self, grace_s: float = 20) -> None:
        """TERM to the process group, wait, KILL; then wait until the ports are free."""
        pid = self.proc.pid if self.proc else (int(self.pid_file.read_text())
                                               if self.pid_file.exists() else None)
        if pid is None:
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 10)):
            try:
                os.killpg(pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and _group_alive(pid):
                if self.proc:
                    self.proc.poll()
                time.sleep(0.3)
            if not _group_alive(pid):
                break
        if self.proc:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self.pid_file.unlink(missing_ok=True)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.ports_in_use():
            time.sleep(0.3)

    def ports_in_use(self) -> list[int]:
        return [p for p in (self.api_port, *self.log_ports) if port_open(p)]

    # --- REST API v2 -------------------------------------------------------------------------

    def token(self) -> str:
        if self._token is None or time.monotonic() - self._token_at > 600:
            body = self._request("POST", "/auth/token", {"username": USERNAME,
                                                         "password": self.password}, auth=False)
            self._token, self._token_at = body["access_token"], time.monotonic()
        return self._token

    def _request(self, method: str, path: str, body: Any = None, *, auth: bool = True,
                 raw: bool = False, timeout: float = 60, retry: bool = True) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        # A busy machine or a SQLite write lock can stall the single API worker for a while:
        # a read is asked again (a write is not, it may have been applied).
        tries = 4 if method == "GET" and retry else 1
        for n in range(1, tries + 1):
            try:
                with urllib.request.urlopen(req, timeout=timeout) as resp:
                    text = resp.read().decode()
                break
            except urllib.error.HTTPError as exc:
                if exc.code in (502, 503, 504) and n < tries:
                    time.sleep(2)
                    continue
                raise AirflowError(f"{method} {path} -> {exc.code}: "
                                   f"{exc.read().decode()[:2000]}") from None
            except (TimeoutError, ConnectionError, urllib.error.URLError):
                if n == tries:
                    raise
                time.sleep(2)
        if raw:
            return text
        return json.loads(text) if text else None

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None},
                                       doseq=True)
        return self._request("GET", path + (f"?{query}" if query else ""))

    def post(self, path: str, body: Any) -> Any:
        return self._request("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self._write("PATCH", path, body)

    def _write(self, method: str, path: str, body: Any = None, *,
               settled: tuple[int, ...] = (), timeout_s: float = 300) -> Any:
        """A write asked again while SQLite is contended (runs going on at once
        keep the scheduler writing: the API refuses with 503, or 500 when the lock hit its
        audit-log insert). An answer in ``settled`` means the write has nothing left to do."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                return self._request(method, path, body)
            except AirflowError as exc:
                if any(f"-> {code}" in str(exc) for code in settled):
                    return None
                if not _contention(exc) or time.monotonic() > deadline:
                    raise
            except (TimeoutError, ConnectionError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(2)

    def delete_run(self, dag_id: str, run_id: str) -> None:
        # 404: gone already (an earlier ask got through before its answer was lost).
        self._write("DELETE", f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}", settled=(404,))

    def unpause(self, dag_id: str) -> None:
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.patch(f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def trigger(self, dag_id: str, logical_date: str, conf: dict | None = None,
                run_id: str | None = None) -> dict:
        body: dict[str, Any] = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        # A 409 for a named run: an earlier request got through.
        return self._post_through_contention(
            f"/api/v2/dags/{dag_id}/dagRuns", body,
            on_conflict=lambda: self.dag_run(dag_id, run_id) if run_id else None)

    def dag_runs(self, dag_id: str, **params: Any) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns", limit=100, order_by="logical_date",
                        **params)["dag_runs"]

    def dag_run(self, dag_id: str, run_id: str) -> dict:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances",
                        limit=100)["task_instances"]

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict]:
        base = f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}"
        path = f"{base}/{map_index}/tries" if map_index >= 0 else f"{base}/tries"
        return self.get(path)["task_instances"]

    def log(self, dag_id: str, run_id: str, task_id: str, try_number: int,
            map_index: int = -1) -> str:
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{_q(run_id)}/taskInstances/{task_id}/logs/"
                f"{try_number}")
        params = {"full_content": "true", "map_index": map_index}
        body = self.get(path, **params)
        content = body.get("content", "")
        if isinstance(content, list):
            return "\n".join(_log_line(c) for c in content)
        return str(content)

    def create_backfill(self, dag_id: str, from_date: str, to_date: str, *,
                        max_active_runs: int = 2, reprocess_behavior: str = "none",
                        conf: dict | None = None) -> dict:
        body = {"dag_id": dag_id, "from_date": from_date, "to_date": to_date,
                "max_active_runs": max_active_runs, "reprocess_behavior": reprocess_behavior,
                "run_backwards": False, "dag_run_conf": conf or {}}
        # A request that timed out may still have created the backfill: then the next one is
        # refused (409, one active backfill per DAG) and the backfill is the DAG's active one
        # for the same range.
        return self._post_through_contention(
            "/api/v2/backfills", body,
            on_conflict=lambda: self._active_backfill(dag_id, from_date, to_date))

    def close_backfill(self, backfill_id: int) -> None:
        """Mark a backfill whose runs have all ended complete at once.

        The scheduler marks it on a fixed 30 s sweep, and until then the DAG's next backfill
        is refused. ``PUT .../cancel`` pauses the backfill, fails its queued runs (there are
        none left) and sets ``completed_at``; 409 means the sweep got there first.
        """
        self._write("PUT", f"/api/v2/backfills/{backfill_id}/cancel", settled=(409,))

    def _post_through_contention(self, path: str, body: Any,
                                 on_conflict: Callable[[], dict | None]) -> dict:
        """POST, asking again while SQLite is contended (``_write``), for up to 5 minutes.
        A 409 answers with what ``on_conflict`` finds, or is raised when it finds nothing."""
        try:
            return self._write("POST", path, body)
        except AirflowError as exc:
            if "-> 409" in str(exc):
                found = on_conflict()
                if found is not None:
                    return found
            raise

    def _active_backfill(self, dag_id: str, from_date: str, to_date: str) -> dict | None:
        day = from_date[:10], to_date[:10]
        for backfill in self.get("/api/v2/backfills", dag_id=dag_id, limit=100)["backfills"]:
            if not backfill.get("completed_at") and \
                    (backfill["from_date"][:10], backfill["to_date"][:10]) == day:
                return backfill
        return None

    def wait_for_runs(self, dag_id: str, run_ids: list[str], timeout_s: float) -> list[dict]:
        """Poll until every run is finished; returns their final records."""
        deadline = time.monotonic() + timeout_s
        while True:
            runs = [self.dag_run(dag_id, r) for r in run_ids]
            if all(r["state"] in ("success", "failed") for r in runs):
                return runs
            if time.monotonic() > deadline:
                raise AirflowError(f"runs not finished in {timeout_s:.0f} s: "
                                   f"{[(r['dag_run_id'], r['state']) for r in runs]}")
            time.sleep(1)


class StatsdListener:
    """A small statsd receiver on 127.0.0.1 (UDP): what Airflow pushes with
    ``[metrics] statsd_on``. Counters are summed and timers counted per metric name, over
    every time it was open; with ``statsd_influxdb_enabled`` the tags (``dag_id``,
    ``task_id``, ``state``) are part of the name: ``airflow.ti.finish,dag_id=...,state=...``.
    """

    def __init__(self) -> None:
        self.counters: dict[str, float] = {}
        self.timers: dict[str, int] = {}
        self.lines = 0
        self.port: int | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def env(self, prefix: str = "airflow") -> dict[str, str]:
        """Airflow's configuration that sends its metrics here."""
        assert self.port is not None, "open() first"
        return {"AIRFLOW__METRICS__STATSD_ON": "True",
                "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(self.port),
                "AIRFLOW__METRICS__STATSD_PREFIX": prefix,
                "AIRFLOW__METRICS__STATSD_INFLUXDB_ENABLED": "True"}

    def open(self) -> None:
        if self._sock is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(0.5)
        self._sock, self.port = sock, sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, args=(sock,), daemon=True,
                                        name="statsd-listener")
        self._thread.start()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if sock is not None:
            sock.close()

    def _serve(self, sock: socket.socket) -> None:
        while self._sock is sock:
            try:
                data = sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            for line in data.decode(errors="replace").splitlines():
                self.record(line)

    def record(self, line: str) -> None:
        """One statsd line: ``name:value|c[|@rate]`` or ``name:value|ms``."""
        name, sep, rest = line.strip().rpartition(":")
        if not sep or "|" not in rest:
            return
        value, kind, *extra = rest.split("|")
        try:
            amount = float(value)
        except ValueError:
            return
        rate = next((float(e[1:]) for e in extra if e.startswith("@")), 1.0)
        with self._lock:
            self.lines += 1
            if kind == "c":
                self.counters[name] = self.counters.get(name, 0.0) + amount / (rate or 1.0)
            elif kind == "ms":
                self.timers[name] = self.timers.get(name, 0) + 1

    def counter(self, metric: str, **tags: str) -> float:
        """The sum of ``metric`` over every name carrying all of ``tags``."""
        want = {f"{k}={v}" for k, v in tags.items()}
        with self._lock:
            return sum(v for n, v in self.counters.items()
                       if n.split(",")[0] == metric and want <= set(n.split(",")[1:]))

    def timer_count(self, metric: str, **tags: str) -> int:
        want = {f"{k}={v}" for k, v in tags.items()}
        with self._lock:
            return sum(v for n, v in self.timers.items()
                       if n.split(",")[0] == metric and want <= set(n.split(",")[1:]))


def _contention(exc: AirflowError) -> bool:
    """A refusal that asking again can cure: SQLite's write lock held by another component
    (503 from the API's own check, 500 when the lock hit its audit-log insert)."""
    return "-> 503" in str(exc) or "-> 500" in str(exc)


def _q(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


def _log_line(entry: Any) -> str:
    if isinstance(entry, dict):
        return " ".join(str(entry.get(k, "")) for k in ("timestamp", "level", "event")
                        if entry.get(k) is not None)
    return str(entry)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still counts; look for any live member of the group.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.adapters.airflow_server start|stop|status [--port 8080]``: the
    workbench's Airflow over ``<state_dir>/airflow/home`` (for the UI), left running until
    ``stop``. Run with the root or the Airflow environment."""
    import argparse

    sys.path.insert(0, str(IMPL_DIR.parent))
    from pipelines_core.config import load_config

    parser = argparse.ArgumentParser(prog="airflow_server")
    parser.add_argument("action", choices=("start", "stop", "status"))
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    config = load_config()
    config = config.replace(namespace=os.environ.get("WORKBENCH_NAMESPACE") or "airflow",
                            orchestrator="airflow")
    home = config.state_dir / "airflow" / "home"
    server = AirflowServer(home, api_port=args.port,
                           extra_env={**config.to_env(),
                                      "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False"},
                           sql_alchemy_conn=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"))
    if args.action == "start":
        server.start()
        print(f"Airflow UI: {server.url}  user {USERNAME}  password {server.password}  "
              f"(pid group {server.proc.pid}, log {server.log_file})")
    elif args.action == "stop":
        server.stop()
        print("stopped" if not server.ports_in_use() else f"ports still in use: "
              f"{server.ports_in_use()}")
    else:
        alive = server.pid_file.exists() and _group_alive(int(server.pid_file.read_text()))
        print(f"{'running' if alive else 'stopped'} at {server.url}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
