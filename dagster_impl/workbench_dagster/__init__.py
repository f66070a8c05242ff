"""Both workbench pipelines as Dagster software-defined assets, thin over ``pipelines_core``."""
