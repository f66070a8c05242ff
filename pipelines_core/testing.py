"""Helpers the test suites of the core and of every implementation share.

Nothing here fakes behaviour: it builds a configuration in a temporary folder, starts and
stops a real Spark Connect server, generates real exports, and runs the direct runner to
produce the reference outputs an orchestrator's outputs must equal.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from datetime import date as Date
from pathlib import Path
from typing import Any, Iterator

from pipelines_core.config import WorkbenchConfig, load_config
from pipelines_core.procs import free_port  # noqa: F401 - part of the test helpers

# Short retry delays keep tests fast while still showing the backoff (1 s, 2 s, cap 3 s).
TEST_RETRY = {"retries": 2, "retry_base_delay_s": 1.0, "retry_backoff_factor": 2.0,
              "retry_max_delay_s": 3.0}


def make_config(root: Path, *, namespace: str = "test", scale: int = 2_000,
                spark_mode: str = "local", **overrides: Any) -> WorkbenchConfig:
    """A configuration whose lake and state live under ``root`` (environment ignored)."""
    values = {"lake_root": Path(root) / "lake", "state_dir": Path(root) / "state",
              "namespace": namespace, "scale": scale, "spark_mode": spark_mode,
              "sensor_timeout_s": 30.0, "sensor_poke_s": 0.5, **TEST_RETRY, **overrides}
    return load_config(env={}, **values)


@contextlib.contextmanager
def connect_server(config: WorkbenchConfig, port: int | None = None) -> Iterator[WorkbenchConfig]:
    """Start a Spark Connect server on 127.0.0.1 for the block; yields a ``connect`` config."""
    from pipelines_core import spark

    cfg = config.replace(spark_mode="connect", spark_connect_port=port or free_port(),
                         spark_url="")
    spark.start_connect_server(cfg)
    try:
        yield cfg
    finally:
        spark.stop_sessions()
        spark.stop_connect_server(cfg)


@contextlib.contextmanager
def traversable_root(prefix: str) -> Iterator[Path]:
    """A temporary folder other local users may pass through (0711), removed at the end:
    PostgreSQL runs as the postgres user when the suite runs as root, and pytest's own
    temporary folders (0700) are closed to it."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o711)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def generate_exports(config: WorkbenchConfig, dates: list[Date]) -> None:
    from pipelines_core.generator import write_customer_export

    for day in dates:
        write_customer_export(config, day)


def reference_outputs(config: WorkbenchConfig, pipeline: str, day: Date,
                      namespace: str = "reference") -> dict[str, str]:
    """Checksums of the direct runner's outputs for ``day`` in a reference namespace.

    Runs the ETL first when ``pipeline`` is the ML pipeline (it reads fresh silver data).
    """
    from pipelines_core.runner import run_pipeline
    from pipelines_core.spec import get_pipeline
    from pipelines_core.verify import output_checksums

    ref = config.replace(namespace=namespace, orchestrator="direct")
    generate_exports(ref, [day])
    needed = ["customer_daily_etl"] + (["lead_scoring_mlops"]
                                       if pipeline == "lead_scoring_mlops" else [])
    for name in needed:
        outcome = run_pipeline(get_pipeline(name), day, ref)
        if outcome.state != "success":
            raise AssertionError(f"reference run of {name} {day} failed: {outcome.steps}")
    return output_checksums(ref, pipeline, day)
