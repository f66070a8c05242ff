"""Writes ``data/crash-results.json``, the exercise's data: the crash cases of real benchmark
runs, copied from each run's ``results.json`` with every figure as measured.

    .venv/bin/python exercises/11-crash-detection/build_data.py

``SOURCES`` says which run each orchestrator's cases come from: an orchestrator listed under
two runs is taken from the first. To add a newer run, put its ``results.json`` first with the
orchestrators to take from it, and run the command again (``reports/latest/results.json`` is
recorded under the folder it points to). Reports never enter git: the file is the copy.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = Path(__file__).resolve().parent / "data" / "crash-results.json"
PIPELINE = "customer_daily_etl"

SOURCES: list[tuple[str, tuple[str, ...]]] = [
    ("reports/20261204T221524Z/results.json", ("luigi",)),
    ("reports/20261204T185005Z/results.json", ("direct", "airflow")),
    ("reports/20261204T162530Z/results.json", ("prefect", "dagster")),
]

# What a reader of a run's cases should know about that run, said in its source's note.
NOTES = {
    "reports/20261204T185005Z/results.json":
        "Each case carries the detection settings it ran with: the service's tuned settings "
        "gained the orphan check interval (30) during that run, so its api-server and "
        "scheduler cases ran tuned with the orphan check still at 300.",
    "reports/20261204T162530Z/results.json":
        "The scenario's version of that run took detected_s when the orchestrator's answer "
        "came back, so it includes the time the read took; and when the benchmark's wait "
        "failed (adapter error) it did not read on until the run ended.",
}
# Runs older than a case's ``detection`` record: the settings they ran with, taken from the
# settings the same results.json lists for each orchestrator.
BEFORE_THE_RECORD: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
    ("reports/20261204T162530Z/results.json", "prefect"): (
        "Prefect: no heartbeat frequency set and no automation",
        {"mode": "default",
         "settings": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "180",
                      "automation": "none (a silent run stays Running)"},
         "tuned": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
                   "automation": "'Crash zombie flows': Crashed 90 s after the last heartbeat"}}),
    ("reports/20261204T162530Z/results.json", "dagster"): (
        "Dagster: run_monitoring enabled, poll_interval_seconds 10, what the service's tuned "
        "detection sets",
        {"mode": "tuned",
         "settings": {"run_monitoring.enabled": "True",
                      "run_monitoring.poll_interval_seconds": "10",
                      "run_monitoring.start_timeout_seconds": "180",
                      "run_monitoring.max_resume_run_attempts": "0"},
         "tuned": {"run_monitoring.enabled": "True",
                   "run_monitoring.poll_interval_seconds": "10"}}),
}
# Not an instance setting but a tag of the run (the workbench's ETL job sets it), which run
# monitoring reads before the instance's max_runtime_seconds.
DAGSTER_RUN_TAG = "dagster/max_runtime"


def dagster_max_runtime(results: dict[str, Any]) -> tuple[str, str]:
    """The ETL job's ``dagster/max_runtime`` tag in that run, and how it follows: every step's
    every attempt at the benchmark's step timeout (``workbench_dagster.common.max_runtime_s``)."""
    from pipelines_core.spec import get_pipeline

    retry = results["configuration"]["retry"]
    steps, attempts = len(get_pipeline(PIPELINE).steps), retry["retries"] + 1
    value = f"{int(retry['step_timeout_s'] * attempts * steps)}"
    return value, (f"{steps} steps x {attempts} attempts x the benchmark's "
                   f"{retry['step_timeout_s']:g} s step timeout = {value} s")


def recorded_as(path: str) -> str:
    """``path`` as the file names it: through ``reports/latest`` to the run's own folder."""
    return (ROOT / path).resolve().relative_to(ROOT.resolve()).as_posix()


def build() -> dict[str, Any]:
    """The data file's content from ``SOURCES``."""
    sources: dict[str, Any] = {}
    rows: dict[str, Any] = {}
    for listed, names in SOURCES:
        source = recorded_as(listed)
        results = json.loads((ROOT / source).read_text())
        added: list[str] = []
        for name in names:
            row = (results.get("orchestrators") or {}).get(name) or {}
            crash = (row.get("scenarios") or {}).get("crash")
            if name in rows or not crash:
                continue
            cases = json.loads(json.dumps(crash))  # a copy: figures as measured
            for key, case in cases.items():
                if "detection" not in case:
                    if (source, name) not in BEFORE_THE_RECORD:
                        raise SystemExit(f"{source}: {name}/{key} has no detection record; "
                                         "say in BEFORE_THE_RECORD what it ran with")
                    said, record = BEFORE_THE_RECORD[(source, name)]
                    case["detection"] = json.loads(json.dumps(record))
                    if said not in added:
                        added.append(said)
                if name == "dagster" and DAGSTER_RUN_TAG not in case["detection"]["settings"]:
                    value, how = dagster_max_runtime(results)
                    case["detection"]["settings"][DAGSTER_RUN_TAG] = value
                    said = f"Dagster: the {DAGSTER_RUN_TAG} tag of its ETL job ({how})"
                    if said not in added:
                        added.append(said)
            rows[name] = {"source": source, "orchestrator": row.get("orchestrator", name),
                          "profile": row.get("profile"), "mode": row.get("mode"),
                          "scenarios": {"crash": cases}}
        if not any(r["source"] == source for r in rows.values()):
            continue
        note = ["The crash cases of that run, every figure as measured."]
        if source in NOTES:
            note.append(NOTES[source])
        if added:
            note.append("Added to its cases, as they ran: " + "; ".join(added) + ".")
        sources[source] = {"created": results.get("created"), "note": " ".join(note)}
    return {"sources": sources, "orchestrators": rows}


def main() -> int:
    data = build()
    DATA.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    count = sum(len(r["scenarios"]["crash"]) for r in data["orchestrators"].values())
    print(f"{DATA.relative_to(ROOT)}: {count} cases of {', '.join(data['orchestrators'])}")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
