#!/usr/bin/env bash
# Runs once, when the Postgres volume is first initialised: one role and one database per
# orchestrator, each with its own password from .env.
set -euo pipefail
for pair in "airflow:${AIRFLOW_DB_PASSWORD}" "prefect:${PREFECT_DB_PASSWORD}" \
            "dagster:${DAGSTER_DB_PASSWORD}"; do
  name="${pair%%:*}"; password="${pair#*:}"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
       -v name="$name" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
SQL
done
