# Orchestrator Workbench. `make demo` and `make test` set up whatever is missing first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

WB          := .venv/bin/workbench
PYTEST_ARGS ?= -q
DEMO_START  ?= 2026-10-31
DEMO_END    ?= 2026-11-02
SCALE       ?= 10000
IMPLS       := airflow prefect dagster luigi
export UV_PYTHON_DOWNLOADS := never
export PATH := $(HOME)/.local/bin:$(PATH)

.PHONY: help setup demo test test-tools test-core test-contract test-adapters test-stack test-course $(addprefix test-,$(IMPLS)) spark-start spark-stop \
        down clean check

help:
	@echo "make demo    set up, run both pipelines for 3 days, then the quick benchmark of all four"
	@echo "make test    set up, run every suite (core + the four implementations)"
	@echo "make setup   install what is missing: uv, Java 17, the five environments"
	@echo "make ui      the four orchestrators' UIs over the demo's and benchmark's runs (docs/ui.md)"
	@echo "make ui-check  screenshots of the four UIs into the latest report"
	@echo "make bench-quick / make bench   the benchmark (quick preset / full preset)"
	@echo "make bench-bad-input  what each orchestrator answers to broken input and a double trigger"
	@echo "make bench-crash  each orchestrator's own components killed mid-run"
	@echo "make exercise N / exercise-reset N   check / restart course exercise N (exercises/)"
	@echo "make env     .env with generated secrets for docker-compose.yml (docs/scale-out.md)"
	@echo "make down    stop everything the workbench started"
	@echo "make clean   remove the lake, runtime state and reports"

setup:
	@bash scripts/setup.sh

check: setup
	@$(WB) check

demo: setup
	@$(WB) spark start
	@$(WB) generate --start $(DEMO_START) --end $(DEMO_END) --scale $(SCALE) --spark-mode connect
	@$(WB) backfill --pipeline customer_daily_etl --start $(DEMO_START) --end $(DEMO_END) \
	    --scale $(SCALE) --spark-mode connect --parallelism 1
	@$(WB) backfill --pipeline lead_scoring_mlops --start $(DEMO_START) --end $(DEMO_END) \
	    --scale $(SCALE) --spark-mode connect --parallelism 1
	@$(WB) ledger --namespace direct
	@echo "== the quick benchmark: the four orchestrators side by side (this takes a while)"
	@$(WB) bench --preset quick; rc=$$?; $(WB) spark stop; \
	  echo "Lake: $(CURDIR)/lake   ledger: $(CURDIR)/.workbench/ledger.jsonl"; \
	  echo "Report: $(CURDIR)/reports/latest/report.html   (make ui: the four UIs over these runs)"; \
	  exit $$rc

# The root environment's suite comes in groups that mirror the code (tests/core, tests/bench,
# tests/adapters, tests/stack, tests/course) so that they can run side by side with the
# implementations' suites: TEST_JOBS=1 make test runs everything one after the other.
TEST_JOBS      ?= 2
# Each suite keeps its temporary files in a folder of its own: pytest's shared default keeps
# only the three newest sessions' folders and deletes older ones, even of sessions still
# running side by side (a service's pid record vanished with them). Short paths under /tmp:
# the Postgres test puts its Unix socket there.
PYTEST_TMP      = $(shell mktemp -d /tmp/wb-pytest-XXXXXX)
# Longest first: make starts them in this order as slots free up.
SUITES         := test-contract test-core test-adapters test-stack $(addprefix test-,$(IMPLS)) \
                  test-course

test: setup test-tools
	@$(MAKE) --no-print-directory -j$(TEST_JOBS) --output-sync=target $(SUITES)
	@echo "all suites passed"

test-core:
	@echo "== core and benchmark harness"
	@.venv/bin/python -m pytest $(PYTEST_ARGS) --basetemp=$(PYTEST_TMP)/core tests/core tests/bench

# One contract suite over all five adapters, each against its real services.
test-contract:
	@echo "== adapters: the contract over direct, Airflow, Prefect, Dagster, Luigi"
	@.venv/bin/python -m pytest $(PYTEST_ARGS) --basetemp=$(PYTEST_TMP)/contract \
	  tests/adapters/test_contract.py

# Each adapter's own tests: what it reads back from its orchestrator.
test-adapters:
	@echo "== adapters: each one against its orchestrator"
	@.venv/bin/python -m pytest $(PYTEST_ARGS) --basetemp=$(PYTEST_TMP)/adapters tests/adapters \
	  --ignore=tests/adapters/test_contract.py

test-stack:
	@echo "== compose stack, Spark cluster, Postgres metadata, the UIs in a browser"
	@.venv/bin/python -m pytest $(PYTEST_ARGS) --basetemp=$(PYTEST_TMP)/stack tests/stack

test-course:
	@echo "== exercises and the concept map"
	@.venv/bin/python -m pytest $(PYTEST_ARGS) --basetemp=$(PYTEST_TMP)/course tests/course

$(addprefix test-,$(IMPLS)): test-%:
	@if [ -d $*_impl/tests ]; then \
	  echo "== $* implementation"; \
	  cd $*_impl && uv run --frozen --quiet pytest $(PYTEST_ARGS) --basetemp=$(PYTEST_TMP)/$*; \
	else echo "== $* implementation: no tests yet"; fi

spark-start: setup
	@$(WB) spark start

spark-stop:
	@[ -x $(WB) ] && $(WB) spark stop || true

# `down` of the service command of every home with records (UIs, services), then the Spark
# Connect servers the workbench recorded; nothing else.
down:
	@if [ -x .venv/bin/python ]; then .venv/bin/python -m benchmarks.services down; fi

# Debian tools the suites need: chromium (browser check), docker-compose (compose validation),
# postgresql (metadata on Postgres). Installed with apt only when missing.
test-tools:
	@bash scripts/apt-ensure.sh chromium chromium
	@bash scripts/apt-ensure.sh docker-compose docker-compose
	@bash scripts/apt-ensure.sh pg_ctlcluster postgresql

clean: down
	rm -rf lake .workbench reports

.PHONY: bench bench-quick bench-bad-input bench-crash
bench-quick: setup
	@$(WB) bench --preset quick

bench-bad-input: setup
	@$(WB) bench --preset bad-input

bench-crash: setup
	@$(WB) bench --preset crash

bench: setup
	@$(WB) bench --preset full

# Further targets (UIs, compose stack, exercises) live in mk/*.mk.
include $(wildcard mk/*.mk)
