"""Fault plans: parsed strictly, counted in files across processes."""

import json
import subprocess
import sys

import pytest

from pipelines_core import faults
from pipelines_core.errors import ConfigError, InjectedFault

CHILD = """
import sys
from pathlib import Path
from pipelines_core import faults
plan = faults.load_plan()
try:
    d = faults.decide(plan, state_dir=Path(sys.argv[1]), namespace="ns", pipeline="p",
                      step="ingest_cdc", date="2026-11-02", map_key=None, timeout_s=1)
    print("ok", d.seen)
except faults.InjectedFault as exc:
    print("raised", exc)
"""


def test_raise_fault_counts_attempts_across_processes(tmp_path):
    env = {"WORKBENCH_FAULTS": json.dumps({"ingest_cdc": {"kind": "raise", "times": 2}}),
           "PATH": "/usr/bin:/bin"}
    outs = [subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
            for _ in range(4)]
    assert [o.split()[0] for o in outs] == ["raised", "raised", "ok", "ok"]
    assert outs[1].endswith("(attempt 2)")
    assert outs[2] == "ok 3"


def test_permanent_fault_never_lets_go(tmp_path):
    plan = faults.parse_plan({"s": {"kind": "permanent"}})
    for _ in range(5):
        with pytest.raises(InjectedFault):
            faults.decide(plan, state_dir=tmp_path, namespace="n", pipeline="p", step="s",
                          date="d", map_key=None, timeout_s=1)


def test_fault_limited_to_dates_and_map_keys_counted_apart(tmp_path):
    plan = faults.parse_plan({"s": {"kind": "raise", "times": 1, "dates": ["2026-11-02"]}})
    kw = dict(state_dir=tmp_path, namespace="n", pipeline="p", step="s", timeout_s=1)
    assert faults.decide(plan, date="2026-11-03", map_key=None, **kw).kind is None
    for key in ("emea", "amer"):
        with pytest.raises(InjectedFault):
            faults.decide(plan, date="2026-11-02", map_key=key, **kw)
    assert faults.decide(plan, date="2026-11-02", map_key="emea", **kw).seen == 2
    faults.reset(tmp_path)
    with pytest.raises(InjectedFault):
        faults.decide(plan, date="2026-11-02", map_key="emea", **kw)


def test_merged_plan_gives_each_date_its_own_fault(tmp_path):
    plan = faults.parse_plan(json.dumps(faults.merge_plans({
        "2026-11-17": {"s": {"kind": "crash", "times": 1}},
        "2026-11-19": {"s": {"kind": "permanent"}},
        "2026-11-16": {"t": {"kind": "raise", "times": 2}}})))
    kw = dict(state_dir=tmp_path, namespace="n", pipeline="p", map_key=None, timeout_s=1)
    assert faults.decide(plan, step="s", date="2026-11-17", **kw).kind == "crash"
    assert faults.decide(plan, step="s", date="2026-11-17", **kw).kind is None  # once only
    for _ in range(3):
        with pytest.raises(InjectedFault, match="permanent"):
            faults.decide(plan, step="s", date="2026-11-19", **kw)
    with pytest.raises(InjectedFault, match="raise fault in t"):
        faults.decide(plan, step="t", date="2026-11-16", **kw)
    # A date no fault names runs clean, on every step.
    assert faults.decide(plan, step="s", date="2026-11-16", **kw).kind is None
    assert faults.decide(plan, step="t", date="2026-11-17", **kw).seen == 0


def test_crash_decision_is_deferred_to_the_write(tmp_path):
    plan = faults.parse_plan('{"s": {"kind": "crash", "times": 1}}')
    d = faults.decide(plan, state_dir=tmp_path, namespace="n", pipeline="p", step="s",
                      date="d", map_key=None, timeout_s=1)
    assert d.kind == "crash"


@pytest.mark.parametrize("plan, needle", [
    ('{"s": {"kind": "explode"}}', "kind"),
    ('{"s": {"kind": "raise", "times": -1}}', "times"),
    ("{not json", "not valid JSON"),
    ("/no/such/plan.json", "does not exist"),
    ('{"s": [{"kind": "raise"}, 3]}', "object or a list"),
])
def test_bad_plans_are_rejected(plan, needle):
    with pytest.raises(ConfigError, match=needle):
        faults.parse_plan(plan)
