"""``production/lead_scoring/latest`` only moves forward, even when dates deploy at once."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta

from pipelines_core import lake, testing
from pipelines_core.runtime import RunContext
from pipelines_core.spec import get_pipeline
from pipelines_core.steps import ml

PIPELINE = get_pipeline("lead_scoring_mlops")
DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(4)]


def context(cfg, day):
    return RunContext(PIPELINE, "deploy", day, cfg)


def trained(cfg, day):
    """What deploy reads: the date's model and its metrics (stand-ins; deploy copies nothing)."""
    ctx = context(cfg, day)
    lake.write_json({"model": day.isoformat()}, ctx.partition("models", ml.MODEL_TABLE))
    lake.write_json({"auc": 0.9}, ctx.partition("models", f"{ml.MODEL_TABLE}_metrics"),
                    name="metrics.json")


def latest_date(cfg) -> str:
    latest = cfg.namespace_root() / "production" / ml.MODEL_TABLE / "latest"
    return json.loads((latest / "deployment.json").read_text())["date"]


def test_an_older_date_deployed_after_a_newer_one_leaves_latest_alone(tmp_path):
    cfg = testing.make_config(tmp_path)
    for day in DAYS:
        trained(cfg, day)
    assert ml.deploy(context(cfg, DAYS[2])).metrics["latest_moved"] is True
    assert ml.deploy(context(cfg, DAYS[0])).metrics["latest_moved"] is False
    assert latest_date(cfg) == DAYS[2].isoformat()
    # the older date's deployment is recorded all the same
    assert lake.read_json(context(cfg, DAYS[0]).partition("production", ml.MODEL_TABLE),
                          "deployment.json")["date"] == DAYS[0].isoformat()
    assert ml.deploy(context(cfg, DAYS[3])).metrics["latest_moved"] is True
    assert latest_date(cfg) == DAYS[3].isoformat()


def test_dates_deploying_at_once_never_move_latest_back(tmp_path):
    cfg = testing.make_config(tmp_path)
    for day in DAYS:
        trained(cfg, day)
    latest = cfg.namespace_root() / "production" / ml.MODEL_TABLE / "latest"
    wrong = []
    for round_ in range(60):
        if latest.is_symlink():
            latest.unlink()
        barrier = threading.Barrier(len(DAYS))

        def deploy(day):
            barrier.wait()
            ml.deploy(context(cfg, day))

        threads = [threading.Thread(target=deploy, args=(d,)) for d in reversed(DAYS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if latest_date(cfg) != DAYS[-1].isoformat():
            wrong.append((round_, latest_date(cfg)))
    assert wrong == []
