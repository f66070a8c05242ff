"""Shared fixtures: one Spark Connect server and one temporary lake for the whole session.

The short test retry policy is put into the environment before the definitions are imported
(the assets' retry policies are built from it at import time); the lake, state and Spark
settings follow once the server is up. Tests use distinct dates, so they never share data.
"""

from __future__ import annotations

import os

from pipelines_core.testing import TEST_RETRY

for _name, _value in TEST_RETRY.items():
    os.environ[f"WORKBENCH_{_name.upper()}"] = str(_value)

import pytest  # noqa: E402

from pipelines_core.testing import connect_server, make_config  # noqa: E402


@pytest.fixture(scope="session")
def config(tmp_path_factory):
    """A connect-mode configuration in namespace ``dagster``, exported to the environment."""
    root = tmp_path_factory.mktemp("workbench")
    base = make_config(root, namespace="dagster", scale=2_000, orchestrator="dagster")
    with connect_server(base) as cfg:
        saved = dict(os.environ)
        os.environ.update(cfg.to_env())
        os.environ.pop("WORKBENCH_FAULTS", None)
        try:
            yield cfg
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture
def instance(tmp_path):
    """A temporary Dagster instance (its own DAGSTER_HOME, SQLite storage)."""
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral(tempdir=str(tmp_path / "dagster_home")) as inst:
        yield inst


@pytest.fixture(scope="session")
def reference(config):
    """Checksums of the direct runner's outputs per (pipeline, date), computed once each.

    The ML reference also runs that date's ETL, whose outputs then serve the ETL reference.
    """
    from pipelines_core.testing import reference_outputs
    from pipelines_core.verify import output_checksums

    cache: dict = {}

    def get(pipeline, day):
        if (pipeline, day) not in cache:
            if pipeline == "customer_daily_etl" and ("lead_scoring_mlops", day) in cache:
                cache[(pipeline, day)] = output_checksums(
                    config.replace(namespace="reference"), pipeline, day)
            else:
                cache[(pipeline, day)] = reference_outputs(config, pipeline, day)
        return cache[(pipeline, day)]

    return get
