# The compose stack (docker-compose.yml): secrets and validation. No target here needs a
# Docker engine except the ones that say so.
.PHONY: env compose-config compose-files compose-up compose-down

COMPOSE ?= docker compose

# Writes .env from .env.example with generated secrets (Fernet key, JWT secret, passwords)
# when .env is absent; an existing .env is never touched.
env:
	@python3 docker/make_env.py .env.example .env

# Validates docker-compose.yml with the values of .env (or generated ones when it is absent).
compose-config:
	@bash scripts/apt-ensure.sh docker-compose docker-compose
	@if [ -f .env ]; then docker-compose --env-file .env config -q; \
	 else tmp=$$(mktemp -d) && python3 docker/make_env.py .env.example $$tmp/.env >/dev/null && \
	   docker-compose --env-file $$tmp/.env config -q; rc=$$?; rm -rf $$tmp; exit $$rc; fi
	@echo "docker-compose.yml is valid"

# Needs a Docker engine.
compose-up: env
	$(COMPOSE) up -d --build

compose-down:
	$(COMPOSE) down

# The stack's settings files (docker/airflow/airflow.env, docker/prefect/prefect.env,
# docker/dagster/dagster.yaml), written from the service modules that run the orchestrators
# natively: one source for both.
compose-files: setup
	@for x in airflow prefect dagster; do \
	  (cd $${x}_impl && .venv/bin/python -m workbench_$$x.service compose-files --write) || exit 1; \
	done
