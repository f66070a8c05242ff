#!/usr/bin/env bash
# One role and one database per orchestrator, each with its own password (<NAME>_DB_PASSWORD).
# The compose stack's Postgres image runs it once, on a fresh volume; the workbench runs it
# against its native server every time it starts one. Idempotent: what exists is left alone.
set -euo pipefail
for name in airflow prefect dagster luigi; do
  var="${name^^}_DB_PASSWORD"
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -q \
       -v name="$name" -v password="${!var}" <<'SQL'
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', :'name', :'password')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'name')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'name')\gexec
SQL
done
