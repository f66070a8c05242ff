"""Resources: the core's configuration and the core's Spark session provider.

Both are chosen from the environment (``WORKBENCH_*``) in one place, so the same definitions
run in a test (temporary lake), the demo and the benchmark.
"""

from __future__ import annotations

import os
from typing import Any

from dagster import ConfigurableResource

from pipelines_core.config import WorkbenchConfig, load_config

ORCHESTRATOR = "dagster"


class WorkbenchResource(ConfigurableResource):
    """The workbench configuration (lake, state, scale, Spark mode, retry overrides).

    Read from the ``WORKBENCH_*`` environment of the process that runs the step; the lake
    namespace defaults to ``dagster`` so runs never collide with another orchestrator's.
    """

    namespace: str = ORCHESTRATOR
    # Run-scoped environment for the steps (a fault plan, ``WORKBENCH_FAULTS``), given in a
    # run's config: ``resources: {workbench: {config: {env: {...}}}}``.
    env: dict[str, str] = {}

    def load(self) -> WorkbenchConfig:
        os.environ.update(self.env)
        config = load_config()
        namespace = config.namespace if os.environ.get("WORKBENCH_NAMESPACE") else self.namespace
        return config.replace(namespace=namespace, orchestrator=ORCHESTRATOR)


class SparkResource(ConfigurableResource):
    """Spark sessions from the core's provider (``local``, ``connect`` or ``remote``).

    The session is created once per process and shared with the core's steps, so a step
    process attached to the workbench's Spark Connect server never starts a JVM.
    """

    def session(self, config: WorkbenchConfig) -> Any:
        from pipelines_core.spark import get_session

        return get_session(config)


def default_resources() -> dict[str, Any]:
    return {"workbench": WorkbenchResource(), "spark": SparkResource()}
