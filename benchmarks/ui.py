"""Browser check of the orchestrators' UIs: each shows ``customer_daily_etl`` and a successful
run of a given date, and a screenshot of that page is saved.

Playwright for Python drives Debian's chromium (``/usr/bin/chromium``, headless); no browser
is ever downloaded. Used by ``tests/stack/test_ui_browser.py`` (UIs over temporary stores) and by
``make ui-check`` (``python -m benchmarks.ui``: the UIs ``make ui`` started, screenshots to
``reports/latest/ui/<orchestrator>.png``, which ``report.html`` links).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import urllib.parse
from dataclasses import dataclass
from datetime import date as Date
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from benchmarks.services import ORCHESTRATORS, PIPELINE, UiInfo, running_ui
from pipelines_core.config import PROJECT_ROOT, load_config, parse_date
from pipelines_core.http import HttpClient, HttpError

CHROMIUM = os.environ.get("WORKBENCH_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 90_000


class UiCheckError(AssertionError):
    """The UI did not show what it should; the message says what was missing and where."""


@dataclass
class UiCheck:
    """What one UI showed: the page, the run found on it and the screenshot taken."""

    orchestrator: str
    page: str
    run: str
    screenshot: Path


def chromium_path() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        raise RuntimeError("chromium is missing: `bash scripts/apt-ensure.sh chromium chromium` "
                           "installs Debian's package")
    return path


class Browser:
    """A headless Debian chromium under Playwright, one page per check (UTC, 1400x900).

    ``timeout_ms`` bounds each wait for what a page must show (None: ``TIMEOUT_MS``).
    """

    timeout_ms: int | None = None

    def __enter__(self) -> "Browser":
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        args = ["--no-sandbox"] if os.geteuid() == 0 else []
        self.browser = self._pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                                args=args)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.browser.close()
        self._pw.stop()

    def page(self) -> Any:
        context = self.browser.new_context(viewport={"width": 1400, "height": 900},
                                           timezone_id="UTC", locale="en-US")
        context.set_default_timeout(self.timeout_ms or TIMEOUT_MS)
        return context.new_page()


def _visible(locator: Any, what: str, url: str) -> Any:
    try:
        locator.first.wait_for(state="visible")
    except Exception as exc:  # playwright's TimeoutError
        raise UiCheckError(f"{what} not shown at {url}: {str(exc).splitlines()[0]}") from None
    return locator.first


def _settle(locator: Any, count: int, timeout_ms: int = 15_000) -> None:
    """Give a list a moment to show ``count`` items (a filter being applied), for a tidy
    screenshot; what the check asserts does not depend on it."""
    from playwright.sync_api import expect

    try:
        expect(locator).to_have_count(count, timeout=timeout_ms)
    except AssertionError:
        pass


# --- one check per orchestrator ------------------------------------------------------------

def _airflow_runs(info: UiInfo, day: Date, pipeline: str) -> list[dict[str, Any]]:
    """Successful runs of ``pipeline`` whose logical date falls on ``day``, newest first,
    from Airflow's REST API (a token from the same login as the UI's)."""
    token = HttpClient(info.url, timeout_s=30).post(
        "/auth/token", {"username": info.username, "password": info.password})["access_token"]
    api = HttpClient(info.url, headers={"Authorization": f"Bearer {token}"})
    return api.get(f"/api/v2/dags/{pipeline}/dagRuns", logical_date_gte=f"{day}T00:00:00Z",
                   logical_date_lte=f"{day}T23:59:59Z", state="success",
                   order_by="-run_after")["dag_runs"]


def _airflow_login(page: Any, info: UiInfo) -> None:
    """The simple auth manager's login form, with the generated password."""
    form = page.locator("input[name=password]")
    try:
        form.wait_for(state="visible", timeout=10_000)
    except Exception:  # already logged in
        return
    page.locator("input[name=username]").fill(info.username or "")
    form.fill(info.password or "")
    page.get_by_role("button", name="Sign in").click()


def check_airflow(page: Any, info: UiInfo, day: Date, pipeline: str) -> tuple[str, str]:
    """The page of the date's run (after logging in): the DAG in the breadcrumb, the run's
    state Success and its logical date on the header card."""
    try:
        runs = _airflow_runs(info, day, pipeline)
    except (HttpError, KeyError) as exc:
        raise UiCheckError(f"Airflow at {info.url} did not answer for {pipeline}: {exc}") from None
    if not runs:
        # Still open the DAG's runs page: the screenshot shows what there is.
        url = f"{info.url}/dags/{pipeline}/runs"
        page.goto(url)
        _airflow_login(page, info)
        raise UiCheckError(f"Airflow has no successful {pipeline} run of {day} ({url})")
    run_id = runs[0]["dag_run_id"]
    url = f"{info.url}/dags/{pipeline}/runs/{urllib.parse.quote(run_id, safe='')}"
    page.goto(url)
    _airflow_login(page, info)
    _visible(page.get_by_role("link", name=pipeline, exact=True), f"the DAG {pipeline}", url)
    header = page.locator("[data-testid=header-card]").filter(has=page.locator("h2", has_text=run_id))
    _visible(header.locator("[data-testid=state-badge]", has_text="Success"),
             f"run {run_id} in state Success", url)
    _visible(header.locator("[data-testid=stat]").filter(has=page.locator("h2", has_text="Logical Date"))
             .locator("time", has_text=re.compile(rf"^{day.isoformat()}\b")),
             f"logical date {day} of run {run_id}", url)
    return url, f"DAG run {run_id} (logical date {day}) Success"


def check_prefect(page: Any, info: UiInfo, day: Date, pipeline: str) -> tuple[str, str]:
    """The flow's page: its runs are named ``<pipeline> <date>``; the one of the date must
    be Completed."""
    try:
        flow = HttpClient(info.url, timeout_s=30).get(f"/api/flows/name/{pipeline}")
    except HttpError as exc:
        raise UiCheckError(f"Prefect knows no flow {pipeline} at {info.url}: {exc}") from None
    url = f"{info.url}/flows/flow/{flow['id']}"
    page.goto(url)
    _visible(page.locator(".page-heading, h1, nav").filter(has_text=pipeline),
             f"the flow {pipeline}", url)
    run_name = f"{pipeline} {day.isoformat()}"
    # The list pages by ten: the UI's own search narrows it to the date's runs.
    page.get_by_placeholder("Search by run name").fill(run_name)
    item = (page.locator(".flow-run-list-item")
            .filter(has=page.locator(".flow-run-bread-crumbs__flow-run-link",
                                     has_text=re.compile(rf"^{re.escape(run_name)}$")))
            .filter(has=page.locator(".state-badge, .p-tag", has_text="Completed")))
    _visible(item, f"a Completed flow run {run_name!r}", url)
    _settle(page.locator(".flow-run-list-item").filter(has_not_text=run_name), 0)
    return url, f"flow run {run_name!r} Completed"


def _dagster_runs(info: UiInfo, day: Date, pipeline: str) -> list[dict[str, Any]]:
    """Successful runs of the job for the date's partition, newest first (GraphQL)."""
    query = """query($f: RunsFilter) { runsOrError(filter: $f, limit: 5) { __typename
        ... on Runs { results { runId status } } } }"""
    flt = {"pipelineName": pipeline, "statuses": ["SUCCESS"],
           "tags": [{"key": "dagster/partition", "value": day.isoformat()}]}
    data = HttpClient(info.url, timeout_s=30).post(
        "/graphql", {"query": query, "variables": {"f": flt}}, idempotent=True)
    return data["data"]["runsOrError"]["results"]


def _dismiss(page: Any, button: str) -> None:
    """Close a first-visit dialog if one comes up."""
    try:
        page.get_by_role("button", name=button).click(timeout=5_000)
    except Exception:  # no dialog
        pass


def check_dagster(page: Any, info: UiInfo, day: Date, pipeline: str) -> tuple[str, str]:
    """The job's runs page narrowed to the date's partition: the run of the date, its
    partition tag and its status Success."""
    try:
        runs = _dagster_runs(info, day, pipeline)
    except (HttpError, KeyError, TypeError) as exc:
        raise UiCheckError(f"Dagster at {info.url} did not answer for {pipeline}: {exc}") from None
    url = f"{info.url}/locations/workbench/jobs/{pipeline}/runs"
    if not runs:
        page.goto(url)
        _dismiss(page, "Skip")
        raise UiCheckError(f"Dagster has no successful {pipeline} run of {day} ({url})")
    run_id = runs[0]["runId"]
    url = f"{info.url}/runs/{run_id}"
    page.goto(url)
    _dismiss(page, "Skip")
    _visible(page.get_by_role("link", name=pipeline), f"the job {pipeline}", url)
    _visible(page.get_by_text(re.compile(rf"partition.*{day.isoformat()}")),
             f"partition {day} of run {run_id}", url)
    _visible(page.get_by_text("Success", exact=True), f"run {run_id} in state Success", url)
    return url, f"run {run_id[:8]} (partition {day}) Success"


def check_luigi(page: Any, info: UiInfo, day: Date, pipeline: str) -> tuple[str, str]:
    """luigid's task history (the durable record; the visualiser only shows what the
    scheduler holds in memory) of the pipeline's last task, ``notify``, for the date."""
    task = f"{pipeline}.notify"
    url = (f"{info.url}/history/by_params/{task}?data="
           + urllib.parse.quote(json.dumps({"date": day.isoformat()})))
    page.goto(url)
    rows = page.locator("table.table > tbody > tr")
    done = (rows.filter(has=page.locator("td > a", has_text=re.compile(rf"^{re.escape(task)}$")))
            .filter(has=page.locator("td", has_text=re.compile(r"^\s*DONE\s*$")))
            .filter(has_text=day.isoformat()))
    _visible(done, f"a DONE {task} of {day}", url)
    return url, f"{task}(date={day}) DONE"


CHECKS = {"airflow": check_airflow, "prefect": check_prefect, "dagster": check_dagster,
          "luigi": check_luigi}


def check_ui(browser: Browser, info: UiInfo, day: Date, out_dir: Path,
             pipeline: str = PIPELINE) -> UiCheck:
    """Open ``pipeline``'s page in ``info``'s UI, assert it shows the pipeline and a
    successful run of ``day``, save ``<out_dir>/<orchestrator>.png``.

    Raises:
        UiCheckError: what was not shown (a screenshot of the page is saved all the same,
            as ``<orchestrator>-failed.png``, when the page lets itself be captured).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    page = browser.page()
    try:
        try:
            try:
                url, run = CHECKS[info.name](page, info, day, pipeline)
            except PlaywrightError as exc:
                raise UiCheckError(f"{info.name} UI at {info.url}: "
                                   f"{str(exc).splitlines()[0]}") from None
        except UiCheckError:
            try:  # best effort: a page too slow to capture must not hide what was not shown
                page.screenshot(path=str(out_dir / f"{info.name}-failed.png"), full_page=True)
            except PlaywrightError:
                pass
            raise
        shot = out_dir / f"{info.name}.png"
        page.screenshot(path=str(shot), full_page=False)
        return UiCheck(info.name, url, run, shot)
    finally:
        page.context.close()


def latest_report_folder(reports: Path) -> Path:
    """``reports/latest``; before any benchmark, a new dated folder that ``latest`` points at
    (as the benchmark's own ``write_results`` does), so a later benchmark can move the link."""
    latest = reports / "latest"
    if not latest.exists():
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        (reports / stamp).mkdir(parents=True, exist_ok=True)
        tmp = reports / f".latest.{stamp}"
        tmp.symlink_to(stamp)
        tmp.replace(latest)
    return latest


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.ui --date D --out DIR [orchestrator ...]``: check the UIs
    ``python -m benchmarks.services ui`` started (each service command's status)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ui")
    parser.add_argument("names", nargs="*", metavar="orchestrator")
    parser.add_argument("--date", default="2026-11-02", help="a date with a successful run")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the screenshots (default: reports/latest/ui)")
    args = parser.parse_args(argv)
    config = load_config()
    day = parse_date(args.date)
    out = args.out or latest_report_folder(PROJECT_ROOT / "reports") / "ui"
    names = args.names or list(ORCHESTRATORS)
    failed = 0
    with Browser() as browser:
        for name in names:
            info = running_ui(config, name)
            if info is None:
                print(f"{name:8} not running: start it with `make ui-{name}`")
                failed += 1
                continue
            try:
                result = check_ui(browser, info, day, out)
            except (UiCheckError, HttpError, OSError) as exc:
                print(f"{name:8} FAILED: {exc}")
                failed += 1
                continue
            print(f"{name:8} ok: {result.run} on {result.page}\n{'':8} screenshot "
                  f"{result.screenshot}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
