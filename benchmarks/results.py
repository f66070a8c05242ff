"""``results.json``: what one benchmark measured, per orchestrator, with the environment, the
configuration and every non-default setting it ran with, in the shape
``results.schema.json`` describes (its version is ``SCHEMA_VERSION``)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from benchmarks.adapters.base import Adapter
from benchmarks.measures import median
from benchmarks.plan import BENCH_RETRY, BenchPlan
from pipelines_core.config import PROJECT_ROOT, WorkbenchConfig

SCHEMA_VERSION = "1.9.0"
SCHEMA_PATH = Path(__file__).with_name("results.schema.json")
NO_BACKFILL = ("days", "wall_s", "partitions_per_min", "identical_to_direct", "rerun_wall_s",
               "rerun_steps_executed")


def capabilities(adapter: Adapter) -> dict[str, Any]:
    caps = getattr(adapter, "capabilities", None)
    return dict(vars(caps)) if caps is not None else {}


def happy_path(data: dict[str, Any], direct_wall: float | None) -> dict[str, Any]:
    """The happy path's figures over the counted runs (medians, min, max), the floor's median
    and the ratio of the median wall time to the direct runner's."""
    counted = [h for h in data["happy"] if not h["warmup"]]
    floors = [f["wall_s"] for f in data["floor"] if not f["warmup"] and f["state"] == "success"]
    walls = [h["wall_s"] for h in counted]
    wall = median(walls)
    return {"wall_s": wall, "wall_s_min": min(walls, default=None),
            "wall_s_max": max(walls, default=None),
            "overhead_s": median([h["overhead_s"] for h in counted]),
            "overhead_ratio": round(wall / direct_wall, 3) if wall and direct_wall else None,
            "floor_wall_s": median(floors),
            "max_gap_s": median([h["max_gap_s"] for h in counted]),
            "run_s": median([h["run_s"] for h in counted if h.get("run_s") is not None]),
            "states": [h["state"] for h in counted],
            "runs": data["happy"]}


def orchestrator_results(adapter: Adapter | None, data: dict[str, Any],
                         direct_wall: float | None) -> dict[str, Any]:
    """One orchestrator's entry: capabilities, errors, the settings it ran with, what its
    adapter did to its services in the open, and every scenario's figures."""
    services = adapter is not None and getattr(adapter, "service", None) is not None
    return {
        "orchestrator": adapter.name if adapter else None,
        "profile": adapter.profile if services else None,
        "mode": getattr(adapter, "mode", None) if adapter else None,
        "capabilities": capabilities(adapter) if adapter else {},
        "errors": data["errors"],
        "settings": dict(adapter.settings) if adapter else {},
        "incidents": list(adapter.incidents) if adapter else [],
        "scenarios": {
            "happy_path": happy_path(data, direct_wall),
            "retries": data.get("retries", {}),
            "backfill": data.get("backfill", dict.fromkeys(NO_BACKFILL)),
            # not run (an extra row, or the scenario left out): no score, not a zero
            "observability": data.get("observability", {"probes": [], "score": None}),
            # each case's verdict and error line; absent when the scenario did not run
            **{k: data[k] for k in ("bad_input", "crash") if k in data},
        },
    }


def assemble(plan: BenchPlan, config: WorkbenchConfig, adapters: dict[str, Adapter],
             per: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The whole results document from each orchestrator's scenario results ``per`` name."""
    direct_wall = median([h["wall_s"] for h in per["direct"]["happy"] if not h["warmup"]])
    return {"schema_version": SCHEMA_VERSION,
            "created": datetime.now(timezone.utc).isoformat(),
            "environment": environment(),
            "configuration": {"plan": plan.to_dict(),
                              "retry": {**BENCH_RETRY, "step_timeout_s": plan.step_timeout_s},
                              "fault_plans": {k: {s: f} for k, (s, f) in plan.faults().items()},
                              "spark": config.connect_url,
                              "postgres": postgres_settings(config, adapters)},
            "orchestrators": {name: orchestrator_results(adapters.get(name), data, direct_wall)
                              for name, data in per.items()}}


def postgres_settings(config: WorkbenchConfig, adapters: dict[str, Adapter]
                      ) -> dict[str, Any] | None:
    """The workbench's PostgreSQL as the production profile's rows used it: version, where
    it listened, its settings that differ from PostgreSQL's defaults. None when no row ran on
    it."""
    from pipelines_core import postgres

    if not any(a.profile == "production" and getattr(a, "service", None) is not None
               for a in adapters.values()):
        return None
    return {"version": postgres.version(), "port": config.postgres_port,
            "settings": dict(postgres.SETTINGS),
            "databases": {name: name for name in postgres.DATABASES}}


def environment() -> dict[str, Any]:
    """Versions, machine and commit, recorded with every result."""
    import pyspark

    from pipelines_core.spark import java_version

    def version_of(impl: str, package: str) -> str | None:
        py = PROJECT_ROOT / impl / ".venv" / "bin" / "python"
        if not py.exists():
            return None
        out = subprocess.run([str(py), "-c", f"import importlib.metadata as m; "
                                             f"print(m.version('{package}'))"],
                             capture_output=True, text=True)
        return out.stdout.strip() or None

    mem = None
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                            text=True).stdout.strip() or None
    return {"python": platform.python_version(), "java": java_version(),
            "pyspark": pyspark.__version__,
            "apache-airflow": version_of("airflow_impl", "apache-airflow"),
            "prefect": version_of("prefect_impl", "prefect"),
            "dagster": version_of("dagster_impl", "dagster"),
            "luigi": version_of("luigi_impl", "luigi"),
            "machine": {"cores": os.cpu_count(), "memory_bytes": mem,
                        "platform": platform.platform()},
            "git_commit": commit}


def write_results(results: dict[str, Any], out_root: Path) -> Path:
    """``reports/<timestamp>/results.json``; ``reports/latest`` points at it."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    folder = out_root / stamp
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.json").write_text(json.dumps(results, indent=2, default=str))
    latest = out_root / "latest"
    tmp = out_root / f".latest.{stamp}"
    tmp.symlink_to(stamp)
    tmp.replace(latest)
    return folder
