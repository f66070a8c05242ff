"""Observability probes: the generic ones answered from an adapter's ``read_runs``, each
probe run on its own (one that raises is that probe's error, with its traceback), and the
probes an adapter does not offer listed as such."""

import functools

from benchmarks.adapters.base import Adapter, AttemptView, Probe, RunView, StepView
from benchmarks.probes import PROBE_NAMES, observability, probe_name, run_probe
from pipelines_core import testing

DAY = "2026-11-02"
START, END = "2026-11-02T02:00:00+00:00", "2026-11-02T02:00:03+00:00"


def ledger_attempt(step, duration, status="success"):
    return {"step": step, "map_key": None, "status": status, "start": START,
            "duration_s": duration}


MINE = {
    "happy": [{"date": DAY, "ledger": [ledger_attempt("ingest_cdc", 3.0),
                                       ledger_attempt("notify", 1.0)]}],
    "retries": {
        "transient": {"step": "gold_summary", "attempts_recorded": 3, "attempts_truth": 3},
        "permanent": {"step": "ingest_cdc", "date": "2026-11-19", "alert_delivered": True,
                      "run": {"state": "failed", "steps": [
                          {"step": "ingest_cdc", "attempts": [
                              {"error": "RuntimeError: injected permanent fault"}]}]}},
    },
}


def recorded_run(duration=3.5, log="ingest_cdc started"):
    def step(name, seconds):
        return StepView(name, "success", attempts=[
            AttemptView(1, "success", START, END, seconds, log_excerpt=log)])
    return RunView("run-1", "customer_daily_etl", DAY, "success",
                   steps=[step("ingest_cdc", duration), step("notify", 1.0)])


class FakeAdapter(Adapter):
    """Records that a test sets; probes it is given."""

    name = "fake"

    def __init__(self, config, runs=None, own=None):
        super().__init__(config)
        self.runs, self.own = runs, own or []

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        raise NotImplementedError

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        raise NotImplementedError

    def read_runs(self, pipeline, day=None):
        if isinstance(self.runs, Exception):
            raise self.runs
        return self.runs

    def probes(self, mine):
        if isinstance(self.own, Exception):
            raise self.own
        return self.own


def by_name(result):
    return {p["name"]: p for p in result["probes"]}


def test_generic_probes_agree_with_the_ledger(tmp_path):
    result = observability(FakeAdapter(testing.make_config(tmp_path), [recorded_run()]), MINE)
    probes = by_name(result)
    assert list(probes) == list(PROBE_NAMES)
    assert {n: p["passed"] for n, p in probes.items()} == {
        "run_state": True, "step_states": True, "attempts_match": True, "durations": True,
        "per_attempt_logs": True, "failure_message": True, "failure_visible": True,
        "alert_delivered": True, "metrics_endpoint": None, "lineage_events": None,
        "quality_results": None}
    assert probes["durations"]["evidence"] == "2 attempts compared; worst error 0.5 s"
    assert probes["metrics_endpoint"]["evidence"] == "fake offers no such probe"
    assert all(p["error"] is None for p in probes.values())
    assert result["score"] == round(8 / 11, 3)


def test_generic_probes_fail_where_the_record_disagrees(tmp_path):
    """A duration off by more than 2 s, a log without the step's line."""
    adapter = FakeAdapter(testing.make_config(tmp_path), [recorded_run(6.0, "nothing")])
    probes = by_name(observability(adapter, MINE))
    assert probes["durations"]["passed"] is False
    assert probes["durations"]["evidence"] == "2 attempts compared; worst error 3.0 s"
    assert probes["per_attempt_logs"]["passed"] is False
    assert probes["per_attempt_logs"]["evidence"].startswith("0/2 attempt logs")
    assert probes["run_state"]["passed"] is True


def test_one_probe_that_raises_is_that_probe_s_error(tmp_path):
    """The adapter's second probe raises: it fails with its traceback, the first and third
    pass, and every generic probe still answers."""
    def metrics_endpoint():
        return Probe("metrics_endpoint", True, "counters match")

    def lineage_events():
        raise ConnectionError("lineage store unreachable")

    def quality_results():
        return Probe("quality_results", True, "checks read back")

    adapter = FakeAdapter(testing.make_config(tmp_path), [recorded_run()],
                          [metrics_endpoint, lineage_events, quality_results])
    result = observability(adapter, MINE)
    probes = by_name(result)
    assert probes["metrics_endpoint"] == {"name": "metrics_endpoint", "passed": True,
                                          "evidence": "counters match", "error": None}
    assert probes["quality_results"]["passed"] is True
    broken = probes["lineage_events"]
    assert broken["passed"] is False
    assert broken["evidence"] == \
        "the probe raised ConnectionError: lineage store unreachable"
    assert broken["error"].startswith("Traceback (most recent call last):")
    assert 'raise ConnectionError("lineage store unreachable")' in broken["error"]
    assert broken["error"].rstrip().endswith("ConnectionError: lineage store unreachable")
    assert [p["name"] for p in result["probes"]] == list(PROBE_NAMES)
    assert result["score"] == round(10 / 11, 3)


def test_a_failing_read_fails_only_the_probes_that_need_it(tmp_path):
    adapter = FakeAdapter(testing.make_config(tmp_path), TimeoutError("API timed out"))
    probes = by_name(observability(adapter, MINE))
    needs_the_run = {"run_state", "step_states", "durations", "per_attempt_logs"}
    for name in needs_the_run:
        assert probes[name]["passed"] is False
        assert "TimeoutError: API timed out" in probes[name]["error"]
    for name in {"attempts_match", "failure_message", "failure_visible", "alert_delivered"}:
        assert probes[name] == {**probes[name], "passed": True, "error": None}


def test_probes_the_adapter_cannot_list_are_reported_and_the_rest_run(tmp_path):
    adapter = FakeAdapter(testing.make_config(tmp_path), [recorded_run()],
                          RuntimeError("no services"))
    probes = by_name(observability(adapter, MINE))
    assert probes["adapter_probes"]["passed"] is False
    assert probes["adapter_probes"]["evidence"] == "fake.probes() raised RuntimeError: no services"
    assert "RuntimeError: no services" in probes["adapter_probes"]["error"]
    assert probes["run_state"]["passed"] is True
    assert probes["metrics_endpoint"]["passed"] is None


def test_an_answer_that_is_not_a_probe_is_an_error():
    def quality_results():
        return {"name": "quality_results", "passed": True, "evidence": "a dict"}

    answer = run_probe(quality_results)
    assert (answer.name, answer.passed) == ("quality_results", False)
    assert answer.evidence == "the probe raised TypeError: a probe returns a Probe, this one a dict"


def test_a_probe_that_raises_is_named_after_its_callable():
    def _probe_lineage_events(day):
        return Probe("lineage_events", True, day)

    assert probe_name(_probe_lineage_events) == "lineage_events"
    assert probe_name(functools.partial(_probe_lineage_events, DAY)) == "lineage_events"
    named = lambda: None  # noqa: E731
    named.probe_name = "quality_results"
    assert probe_name(named) == "quality_results"
    assert probe_name(lambda: None) == "<lambda>"
