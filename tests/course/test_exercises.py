"""The course exercises check themselves: for every exercise the check fails on the untouched
starter and passes on the solution (both copied to a temporary folder), the report speaks
Spanish when LANG does, and check / reset work on the learner's work folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from course_kit import exercises

ALL = exercises.exercises()


def test_enough_exercises_each_complete():
    assert len(ALL) >= 8
    for ex in ALL:
        for name in ("README.md", "README.es.md", "hints.md", "hints.es.md", "check.py"):
            assert (ex.path / name).is_file(), f"{ex.name}: {name} missing"
        assert sorted(p.name for p in ex.starter.iterdir()) == \
            sorted(p.name for p in ex.solution.iterdir()), ex.name
        assert ex.title("en") and ex.title("es") and ex.title("en") != ex.title("es")
    for index in ("README.md", "README.es.md"):
        text = (exercises.EXERCISES_DIR / index).read_text()
        assert all(ex.name in text for ex in ALL), index


@pytest.mark.parametrize("ex", ALL, ids=[e.name for e in ALL])
def test_starter_fails_and_solution_passes(ex, tmp_path):
    starter = shutil.copytree(ex.starter, tmp_path / "starter")
    solution = shutil.copytree(ex.solution, tmp_path / "solution")
    results = exercises.check_works(ex, [starter, solution], scratch=tmp_path / "scratch")
    unmet = [r.en for r in results[str(starter.resolve())] if not r.ok]
    solved = results[str(solution.resolve())]
    assert unmet, f"{ex.name}: the untouched starter passes its check"
    assert all(r.ok for r in solved), [r.en for r in solved if not r.ok]
    # every requirement speaks both languages
    assert all(r.en and r.es and r.en != r.es for r in results[str(starter.resolve())])


def _cli(*args, lang, cwd):
    env = {**os.environ, "LANG": lang}
    return subprocess.run([sys.executable, "-m", "course_kit.exercises", *args],
                          capture_output=True, text=True, env=env, cwd=cwd)


def test_report_in_spanish(tmp_path):
    ex = exercises.find(9)
    starter = shutil.copytree(ex.starter, tmp_path / "starter")
    out = _cli("check", "9", "--work", str(starter), lang="es_ES.UTF-8", cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("Ejercicio 09 · Llevar Spark a Connect")
    assert lines[1].startswith("  ✗ connect.toml debe elegir el servidor Spark Connect")
    assert lines[-1].startswith("Se cumplen 0 de 3 requisitos; aún falta lo de arriba")
    solution = shutil.copytree(ex.solution, tmp_path / "solution")
    out = _cli("check", "9", "--work", str(solution), lang="es_ES.UTF-8", cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines()[-1] == \
        "Todo correcto: se cumplen los 3 requisitos. ¡Bien hecho!"
    out = _cli("check", "9", "--work", str(solution), lang="C.UTF-8", cwd=tmp_path)
    assert out.stdout.strip().splitlines()[-1] == "All 3 requirements met. Well done!"


def test_check_copies_the_starter_and_reset_restores_it(tmp_path, monkeypatch, capsys):
    src = exercises.find(9)
    shutil.copytree(src.path, tmp_path / src.name, ignore=shutil.ignore_patterns("work"))
    monkeypatch.setattr(exercises, "EXERCISES_DIR", tmp_path)
    monkeypatch.setenv("LANG", "C.UTF-8")
    ex = exercises.find("09")
    assert not ex.work.exists()
    assert exercises.main(["check", "9"]) == 1  # work/ created from the starter, still failing
    assert (ex.work / "overhead.py").read_text() == (ex.starter / "overhead.py").read_text()
    for f in ex.solution.iterdir():  # the learner solves it in work/
        shutil.copy(f, ex.work / f.name)
    assert exercises.main(["check", "9"]) == 0
    assert "All 3 requirements met" in capsys.readouterr().out
    assert exercises.main(["reset", "9"]) == 0
    assert exercises.main(["check", "9"]) == 1
    assert (ex.work / "overhead.py").read_text() == (ex.starter / "overhead.py").read_text()


def test_unknown_exercise_names_the_known_ones(monkeypatch, capsys):
    monkeypatch.setenv("LANG", "C.UTF-8")
    with pytest.raises(SystemExit) as stop:
        exercises.find(99)
    assert stop.value.code == 2
    assert "no exercise 99; known: 1, 2, 3" in capsys.readouterr().err


def test_a_learner_file_that_does_not_import_is_the_one_thing_reported(tmp_path):
    ex = exercises.find(11)
    work = shutil.copytree(ex.solution, tmp_path / "work")
    (work / "crash_reading.py").write_text("def verdict(case:\n")
    [only] = exercises.check_works(ex, [work], scratch=tmp_path / "scratch")[
        str(work.resolve())]
    assert not only.ok
    assert only.en.startswith("crash_reading.py does not import: SyntaxError: ")
    assert only.es.startswith("crash_reading.py no se puede importar: SyntaxError: ")
