"""What the pipelines expect of their inputs, declared once, and the check of it.

The bronze CDC export of a date is a folder of parquet files (Spark's layout, a ``_SUCCESS``
marker when complete) whose every file holds at least these columns, with these types
(Spark's names). Extra columns are allowed; zero rows are legal (an empty export gives empty
outputs). The check reads only the files' footers (pyarrow), so it is cheap and starts no
Spark: ``ingest_cdc`` runs it before anything else, and a violation raises
:class:`ContractViolation`, which names the file or the column and the expected schema and,
like a gate, is never retried.
"""

from __future__ import annotations

from datetime import date as Date
from pathlib import Path

from pipelines_core.errors import ContractViolation

BRONZE_EXPORT: dict[str, str] = {
    "event_id": "string",
    "customer_id": "bigint",
    "op": "string",
    "op_ts": "timestamp",
    "name": "string",
    "email": "string",
    "region": "string",
    "segment": "string",
    "lifetime_value": "decimal(12,2)",
    "export_date": "date",
}


def describe(schema: dict[str, str]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in schema.items())


def spark_type(arrow_type: object) -> str:
    """An Arrow type as Spark names it (the contract's vocabulary)."""
    import pyarrow as pa

    t = arrow_type
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_int64(t):
        return "bigint"
    if pa.types.is_int32(t):
        return "int"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date32(t) or pa.types.is_date64(t):
        return "date"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_floating(t):
        return "double" if t.bit_width == 64 else "float"
    if pa.types.is_boolean(t):
        return "boolean"
    return str(t)


def check_export(folder: Path, day: Date, schema: dict[str, str] = BRONZE_EXPORT) -> int:
    """Check every data file of the export of ``day`` in ``folder`` against ``schema``;
    returns how many files were checked.

    Raises:
        ContractViolation: a file cannot be read as parquet, the export holds no data file,
            or a column is missing or of another type; the message names it and the
            expected schema.
    """
    import pyarrow.parquet as pq

    expected = f"(expected: {describe(schema)})"
    files = sorted(f for f in Path(folder).iterdir()
                   if f.is_file() and not f.name.startswith(("_", ".")))
    if not files:
        raise ContractViolation(f"the export of {day} in {folder} holds no data file "
                                f"{expected}")
    for f in files:
        try:
            found = pq.read_schema(f)
        except Exception as exc:  # noqa: BLE001 - any unreadable footer is the verdict
            why = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ContractViolation(f"the export of {day} cannot be read: {f.name} is not a "
                                    f"readable parquet file ({why}) {expected}") from None
        have = {name: spark_type(found.field(name).type) for name in found.names}
        for name, kind in schema.items():
            if name not in have:
                raise ContractViolation(f"the export of {day} lacks column {name} "
                                        f"(in {f.name}) {expected}")
            if have[name] != kind:
                raise ContractViolation(f"the export of {day} has column {name} as "
                                        f"{have[name]}, not {kind} (in {f.name}) {expected}")
    return len(files)
