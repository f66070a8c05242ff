"""Apache Airflow 3 side of the workbench: the helpers both DAGs share (``common``) and the
service command that runs Airflow's components (``service``).

Kept free of imports so that ``python -m workbench_airflow.service status`` answers without
loading Airflow.
"""

from pathlib import Path

ORCHESTRATOR = "airflow"
IMPL_DIR = Path(__file__).resolve().parent.parent
DAGS_FOLDER = IMPL_DIR / "dags"
