"""Exercise 11 reads real runs' crash cases: every figure in its data file equals the one in
that run's own ``results.json`` (when the report is still on this machine: reports never enter
git), the only things added to a case are the settings it ran with that its run did not record,
and the file is what its build command writes from the runs it lists."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXERCISE = ROOT / "exercises" / "11-crash-detection"
DATA = EXERCISE / "data" / "crash-results.json"
TAG = "dagster/max_runtime"


def _builder():
    spec = importlib.util.spec_from_file_location("build_crash_data", EXERCISE / "build_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_orchestrator_names_a_described_source():
    data = json.loads(DATA.read_text())
    rows = data["orchestrators"]
    assert rows
    for name, row in rows.items():
        assert row["source"] in data["sources"], name
        assert row["scenarios"]["crash"], name
        for key, case in row["scenarios"]["crash"].items():
            # a case's key is its target, or the target and how the case differs
            assert key == case["target"] or key.startswith(f"{case['target']}, "), (name, key)
            assert set(case["detection"]) >= {"mode", "settings"}, (name, key)


@pytest.mark.parametrize("source", sorted(json.loads(DATA.read_text())["sources"]))
def test_cases_are_as_measured(source):
    path = ROOT / source
    if not path.is_file():
        pytest.skip(f"{source} is not on this machine")
    measured = json.loads(path.read_text())["orchestrators"]
    data = json.loads(DATA.read_text())
    rows = {n: r for n, r in data["orchestrators"].items() if r["source"] == source}
    assert rows
    for name, row in rows.items():
        cases = measured[name]["scenarios"]["crash"]
        copied = row["scenarios"]["crash"]
        assert list(copied) == list(cases), name
        for key, case in copied.items():
            original = cases[key]
            if "detection" not in original:  # a run older than the record: only added
                case = {k: v for k, v in case.items() if k != "detection"}
            elif name == "dagster" and TAG not in original["detection"]["settings"]:
                # the run's tag, which the service's record of its settings leaves out
                case = json.loads(json.dumps(case))
                del case["detection"]["settings"][TAG]
            assert case == original, (name, key)


def test_the_file_is_what_its_build_command_writes():
    builder = _builder()
    missing = [p for p, _ in builder.SOURCES if not (ROOT / p).is_file()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not on this machine")
    assert builder.build() == json.loads(DATA.read_text())
