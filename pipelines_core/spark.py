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
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from pipelines_core.config import WorkbenchConfig
from pipelines_core.errors import SparkUnavailableError
from pipelines_core.procs import pid_alive, port_open, start_group, stop_group, wait_for_port

_lock = threading.Lock()
_sessions: dict[tuple[str, str], Any] = {}

# What a step imports on its way to Spark (pyspark's Connect client brings pandas, pyarrow and
# grpc: about 2.5 s on this machine). An orchestrator that forks its task processes from a
# long-lived one imports these there once and every task inherits them.
STEP_PRELOAD = ("pipelines_core.steps.etl", "pipelines_core.steps.ml", "pipelines_core.spark",
                "pyspark.sql.connect.session", "pyspark.sql.functions")


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
        "spark.driver.host": config.spark_driver_host,
        # On loopback the driver listens there only; advertised elsewhere, on every interface.
        "spark.driver.bindAddress": "127.0.0.1"
        if config.spark_driver_host in ("127.0.0.1", "localhost") else "0.0.0.0",
    }


def _host_port(url: str) -> tuple[str, int]:
    match = re.match(r"^(?:sc|spark)://([^:/]+):(\d+)", url)
    if not match:
        raise SparkUnavailableError(f"malformed Spark URL {url!r}")
    return match.group(1), int(match.group(2))


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
            for var in ("SPARK_CONNECT_MODE_ENABLED", "SPARK_REMOTE", "SPARK_LOCAL_REMOTE"):
                os.environ.pop(var, None)
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
    if mode == "connect" or url.startswith("sc://"):
        host, port = _host_port(url)
        if not port_open(port, host, timeout=3):
            hint = " (start it with `workbench spark start`)" if mode == "connect" else ""
            raise SparkUnavailableError(f"no Spark Connect server answers at {url}{hint}")
        # Connect's own builder: the generic one refuses a Connect session in a process
        # that already holds a classic one (SESSION_ALREADY_EXIST).
        from pyspark.sql.connect.session import SparkSession as ConnectSession

        session = ConnectSession.builder.remote(url).getOrCreate()
        for k, v in _spark_conf(config).items():
            if k.startswith("spark.sql."):
                session.conf.set(k, v)
        return session
    require_java()
    master = "local[2]" if mode == "local" else url
    if mode == "remote":
        host, port = _host_port(url)
        if not port_open(port, host, timeout=3):
            raise SparkUnavailableError(f"no Spark master answers at {url}")
    # The driver's JVM comes from the installed pyspark, whose folder is a complete SPARK_HOME
    # (unset, pyspark would first try the working directory's parent). Spark's launcher
    # leaves the classic SQL classes off the class path of a JVM it takes for a Connect
    # client's (SPARK_REMOTE, cleared by get_session, or SPARK_CONNECT_MODE=1 in the
    # environment) unless the API mode is said to be classic.
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_HOME", str(spark_home()))
    builder = SparkSession.builder.master(master).appName("workbench") \
        .config("spark.api.mode", "classic")
    for k, v in _spark_conf(config).items():
        builder = builder.config(k, v)
    builder = builder.config("spark.driver.memory", config.spark_driver_memory)
    session = builder.getOrCreate()
    _require_classic_sql(session)
    return session


def _require_classic_sql(session: Any) -> None:
    """Fail now, and say why, when the driver's JVM lacks the classic SQL classes (a JVM of
    another Spark, or one launched as a Connect client), instead of at the first column."""
    from py4j.protocol import Py4JError
    from pyspark.sql import SparkSession

    try:
        SparkSession._get_j_spark_session_class(session.sparkContext._jvm)
    except Py4JError:
        import pyspark

        session.stop()
        raise SparkUnavailableError(
            f"the Spark driver's JVM has no classic Spark SQL classes: SPARK_HOME="
            f"{os.environ.get('SPARK_HOME')!r} is not Spark {pyspark.__version__}, or the JVM "
            "was launched as a Spark Connect client (SPARK_REMOTE set)") from None


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


def connect_server_status(config: WorkbenchConfig) -> dict[str, Any]:
    """Whether the workbench's Connect server runs: pid, port, log file."""
    pid_file = _pid_file(config)
    pid = int(pid_file.read_text()) if pid_file.exists() else None
    running = pid is not None and pid_alive(pid)
    return {"pid": pid if running else None, "port": config.spark_connect_port,
            "listening": port_open(config.spark_connect_port),
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
    proc = start_group(cmd, log=log, env=env)
    _pid_file(config).write_text(str(proc.pid))
    try:
        wait_for_port(config.spark_connect_port, proc, timeout_s=timeout_s,
                      what="Spark Connect server", log=log)
    except RuntimeError as exc:
        stop_connect_server(config)
        raise SparkUnavailableError(str(exc)) from None
    return connect_server_status(config)


def stop_connect_server(config: WorkbenchConfig, grace_s: float = 15.0) -> bool:
    """Stop the server the workbench started (its whole process group). True if one ran."""
    pid_file = _pid_file(config)
    if not pid_file.exists():
        return False
    stopped = stop_group(int(pid_file.read_text()), grace_s)
    pid_file.unlink(missing_ok=True)
    return stopped
