"""Checks exercise 03: the learner's partition writer on tiny Spark frames."""

from __future__ import annotations

from pathlib import Path

from pipelines_core import lake
from course_kit.exercises import Kit, import_failed, need, short_error, work_imports

TITLE = {"en": "An idempotent, atomic partition write, and its proof",
         "es": "Una escritura de partición idempotente y atómica, y su prueba"}


def _append(df, part):
    df.write.mode("append").parquet(str(part.path))
    return part.path


def check(work: Path, kit: Kit):
    from pyspark.sql import functions as F

    spark = kit.spark()
    cfg = kit.config("ex03")
    rows = [("c1", "emea", 10.0), ("c2", "amer", 20.0), ("c3", "apac", 30.0)]
    first = spark.createDataFrame(rows, "customer_id string, region string, value double")
    second = spark.createDataFrame(rows[:2], "customer_id string, region string, value double")
    broken = first.withColumn("value", F.when(F.col("value") > 0, F.raise_error("disk full"))
                              .otherwise(F.col("value")).cast("double"))
    part = lake.Partition(cfg.namespace_root(), "silver", "customers", "2026-11-02")
    read = lambda: spark.read.parquet(part.uri())  # noqa: E731

    with work_imports(work) as load:
        try:
            writer = load("writer")
        except Exception as exc:  # noqa: BLE001
            return import_failed("writer", exc)
        reqs = []
        try:
            writer.write_partition(first, part)
            once = lake.checksum_spark(read())
            writer.write_partition(first, part)
            n, twice = read().count(), lake.checksum_spark(read())
            reqs.append(need(n == 3 and once == twice,
                             f"writing the same date twice must give the same 3 rows; "
                             f"the partition has {n} rows after the second write",
                             f"escribir dos veces la misma fecha debe dejar las mismas 3 filas; "
                             f"tras la segunda escritura la partición tiene {n}"))
        except Exception as exc:  # noqa: BLE001
            reqs.append(need(False, f"write_partition fails on a 3-row frame: {short_error(exc)}",
                             f"write_partition falla con un DataFrame de 3 filas: "
                             f"{short_error(exc)}"))
            return reqs
        failed = False
        try:
            writer.write_partition(broken, part)
        except Exception:  # noqa: BLE001 - the write is meant to fail
            failed = True
        try:
            kept = lake.checksum_spark(read()) == once
        except Exception:  # noqa: BLE001
            kept = False
        reqs.append(need(failed and kept,
                         "a write that fails half-way must leave the previous partition "
                         "readable and unchanged (stage the new data, then swap it in)",
                         "una escritura que falla a medias debe dejar la partición anterior "
                         "intacta y legible (prepara los datos nuevos y luego haz el cambio)"))
        try:
            writer.write_partition(second, part)
            replaced = read().count() == 2
        except Exception:  # noqa: BLE001
            replaced = False
        reqs.append(need(replaced,
                         "writing new data for the date must replace the partition (2 rows "
                         "expected after writing a 2-row frame)",
                         "escribir datos nuevos para la fecha debe reemplazar la partición "
                         "(se esperaban 2 filas tras escribir un DataFrame de 2)"))
        good_part = lake.Partition(cfg.namespace_root(), "gold", "proof_good", "2026-11-02")
        bad_part = lake.Partition(cfg.namespace_root(), "gold", "proof_bad", "2026-11-02")
        try:
            says_good = writer.prove_idempotent(lake.write_parquet, first, good_part)
            says_bad = writer.prove_idempotent(_append, first, bad_part)
            reqs.append(need(says_good is True and says_bad is False,
                             f"prove_idempotent must tell an idempotent writer (True) from an "
                             f"appending one (False); it said {says_good!r} and {says_bad!r}",
                             f"prove_idempotent debe distinguir un escritor idempotente (True) "
                             f"de uno que añade filas (False); devolvió {says_good!r} y "
                             f"{says_bad!r}"))
        except Exception as exc:  # noqa: BLE001
            reqs.append(need(False, f"prove_idempotent fails: {short_error(exc)}",
                             f"prove_idempotent falla: {short_error(exc)}"))
        return reqs
