"""The concept map (docs/concepts.md and its Spanish twin) points at real code: every link
opens an existing file at an existing line, and that line still shows the code the link's
text quotes. Every concept row gives each orchestrator a link or says why there is none.

Line numbers move while the implementations change: ``python tests/course/test_concepts.py --fix``
moves each stale link to the line of its file that shows the quoted code (nearest to the
old line) and reports the links it cannot place.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = {"en": ROOT / "docs" / "concepts.md", "es": ROOT / "docs" / "concepts.es.md"}
LINK = re.compile(r"\[`([^`]+)`\]\(([^)#\s]+)#L(\d+)\)")
CONCEPTS = ["DAG", "Operator", "Sensor", "XCom", "Templating", "Catchup", "Backfill",
            "Retries", "SLA", "Callbacks", "Zombie tasks", "Datasets", "Dynamic task mapping",
            "Branching", "Task groups", "Executors", "Connections", "DAG tests"]
NONE_SAID = {"en": ("No equivalent", "Not used here"),
             "es": ("Sin equivalente", "No se usa aquí")}


def _token(text: str) -> str:
    return text.replace("\\|", "|")  # a pipe inside a table cell is escaped


def links(doc: Path) -> list[tuple[str, Path, int]]:
    return [(_token(t), (doc.parent / p).resolve(), int(n))
            for t, p, n in LINK.findall(doc.read_text())]


def rows(doc: Path) -> list[list[str]]:
    out = []
    for line in doc.read_text().splitlines():
        if line.startswith("| **"):
            cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
            out.append([c.strip() for c in cells])
    return out


@pytest.mark.parametrize("lang", sorted(DOCS))
def test_every_link_shows_its_code(lang):
    found = links(DOCS[lang])
    assert len(found) >= 60
    bad = []
    for token, path, line in found:
        if not path.is_file():
            bad.append(f"{path.relative_to(ROOT)} does not exist")
            continue
        lines = path.read_text().splitlines()
        if not 1 <= line <= len(lines) or token not in lines[line - 1]:
            bad.append(f"{path.relative_to(ROOT)}#L{line} does not show {token!r}")
    assert not bad, "\n".join(bad + ["lines moved? `.venv/bin/python tests/course/test_concepts.py "
                                      "--fix` re-points the links; then re-read them"])


@pytest.mark.parametrize("lang", sorted(DOCS))
def test_every_concept_has_four_answers(lang):
    table = rows(DOCS[lang])
    assert len(table) == len(CONCEPTS)
    for concept, row in zip(CONCEPTS, table):
        assert len(row) == 5, row[0]
        assert concept.lower() in row[0].lower() or lang == "es", row[0]
        for cell, orchestrator in zip(row[1:], ("Airflow", "Prefect", "Dagster", "Luigi")):
            assert LINK.search(cell) or cell.startswith(NONE_SAID[lang]), \
                f"{row[0]} / {orchestrator}: neither a link nor a reason"


def test_both_languages_link_the_same_code():
    en = sorted((t, p) for t, p, _ in links(DOCS["en"]))
    es = sorted((t, p) for t, p, _ in links(DOCS["es"]))
    assert en == es


def fix() -> int:
    """Move stale links to the nearest line showing their code; 1 if any cannot be placed."""
    status = 0
    for doc in (d for d in DOCS.values() if d.is_file()):
        text = doc.read_text()

        def place(m: re.Match) -> str:
            nonlocal status
            token, rel, line = _token(m.group(1)), m.group(2), int(m.group(3))
            path = (doc.parent / rel).resolve()
            lines = path.read_text().splitlines() if path.is_file() else []
            if 1 <= line <= len(lines) and token in lines[line - 1]:
                return m.group(0)
            hits = [i + 1 for i, text_line in enumerate(lines) if token in text_line]
            if not hits:
                print(f"{doc.name}: cannot place {token!r} in {rel}")
                status = 1
                return m.group(0)
            best = min(hits, key=lambda i: abs(i - line))
            return f"[`{m.group(1)}`]({rel}#L{best})"

        doc.write_text(LINK.sub(place, text))
    return status


if __name__ == "__main__":
    if sys.argv[1:] == ["--fix"]:
        sys.exit(fix())
    sys.exit(pytest.main([__file__, "-q"]))
