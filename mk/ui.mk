# The orchestrators' own UIs over the workbench's stores (see docs/ui.md), each brought up by
# its service command (`python -m workbench_<x>.service up` in its own environment).
# `make ui` starts all four, `make ui-<orchestrator>` one; `make down` stops them.
UI_IMPLS := airflow prefect dagster luigi
UI_DATE  ?= 2026-11-02

.PHONY: ui $(addprefix ui-,$(UI_IMPLS)) ui-status ui-check

ui: setup
	@.venv/bin/python -m benchmarks.services ui

$(addprefix ui-,$(UI_IMPLS)): ui-%: setup
	@.venv/bin/python -m benchmarks.services ui $*

ui-status:
	@.venv/bin/python -m benchmarks.services status

# Browser check of the running UIs (after `make ui`): each shows customer_daily_etl and a
# successful run of UI_DATE; screenshots go to reports/latest/ui/<orchestrator>.png.
ui-check: setup
	@bash scripts/apt-ensure.sh chromium chromium
	@.venv/bin/python -m benchmarks.ui --date $(UI_DATE)
	@if [ -f reports/latest/results.json ]; then \
	  if .venv/bin/python -m benchmarks.report reports/latest/results.json >/dev/null; then \
	    echo "report: reports/latest/report.html (section Orchestrator UIs)"; \
	  else echo "the latest report could not be rendered again; the screenshots are in reports/latest/ui"; fi; fi
