"""Scale-out, proven natively: a Spark standalone master and one worker started from the
installed pyspark package on 127.0.0.1, one date of ``customer_daily_etl`` run against it
(``spark_mode=remote``, ``spark://``) through the direct runner and through Prefect, and both
outputs compared with a run of the same date on the classic local session.

The cluster is what ``docker-compose.yml`` runs as ``spark-master`` and ``spark-worker-*``:
the same ``spark-class`` entry points from the same pyspark version.
"""

from __future__ import annotations

import os
import re
import subprocess
from datetime import date
from pathlib import Path

import pytest

from pipelines_core import testing, verify
from pipelines_core.config import PROJECT_ROOT
from pipelines_core.http import HttpClient, HttpError
from pipelines_core.procs import (free_port, poll_until, port_open, start_group, stop_group,
                                  wait_for_port)
from pipelines_core.spark import spark_home

DAY = date(2026, 11, 2)
PIPELINE = "customer_daily_etl"
SCALE = 500
PREFECT_PYTHON = PROJECT_ROOT / "prefect_impl" / ".venv" / "bin" / "python"
METRICS_CONF = PROJECT_ROOT / "docker" / "spark" / "metrics.properties"

pytestmark = pytest.mark.timeout(900)


class StandaloneCluster:
    """A Spark standalone master and one worker, each in its own process group."""

    def __init__(self, root: Path, cores: int = 2, memory: str = "1g") -> None:
        self.root = root
        self.port, self.web_port = free_port(), free_port()
        self.worker_port, self.worker_web_port = free_port(), free_port()
        self.cores, self.memory = cores, memory
        self.work_dir = root / "work"
        self.groups: list[int] = []

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
        env.update({"SPARK_HOME": str(spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
                    "SPARK_NO_DAEMONIZE": "1",
                    # the compose stack's metrics configuration, and no REST submission
                    # server on 6066 (nothing here submits through it)
                    "SPARK_MASTER_OPTS": f"-Dspark.metrics.conf={METRICS_CONF} "
                                         "-Dspark.master.rest.enabled=false",
                    "SPARK_WORKER_OPTS": f"-Dspark.metrics.conf={METRICS_CONF}"})
        return env

    def start(self) -> "StandaloneCluster":
        spark_class = str(spark_home() / "bin" / "spark-class")
        master_log, worker_log = self.root / "master.log", self.root / "worker.log"
        master = start_group([spark_class, "org.apache.spark.deploy.master.Master",
                              "--host", "127.0.0.1", "--port", str(self.port),
                              "--webui-port", str(self.web_port)],
                             log=master_log, env=self._env())
        self.groups.append(master.pid)
        wait_for_port(self.port, master, timeout_s=120, what="Spark master", log=master_log)
        worker = start_group([spark_class, "org.apache.spark.deploy.worker.Worker",
                              "--host", "127.0.0.1", "--port", str(self.worker_port),
                              "--webui-port", str(self.worker_web_port),
                              "--cores", str(self.cores), "--memory", self.memory,
                              "--work-dir", str(self.work_dir), self.url],
                             log=worker_log, env=self._env())
        self.groups.append(worker.pid)
        poll_until(lambda: self.state().get("aliveworkers", 0) >= 1, timeout_s=120,
                   interval_s=1, what=f"the worker registered (see {worker_log})",
                   fail=lambda: "the worker exited" if worker.poll() is not None else None)
        return self

    def state(self) -> dict:
        """The master's own view (its web UI's JSON): workers, active and completed apps."""
        try:
            return HttpClient(f"http://127.0.0.1:{self.web_port}", timeout_s=5,
                              tries=1).get("/json/")
        except HttpError:
            return {}

    def get(self, port: int, path: str) -> str:
        return HttpClient(f"http://127.0.0.1:{port}", timeout_s=10).request("GET", path,
                                                                            raw=True)

    def completed_apps(self) -> list[dict]:
        return self.state().get("completedapps", [])

    def tasks_run_by_executors(self, app_id: str) -> int:
        """How many tasks the worker's executors of ``app_id`` ran (from their own logs)."""
        logs = list((self.work_dir / app_id).glob("*/stderr"))
        return sum(p.read_text(errors="replace").count("Running task") for p in logs)

    def stop(self) -> None:
        for pgid in reversed(self.groups):
            stop_group(pgid, grace_s=15)
        self.groups.clear()

    def ports(self) -> list[int]:
        return [self.port, self.web_port, self.worker_port, self.worker_web_port]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = StandaloneCluster(tmp_path_factory.mktemp("spark-cluster"))
    try:
        yield c.start()
    finally:
        c.stop()
        assert not any(port_open(p) for p in c.ports()), "a cluster port is still open"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Checksums of the same date on the classic local session."""
    cfg = testing.make_config(tmp_path_factory.mktemp("local-ref"), scale=SCALE)
    checksums = testing.reference_outputs(cfg, PIPELINE, DAY)
    assert len(checksums) == 9  # every output of a day that is not the 1st of a month
    return checksums


def _local(cfg):
    """The same configuration on this process's classic local session (for generating the
    export and reading outputs back; the pipeline itself runs on the cluster)."""
    return cfg.replace(spark_mode="local", spark_url="")


def test_master_and_worker_serve_the_metrics_the_compose_prometheus_scrapes(cluster):
    """docker/spark/metrics.properties (the stack's Spark metrics) turns on the endpoints
    docker/prometheus/prometheus.yml scrapes, on the web UI ports."""
    master = cluster.get(cluster.web_port, "/metrics/master/prometheus")
    assert re.search(r"^metrics_master_aliveWorkers_Value\S* 1$", master, re.M), master[:2000]
    assert "metrics_master_workers_Value" in master
    worker = cluster.get(cluster.worker_web_port, "/metrics/prometheus")
    assert re.search(r"^metrics_worker_coresFree_Value\S* 2$", worker, re.M), worker[:2000]
    prometheus = (PROJECT_ROOT / "docker" / "prometheus" / "prometheus.yml").read_text()
    assert "/metrics/master/prometheus" in prometheus and "/metrics/prometheus" in prometheus


def _new_app(cluster: StandaloneCluster, before: set[str]) -> dict:
    """The one application that completed on the master since ``before`` (waits briefly:
    the master marks an application finished when its driver disconnects)."""
    def new_apps() -> list[dict]:
        return [a for a in cluster.completed_apps() if a["id"] not in before]

    try:
        new = poll_until(new_apps, timeout_s=60, interval_s=1, what="a completed application")
    except TimeoutError:
        new = []
    assert len(new) == 1, f"expected one new completed application, got {new}"
    return new[0]


def test_direct_runner_on_the_cluster_matches_the_local_run(cluster, reference, tmp_path):
    cfg = testing.make_config(tmp_path, namespace="direct", scale=SCALE,
                              spark_mode="remote", spark_url=cluster.url)
    testing.generate_exports(_local(cfg), [DAY])
    before = {a["id"] for a in cluster.completed_apps()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    env.update(cfg.to_env())
    # A fresh process: a JVM holds one SparkContext, and this one must be the cluster's.
    proc = subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "workbench"), "run",
                           "--pipeline", PIPELINE, "--date", DAY.isoformat()],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]

    app = _new_app(cluster, before)
    assert app["state"] == "FINISHED"
    assert cluster.tasks_run_by_executors(app["id"]) > 0
    assert verify.output_checksums(_local(cfg), PIPELINE, DAY) == reference


@pytest.mark.skipif(not PREFECT_PYTHON.exists(), reason="prefect_impl environment not set up")
def test_prefect_on_the_cluster_matches_the_local_run(cluster, reference, tmp_path):
    from benchmarks.adapters.prefect import PrefectAdapter

    cfg = testing.make_config(tmp_path, scale=SCALE, spark_mode="remote",
                              spark_url=cluster.url)
    adapter = PrefectAdapter(cfg, port=free_port(), home=tmp_path / "prefect-home")
    testing.generate_exports(_local(adapter.config), [DAY])
    before = {a["id"] for a in cluster.completed_apps()}
    adapter.start()
    try:
        run = adapter.run_date(PIPELINE, DAY, timeout_s=600)
    finally:
        adapter.stop()
    assert not port_open(adapter.port)
    assert run.state == "success", [(s.step, s.state) for s in run.steps]

    app = _new_app(cluster, before)
    assert app["state"] == "FINISHED"
    assert cluster.tasks_run_by_executors(app["id"]) > 0
    assert verify.output_checksums(_local(adapter.config), PIPELINE, DAY) == reference
