"""Spark sessions for the steps, and the workbench's own Spark Connect server.

Three modes (``WorkbenchConfig.spark_mode``):

- ``local``: a classic in-process session on ``local[2]`` (a JVM per Python process);
- ``connect``: a client of the Spark Connect server the workbench starts from the installed
  pyspark package on 127.0.0.1, so no orchestrator task pays a JVM start;
- ``remote``: any cluster, ``spark://host:7077`` (classic) or ``sc://host:port`` (Connect).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pipelines_core.config import WorkbenchConfig
from pipelines_core.errors import SparkUnavailableError

_lock = threading.Lock()
_sessions: dict[tuple[str, str], Any] = {}


def spark_home() -> Path:
    """The installed pyspark package folder, which is a complete SPARK_HOME."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def java_version() -> int | None:
    """Major version of the ``java`` on PATH (or under JAVA_HOME), None when there is none."""
    java = shutil.which("java")
    if os.environ.get("JAVA_HOME"):
        candidate = Path(os.environ["JAVA_HOME"]) / "bin" / "java"
        java = str(candidate) if candidate.exists() else java
    if not java:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 else major


def require_java() -> int:
    """The Java major version, or SparkUnavailableError when Spark cannot run."""
    version = java_version()
    if version is None:
        raise SparkUnavailableError(
            "Java was not found: Spark needs Java 17 or 21 (run `make setup`, which installs "
            "openjdk-17-jre-headless with apt, or set JAVA_HOME)")
    if version not in (17, 21):
        raise SparkUnavailableError(f"Java {version} found, but Spark 4 needs Java 17 or 21")
    return version


def _spark_conf(config: WorkbenchConfig) -> dict[str, str]:
    return {
        "spark.sql.shuffle.partitions": str(config.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.adaptive.enabled": "true",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }


def _host_port(url: str) -> tuple[str, int]:
    match = re.match(r"^(?:sc|spark)://([^:/]+):(\d+)", url)
    if not match:
        raise SparkUnavailableError(f"malformed Spark URL {url!r}")
    return match.group(1), int(match.group(2))


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def get_session(config: WorkbenchConfig) -> Any:
    """The process's Spark session for ``config`` (created once, then reused)."""
    mode = config.spark_mode
    url = config.connect_url if mode == "connect" else config.spark_url
    key = (mode, url)
    with _lock:
        # pyspark decides between its Connect and classic code paths (pyspark.ml among them)
        # by this variable, not by the session at hand: keep it in step with the session.
        if mode == "connect" or url.startswith("sc://"):
            os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"
        else:
            os.environ.pop("SPARK_CONNECT_MODE_ENABLED", None)
            os.environ.pop("SPARK_REMOTE", None)
        session = _sessions.get(key)
        if session is not None and _usable(session):
            return session
        session = _create(config, mode, url)
        _sessions[key] = session
        return session


def _usable(session: Any) -> bool:
    try:
        if hasattr(session, "is_stopped"):
            return not session.is_stopped
        return session.sparkContext._jsc is not None
    except Exception:
        return False


def _create(config: WorkbenchConfig, mode: str, url: str) -> Any:
    from pyspark.sql import SparkSession

    if mode == "connect" or url.startswith("sc://"):
        host, port = _host_port(url)
        if not port_open(host, port, timeout=3):
            hint = " (start it with `workbench spark start`)" if mode == "connect" else ""
            raise SparkUnavailableError(f"no Spark Connect server answers at {url}{hint}")
        builder = SparkSession.builder.remote(url)
        session = builder.getOrCreate()
        for k, v in _spark_conf(config).items():
            if k.startswith("spark.sql."):
                session.conf.set(k, v)
        return session
    require_java()
    master = "local[2]" if mode == "local" else url
    if mode == "remote":
        host, port = _host_port(url)
        if not port_open(host, port, timeout=3):
            raise SparkUnavailableError(f"no Spark master answers at {url}")
    builder = SparkSession.builder.master(master).appName("workbench")
    for k, v in _spark_conf(config).items():
        builder = builder.config(k, v)
    builder = builder.config("spark.driver.memory", config.spark_driver_memory)
    return builder.getOrCreate()


def stop_sessions() -> None:
    with _lock:
        for session in _sessions.values():
            try:
                session.stop()
            except Exception:
                pass
        _sessions.clear()


# --- the workbench's own Spark Connect server -------------------------------------------------

def _pid_file(config: WorkbenchConfig) -> Path:
    return config.state_dir / "pids" / f"spark-connect-{config.spark_connect_port}.pid"


def _log_file(config: WorkbenchConfig) -> Path:
    return config.state_dir / "logs" / f"spark-connect-{config.spark_connect_port}.log"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def connect_server_status(config: WorkbenchConfig) -> dict[str, Any]:
    """Whether the workbench's Connect server runs: pid, port, log file."""
    pid_file = _pid_file(config)
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    running = pid is not None and _pid_alive(pid)
    return {"pid": pid if running else None, "port": config.spark_connect_port,
            "listening": port_open("127.0.0.1", config.spark_connect_port),
            "url": f"sc://127.0.0.1:{config.spark_connect_port}", "log": str(_log_file(config))}


def start_connect_server(config: WorkbenchConfig, timeout_s: float = 120.0) -> dict[str, Any]:
    """Start the Connect server on 127.0.0.1 (idempotent) and wait until it accepts clients."""
    status = connect_server_status(config)
    if status["pid"] and status["listening"]:
        return status
    if status["listening"]:
        raise SparkUnavailableError(
            f"port {config.spark_connect_port} is taken by a process the workbench did not "
            "start; stop it or set WORKBENCH_SPARK_CONNECT_PORT")
    require_java()
    home = spark_home()
    log = _log_file(config)
    log.parent.mkdir(parents=True, exist_ok=True)
    _pid_file(config).parent.mkdir(parents=True, exist_ok=True)
    cmd = [str(home / "bin" / "spark-submit"),
           "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
           "--name", "workbench-connect", "--master", "local[2]",
           "--driver-memory", config.spark_driver_memory,
           "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
           "--conf", f"spark.connect.grpc.binding.port={config.spark_connect_port}"]
    for k, v in _spark_conf(config).items():
        cmd += ["--conf", f"{k}={v}"]
    cmd += ["spark-internal"]
    env = {**os.environ, "SPARK_HOME": str(home), "PYSPARK_PYTHON": sys.executable,
           "SPARK_LOCAL_IP": "127.0.0.1"}
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, stdin=subprocess.DEVNULL)
    _pid_file(config).write_text(str(proc.pid))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SparkUnavailableError(
                f"Spark Connect server exited with code {proc.returncode}; see {log}")
        if port_open("127.0.0.1", config.spark_connect_port):
            return connect_server_status(config)
        time.sleep(0.5)
    stop_connect_server(config)
    raise SparkUnavailableError(f"Spark Connect server did not listen within {timeout_s:.0f} s; "
                                f"see {log}")


def stop_connect_server(config: WorkbenchConfig, grace_s: float = 15.0) -> bool:
    """Stop the server the workbench started (its whole process group). True if one ran."""
    pid_file = _pid_file(config)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text())
    stopped = False
    if _pid_alive(pid):
        stopped = True
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _pid_alive(pid):
            _reap(pid)
            time.sleep(0.2)
        if _pid_alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            _reap(pid)
    pid_file.unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
