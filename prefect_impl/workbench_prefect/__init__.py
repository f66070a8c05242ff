"""Both workbench pipelines as Prefect 3 flows, their deployments, and the server they run on.

Importing this package does not import Prefect: ``server`` is plain Python so the benchmark
adapter (which runs without Prefect installed) can start and stop the same server.
"""

from pathlib import Path

IMPL_DIR = Path(__file__).resolve().parent.parent
ORCHESTRATOR = "prefect"
