"""The corpus list travels with the repository: a clone alone reads it, nothing reads outside."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from app.training.cli import DEFAULT_MANIFEST
from app.training.corpus import manifest_hash, read_manifest

#: Paths that climb out of the repository to the folder beside it.
OUTSIDE = re.compile(r"\.\./shared|parents?\b[^\n]*/ \"shared\"|\.parent / \"shared\"")


def test_the_corpus_list_is_inside_the_repository() -> None:
    assert DEFAULT_MANIFEST.is_relative_to(PROJECT_ROOT)
    tracks = read_manifest(DEFAULT_MANIFEST)
    assert len(tracks) == 521 and len({t.md5 for t in tracks}) == 521
    assert len(manifest_hash(DEFAULT_MANIFEST)) == 64


def test_nothing_points_outside_the_repository() -> None:
    where = [PROJECT_ROOT / name for name in ("app", "tests", "bench", "Makefile", ".ci")]
    files = [p for w in where for p in ([w] if w.is_file() else w.rglob("*")) if p.is_file()]
    offenders = [
        str(path.relative_to(PROJECT_ROOT))
        for path in files
        if path.suffix in {".py", ".sh", ".toml", ".cfg", ""}
        and path != Path(__file__)
        and OUTSIDE.search(path.read_text(errors="replace"))
    ]
    assert offenders == []


def test_a_clone_alone_reads_its_corpus_list(tmp_path: Path) -> None:
    """`git clone` of the committed HEAD into an empty folder passes the corpus-reading tests."""
    if shutil.which("git") is None or not (PROJECT_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    clone = tmp_path / "alone" / "mastering-trainer"
    subprocess.run(
        ["git", "clone", "--quiet", "--no-local", str(PROJECT_ROOT), str(clone)],
        check=True,
        capture_output=True,
    )
    assert not (clone.parent / "shared").exists()
    env = {**os.environ, "PYTHONPATH": str(clone), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    probe = subprocess.run(
        [sys.executable, "-c", "import app; print(app.__file__)"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(probe.stdout.strip()).is_relative_to(clone)
    tests = "tests/training/test_manifest.py"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
        + [tests, "-k", "not clone"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "2 passed" in run.stdout
