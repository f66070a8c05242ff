"""results.json and the report for several orchestrators: each orchestrator's row with its
own figures, its non-default settings and the incidents its adapter recorded, in both the
HTML and the Markdown report, each crash case with its detection settings and its timeline,
and a document that validates against the schema."""

import json
from html.parser import HTMLParser

import jsonschema
import pytest

from benchmarks import report
from benchmarks.adapters.base import Adapter, Capabilities
from benchmarks.plan import BenchPlan
from benchmarks.results import SCHEMA_PATH, SCHEMA_VERSION, assemble, write_results
from pipelines_core import testing

SCHEMA = json.loads(SCHEMA_PATH.read_text())
CAPS = Capabilities(exponential_backoff=True, max_retry_delay=False, retry_jitter=False,
                    attempt_timeout=True, attempt_number_in_task=False, native_backfill=True,
                    metrics_endpoint=True)


class Recorded(Adapter):
    """An adapter standing for one orchestrator whose scenarios already ran."""

    capabilities = CAPS

    def __init__(self, config, name, settings=None, incidents=None):
        self.name = name
        super().__init__(config)
        self.settings.update(settings or {})
        self.incidents.extend(incidents or [])

    def run_date(self, pipeline, day, *, env=None, timeout_s=900):
        raise NotImplementedError

    def backfill(self, pipeline, start, end, *, parallelism=2, env=None, timeout_s=1800):
        raise NotImplementedError

    def read_runs(self, pipeline, day=None):
        return []


def scenario_results(wall, ppm, passed):
    """What the scenarios hand the results for one orchestrator: one warm-up and one
    counted happy run, a floor, a transient fault, a backfill and two probes."""
    ledger = [{"step": "ingest_cdc", "map_key": None, "status": "success",
               "start": "2026-11-03T02:00:00+00:00", "duration_s": 2.0}]

    def happy(rep, seconds):
        return {"repetition": rep, "warmup": rep == 0, "date": f"2026-11-0{2 + rep}",
                "state": "success", "wall_s": seconds, "step_s": 5.0,
                "overhead_s": seconds - 5.0, "max_gap_s": 0.5, "run_s": seconds - 1.0,
                "run": {}, "ledger": ledger}
    return {
        "errors": [], "happy": [happy(0, wall * 2), happy(1, wall)],
        "floor": [{"repetition": 1, "warmup": False, "date": "2026-10-12", "state": "success",
                   "wall_s": wall / 4}],
        "retries": {"transient": {
            "step": "gold_summary", "fault": {"kind": "raise", "times": 2},
            "date": "2026-11-16", "recovered": True, "attempts_recorded": 3,
            "attempts_truth": 3, "delays_observed_s": [1.1, 2.2],
            "delays_configured_s": [1.0, 2.0], "recovery_s": 3.5, "wall_s": wall,
            "downstream_skipped": None, "alert_delivered": False, "runs_at_once": 4,
            "run": {}}},
        "backfill": {"days": 3, "parallelism": 2, "mechanism": "mechanism of " + str(ppm),
                     "wall_s": 180 / ppm, "partitions_per_min": ppm, "states": ["success"] * 3,
                     "identical_to_direct": True, "rerun_wall_s": 1.0,
                     "rerun_steps_executed": 0,
                     "bad_day": {"others_finished": True, "only_bad_day_rerun": True}},
        "observability": {"score": 0.5, "probes": [
            {"name": "run_state", "passed": True, "evidence": "read back", "error": None},
            {"name": "metrics_endpoint", "passed": passed,
             "evidence": "the probe raised OSError: refused" if passed is False else "n/a",
             "error": "Traceback (most recent call last):\nOSError: refused"
             if passed is False else None}]},
    }


def bad_input_results(rerun_skipped):
    """The bad-input scenario's cases as it hands them over: Luigi's re-run skipped."""
    refused = "2026-09-30 is before the start date of customer_daily_etl (2026-10-01): it has " \
        "no run for that date"
    contract = {"state": "failed", "verdict": "stopped at the contract, not retried",
                "ingest_attempts": 1, "steps_run": ["ingest_cdc"], "alerts": 1,
                "downstream_untouched": True, "wall_s": 4.0}
    rerun = ({**contract, "state": "skipped", "ingest_attempts": 0, "steps_run": [],
              "alerts": 0, "verdict": "skipped: outputs exist, the new export was not read",
              "error": "skipped: outputs exist; to recompute: python -m workbench_luigi run "
                       "--force"}
             if rerun_skipped else {**contract, "error": "the export of 2026-10-27 lacks "
                                    "column op_ts (in a.parquet) (expected: ...)"})
    return {
        "before_start": {"date": "2026-09-30", "verdict": "refused before anything started",
                         "state": "refused", "error": refused, "steps_run": [], "wall_s": 0.0},
        "unreadable_export": {**contract, "date": "2026-10-26", "outputs_before": 0,
                              "error": "the export of 2026-10-26 cannot be read: a.parquet"},
        "missing_column": {**contract, "date": "2026-10-26", "outputs_before": 0,
                           "error": "the export of 2026-10-26 lacks column op_ts"},
        "double_trigger": {"date": "2026-10-27", "triggers": 2, "states": ["success"] * 2,
                           "verdict": "triggered twice: success, success", "error": None,
                           "summary_successes": 2, "identical_to_direct": True, "wall_s": 9.0},
        "changed_input_rerun": {**rerun, "date": "2026-10-27", "outputs_before": 9},
    }


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    cfg = testing.make_config(root)
    adapters = {
        "direct": Recorded(cfg, "direct"),
        "luigi": Recorded(cfg, "luigi", settings={"[worker] keep_alive": "true"},
                          incidents=[{"time": "2026-11-02T02:00:07+00:00",
                                      "component": "luigid", "reason": "found dead; restarted"}]),
        "prefect": Recorded(cfg, "prefect", settings={"PREFECT_SERVER_METRICS_ENABLED": "true",
                                                      "work pool concurrency": 2}),
    }
    per = {"direct": scenario_results(8.0, 60.0, None),
           "luigi": scenario_results(12.0, 30.0, True),
           "prefect": scenario_results(20.0, 15.0, False)}
    per["luigi"]["crash"] = {"luigid": {
        "target": "luigid", "step": "ingest_cdc", "date": "2026-11-06", "pause_s": 5.0,
        "bound_s": 120.0, "took_down": ["luigid --port 8082"], "verdict": "needs a human",
        "end_state": "failed",
        "error": "ingest_cdc: worker lost its scheduler's <socket>\nTraceback",
        "detected_s": 30.9, "detected_as": "run failed",
        "restarted_after_s": 5.2, "ended_after_s": 30.9,
        "detection": {"mode": "default", "settings": {"[worker] ping_interval": "1.0"}},
        "human": {"command": "python -m workbench_luigi run --date 2026-11-06",
                  "state": "success", "error": None, "seconds": 13.8, "started_after_s": 31.5,
                  "identical_to_direct": True, "half_written": []},
        "alerts": 0, "attempts": 1, "lost_attempts": [], "duplicated_steps": [],
        "half_written": [], "identical_to_direct": None}}
    per["prefect"]["crash"] = {
        "worker": {
            "target": "worker", "step": "ingest_cdc", "date": "2026-11-07", "pause_s": 5.0,
            "bound_s": 120.0, "took_down": ["prefect worker start"],
            "verdict": "recovered by itself", "end_state": "success", "error": None,
            "detected_s": 3.8, "detected_as": "ingest_cdc attempt 1 crashed",
            "restarted_after_s": 5.1, "ended_after_s": 21.1,
            "detection": {"mode": "tuned", "settings": {
                "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "5",
                "heartbeat zombie automation": "after 30 s"}},
            "human": None, "alerts": 0, "attempts": 3, "lost_attempts": ["ingest_cdc"],
            "duplicated_steps": [], "half_written": [], "identical_to_direct": True},
        # what an older results.json holds: no detection settings, no bound
        "worker with the step's process": {
            "target": "worker with the step's process", "step": "ingest_cdc",
            "date": "2026-11-08", "verdict": "not run",
            "error": "ingest_cdc never started (the run ended first)"}}
    per["luigi"]["bad_input"] = bad_input_results(rerun_skipped=True)
    per["prefect"]["bad_input"] = bad_input_results(rerun_skipped=False)
    results = assemble(BenchPlan(list(adapters)), cfg, adapters, per)
    folder = write_results(results, root / "reports")
    md, html = report.render(results, folder)
    return results, folder, md.read_text(), html.read_text()


def test_results_of_several_orchestrators_validate(rendered):
    results, folder, _, _ = rendered
    written = json.loads((folder / "results.json").read_text())
    jsonschema.validate(written, SCHEMA)
    assert written["schema_version"] == SCHEMA_VERSION == "1.9.0"
    assert list(written["orchestrators"]) == ["direct", "luigi", "prefect"]
    luigi, prefect = written["orchestrators"]["luigi"], written["orchestrators"]["prefect"]
    assert luigi["settings"] == {"[worker] keep_alive": "true"}
    assert luigi["incidents"] == [{"time": "2026-11-02T02:00:07+00:00", "component": "luigid",
                                   "reason": "found dead; restarted"}]
    assert written["orchestrators"]["direct"]["incidents"] == []
    assert (luigi["scenarios"]["happy_path"]["overhead_ratio"],
            prefect["scenarios"]["happy_path"]["overhead_ratio"]) == (1.5, 2.5)
    assert prefect["scenarios"]["happy_path"]["run_s"] == 19.0
    for missing in ("settings", "incidents"):
        broken = json.loads(json.dumps(written))
        del broken["orchestrators"]["luigi"][missing]
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, SCHEMA)
    broken = json.loads(json.dumps(written))
    del broken["orchestrators"]["prefect"]["scenarios"]["observability"]["probes"][1]["error"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, SCHEMA)


class Rows(HTMLParser):
    """Each table's rows as lists of cell texts, by table id."""

    def __init__(self):
        super().__init__()
        self.tables, self.table, self.cell = {}, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self.table = self.tables.setdefault(attrs.get("id"), [])
        elif tag == "tr" and self.table is not None:
            self.table.append([])
        elif tag in ("td", "th") and self.table is not None:
            self.cell = ""
        elif tag in ("details", "br") and self.cell is not None:
            self.cell += " "

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.table[-1].append(" ".join(self.cell.split()))
            self.cell = None
        elif tag == "table":
            self.table = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def test_html_shows_every_orchestrator_with_its_settings_and_incidents(rendered):
    _, _, _, html = rendered
    rows = Rows()
    rows.feed(html)
    headline = {r[0]: r for r in rows.tables["headline-table"][1:]}
    assert list(headline) == ["direct", "luigi", "prefect"]
    # no services, so no profile: "–"
    assert headline["direct"][1:4] == ["–", "8.00", "1.00"]
    assert headline["luigi"][2:6] == ["12.00", "1.50", "3.00", "0.50"]
    assert headline["prefect"][2:4] == ["20.00", "2.50"]
    assert [headline[n][8] for n in headline] == ["60.00", "30.00", "15.00"]
    assert [r[:3] for r in rows.tables["rows-table"][1:]] == [
        ["direct", "direct", "–"], ["luigi", "luigi", "–"], ["prefect", "prefect", "–"]]
    settings = {r[0]: r[1:] for r in rows.tables["settings-table"][1:]}
    assert settings == {
        "direct": ["none: defaults", "none"],
        "luigi": ["[worker] keep_alive = true",
                  "time: 2026-11-02T02:00:07+00:00; component: luigid; "
                  "reason: found dead; restarted"],
        "prefect": ["PREFECT_SERVER_METRICS_ENABLED = true work pool concurrency = 2", "none"]}
    probes = {r[0]: r for r in rows.tables["observability"][1:]}
    assert probes["luigi"][3].startswith("yes")
    assert probes["prefect"][3].startswith("error")
    assert "OSError: refused" in probes["prefect"][3]
    assert probes["direct"][3].startswith("not supported")


def test_markdown_shows_every_orchestrator_with_its_settings_and_incidents(rendered):
    _, _, md, _ = rendered
    assert "| direct | – | 8.00 | 1.00 | 2.00 | 0.50 | 1/1 | 1/3 | 60.00 | yes | 0 | 0.50 |" in md
    assert "| luigi | – | 12.00 | 1.50 | 3.00 | 0.50 | 1/1 | 1/3 | 30.00 | yes | 0 | 0.50 |" in md
    assert "| prefect | – | 20.00 | 2.50 | 5.00 | 0.50 | 1/1 | 1/3 | 15.00 | yes | 0 | 0.50 |" in md
    for name in ("direct", "luigi", "prefect"):
        assert f"| {name} | transient (gold_summary) | yes | 3 / 3 | 1.10, 2.20 |" in md
    assert "| direct | none: defaults | none |" in md
    assert ("| luigi | `[worker] keep_alive` = true | time: 2026-11-02T02:00:07+00:00; "
            "component: luigid; reason: found dead; restarted |") in md
    assert ("| prefect | `PREFECT_SERVER_METRICS_ENABLED` = true; `work pool concurrency` = 2 "
            "| none |") in md
    assert "| prefect | 0.50 | yes | error |" in md
    assert "- **prefect** probe `metrics_endpoint` raised: the probe raised OSError: refused" \
        in md


def test_the_bad_input_table_has_each_case_and_orchestrator_that_ran_it(rendered):
    results, folder, md, html = rendered
    rows = Rows()
    rows.feed(html)
    table = rows.tables["bad-input-table"]
    assert table[0] == ["case", "orchestrator", "verdict", "error line", "evidence", "wall s"]
    assert [r[:2] for r in table[1:]] == [
        [case, name] for case in report.BAD_INPUT_CASES.values() for name in ("luigi", "prefect")]
    by = {(r[0], r[1]): r[2:] for r in table[1:]}
    rerun = report.BAD_INPUT_CASES["changed_input_rerun"]
    assert by[(rerun, "luigi")][:2] == [
        "skipped: outputs exist, the new export was not read",
        "skipped: outputs exist; to recompute: python -m workbench_luigi run --force"]
    assert by[(rerun, "prefect")][2] == "ingest_cdc attempts 1, alerts 1, outputs untouched"
    assert by[(report.BAD_INPUT_CASES["before_start"], "prefect")][:3] == [
        "refused before anything started", results["orchestrators"]["prefect"]["scenarios"][
            "bad_input"]["before_start"]["error"], "no step ran"]
    assert ("| an export lacking a column (date never run) | luigi | stopped at the contract, "
            "not retried | the export of 2026-10-26 lacks column op_ts | ingest_cdc attempts 1, "
            "alerts 1, outputs untouched | 4.00 |") in md
    written = json.loads((folder / "results.json").read_text())
    del written["orchestrators"]["luigi"]["scenarios"]["bad_input"]["double_trigger"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(written, SCHEMA)


LUIGI_CASE = "luigi: luigid killed during ingest_cdc (detection default)"
PREFECT_CASE = "prefect: worker killed during ingest_cdc (detection tuned)"


def test_the_crash_table_has_each_component_killed(rendered):
    _, _, md, html = rendered
    rows = Rows()
    rows.feed(html)
    assert rows.tables["crash-table"][0][3] == "detection"
    assert rows.tables["crash-table"][1:] == [
        ["luigi", "luigid", "ingest_cdc", "default: [worker] ping_interval=1.0", "needs a human",
         "30.90 s (run failed)", "failed after 30.90 s", "python -m workbench_luigi run --date "
         "2026-11-06: success in 13.8 s", "took down 1 process(es); alerts 0; it said: "
         "ingest_cdc: worker lost its scheduler's <socket>; processes: luigid --port 8082"],
        ["prefect", "worker", "ingest_cdc", "tuned: PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_"
         "SECONDS=5, heartbeat zombie automation=after 30 s", "recovered by itself",
         "3.80 s (ingest_cdc attempt 1 crashed)", "success after 21.10 s", "none",
         "took down 1 process(es); attempts lost: ingest_cdc; alerts 0; processes: prefect "
         "worker start"],
        ["prefect", "worker with the step's process", "ingest_cdc", "–", "not run", "–", "–",
         "none",
         "ingest_cdc never started (the run ended first)"]]
    assert ("| luigi | luigid | ingest_cdc | default: [worker] ping_interval=1.0 | needs a "
            "human | 30.90 s (run failed) | failed after 30.90 s |") in md
    # the Markdown says what was said as it was (HTML escapes it, and the parser above reads
    # it back)
    assert "it said: ingest_cdc: worker lost its scheduler's <socket>; processes" in md
    assert ("| prefect | worker | ingest_cdc | tuned: PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_"
            "SECONDS=5, heartbeat zombie automation=after 30 s | recovered by itself |") in md
    assert ("| prefect | worker with the step's process | ingest_cdc | – | not run | – | – | "
            "none | ingest_cdc never started (the run ended first) |") in md


class Figures(HTMLParser):
    """Each crash timeline of the HTML report: its caption and how many SVGs it holds."""

    def __init__(self):
        super().__init__()
        self.figures, self.inside, self.caption = [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "figure" and "crash-timeline" in (dict(attrs).get("class") or "").split():
            self.inside = True
            self.figures.append(["", 0])
        elif self.inside and tag == "figcaption":
            self.caption = ""
        elif self.inside and tag == "svg":
            self.figures[-1][1] += 1

    def handle_endtag(self, tag):
        if tag == "figcaption" and self.caption is not None:
            self.figures[-1][0], self.caption = self.caption, None
        elif tag == "figure":
            self.inside = False

    def handle_data(self, data):
        if self.caption is not None:
            self.caption += data


def test_each_crash_case_that_ran_has_its_timeline(rendered):
    _, _, md, html = rendered
    figures = Figures()
    figures.feed(html)
    # one SVG each; none for the case not run
    assert figures.figures == [[LUIGI_CASE, 1], [PREFECT_CASE, 1]]
    luigi, prefect = html.split('class="chart crash-timeline"')[1:]
    # matplotlib keeps each drawn text as a comment beside its glyphs
    for text in ("damage shown: run failed", "run ended: failed",
                 "a human re-ran it: success", "31.50–45.30 s"):
        assert f"<!-- {text} -->" in luigi
    assert "<!-- run ended: success -->" in prefect and "a human re-ran it" not in prefect
    assert ("- luigi: luigid killed during ingest_cdc (detection default): killed (0.00 s); "
            "restarted (5.20 s); damage shown: run failed (30.90 s); run ended: failed "
            "(30.90 s); a human re-ran it: success (31.50–45.30 s)") in md
    assert ("- prefect: worker killed during ingest_cdc (detection tuned): killed (0.00 s); "
            "damage shown: ingest_cdc attempt 1 crashed (3.80 s); restarted (5.10 s); run "
            "ended: success (21.10 s)") in md
    assert "worker with the step's process killed" not in md + html


def test_a_timeline_leaves_out_the_moments_a_case_has_no_time_for():
    # a step's process is not restarted; a run that did not end shows the wait bound; a
    # human re-run without its start is not drawn
    case = {"target": "step process", "step": "ingest_cdc", "verdict": "needs a human",
            "end_state": "did not end", "detected_s": None, "restarted_after_s": 5.0,
            "ended_after_s": None, "bound_s": 420.0,
            "human": {"command": "c", "state": "failed", "error": "e", "seconds": 9.0}}
    assert [(m.at, m.text, m.until) for m in report.crash_marks(case)] == [
        (0.0, "killed", None), (420.0, "wait bound: the run had not ended", None)]
    del case["bound_s"]
    case["human"]["started_after_s"] = 421.0
    assert [(m.at, m.text, m.until) for m in report.crash_marks(case)] == [
        (0.0, "killed", None), (421.0, "a human re-ran it: failed", 430.0)]


def test_a_run_that_did_not_end_shows_its_bound_and_a_wait_still_going_is_evidence():
    case = {"target": "worker with the step's process", "step": "ingest_cdc",
            "verdict": "needs a human", "end_state": "did not end", "ended_after_s": None,
            "bound_s": 180.0, "took_down": ["prefect worker", "python -m prefect.engine"],
            "alerts": 0, "human": {"command": "c", "state": "success", "seconds": 11.0}}
    [row] = report.crash_rows({"orchestrators": {"prefect": {"scenarios": {"crash": {
        case["target"]: case}}}}})
    assert row["ended"] == "did not end within 180.00 s"
    assert "wait" not in row["evidence"]
    case.update(end_state="failed", ended_after_s=98.9,
                error="Flow run marked as crashed due to missing heartbeats.",
                adapter_wait="still waiting 81 s after the record showed the run failed")
    [row] = report.crash_rows({"orchestrators": {"prefect": {"scenarios": {"crash": {
        case["target"]: case}}}}})
    assert row["ended"] == "failed after 98.90 s"
    assert ("; it said: Flow run marked as crashed due to missing heartbeats.; the bench's "
            "wait: still waiting 81 s after the record showed the run failed; processes: "
            "prefect worker; python -m prefect.engine") in row["evidence"]


def test_a_backfill_case_says_which_dates_finished_were_lost_or_ran_twice():
    case = {"target": "scheduler", "step": "ingest_cdc", "verdict": "needs a human",
            "end_state": "1 of 3 dates not done", "took_down": ["airflow scheduler"],
            "dates": {"2026-10-28": "success", "2026-10-29": "success",
                      "2026-10-30": "failed"},
            "dates_finished": ["2026-10-28", "2026-10-29"], "dates_lost": ["2026-10-30"],
            "dates_run_twice": {"2026-10-29": ["ingest_cdc"]}, "alerts": 1,
            "human": {"command": "c", "state": "success", "seconds": 20.0}}
    [row] = report.crash_rows({"orchestrators": {"airflow": {"scenarios": {"crash": {
        "scheduler, during a 3-day backfill": case}}}}})
    assert row["evidence"].startswith(
        "took down 1 process(es); dates finished 2/3, lost 2026-10-30, run twice 2026-10-29; ")
    assert row["target"] == "scheduler, during a 3-day backfill"


def test_a_results_file_renders_from_the_command_line(rendered, capsys):
    _, folder, md, _ = rendered
    (folder / "report.md").unlink()
    assert report.main([str(folder / "results.json")]) == 0
    assert (folder / "report.md").read_text() == md
    assert capsys.readouterr().out.split() == [str(folder / "report.md"),
                                               str(folder / "report.html")]



def test_what_postgres_changes_pairs_each_orchestrator_s_two_profiles():
    from benchmarks.report import profile_rows

    def row(orchestrator, profile, mode, wall, floor):
        return {"orchestrator": orchestrator, "profile": profile, "mode": mode,
                "scenarios": {"happy_path": {"wall_s": wall, "floor_wall_s": floor}}}

    results = {"orchestrators": {
        "direct": row("direct", None, "direct runner", 5.0, None),
        "airflow": row("airflow", "production", "LocalExecutor", 10.0, 4.0),
        "dagster": row("dagster", "production", "multiprocess", 12.0, 6.0),
        # another mode on the same profile is no pair; a lone default profile is none either
        "dagster (in_process executor)": row("dagster", "production", "in_process", 9.0, 3.0),
        "airflow (default profile)": row("airflow", "default", "LocalExecutor", 8.0, 5.0),
        "luigi (default profile)": row("luigi", "default", "luigid", 3.0, 1.0)}}
    assert profile_rows(results) == [{
        "orchestrator": "airflow", "wall_production_s": "10.00", "wall_default_s": "8.00",
        "wall_ratio": "1.25", "floor_production_s": "4.00", "floor_default_s": "5.00",
        "floor_ratio": "0.80"}]
