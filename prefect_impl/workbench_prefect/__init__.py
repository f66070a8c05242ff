"""Both workbench pipelines as Prefect 3 flows, their deployments, and the service command that
runs Prefect's server and worker (``python -m workbench_prefect.service``).

Importing this package does not import Prefect, so the service command answers quickly.
"""

from pathlib import Path

IMPL_DIR = Path(__file__).resolve().parent.parent
ORCHESTRATOR = "prefect"
POOL = "workbench-process"  # the process work pool both deployments run on

