"""Both flows by pipeline name."""

from workbench_prefect.etl import customer_daily_etl
from workbench_prefect.ml import lead_scoring_mlops

FLOWS = {f.name: f for f in (customer_daily_etl, lead_scoring_mlops)}
