"""The environment record every run's JSON carries, and the files it is written to."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness import __version__, atomic, environment
from harness.journal import Journal
from harness.tolerance import DEFAULT

ROOT = Path(__file__).parent.parent


def test_the_record_says_where_and_how_the_run_was_made(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    record = environment.record(["harness", "run", "--backend", "numpy"])
    assert record["harness"]["version"] == __version__
    assert record["python"]["version"] == ".".join(map(str, sys.version_info[:3]))
    assert record["cpu"]["count"] == os.cpu_count()
    assert record["cpu"]["model"]
    assert record["threads"]["OMP_NUM_THREADS"] == "3"
    assert record["threads"]["MKL_NUM_THREADS"] is None
    assert record["libraries"]["numpy"] == importlib.metadata.version("numpy")
    assert record["libraries"]["xp-harness"] == __version__  # the built-in plugins' distribution
    assert record["command"] == ["harness", "run", "--backend", "numpy"]
    assert record["started"].endswith("+00:00")
    assert record["tolerance"] == {
        dtype: {"rtol": t.rtol, "atol": t.atol} for dtype, t in DEFAULT.items()
    }
    json.dumps(record)  # plain data


def test_making_the_record_imports_no_array_library():
    code = (
        "import sys, harness.environment as e; e.record(); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'numpy', 'torch', 'jax'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_commit_is_this_checkouts_where_there_is_one():
    git = shutil.which("git")
    if git is None or not (ROOT / ".git").exists():
        pytest.skip("not run from a git checkout")
    head = subprocess.run(
        [git, "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert environment.commit()["commit"] == head


def test_no_commit_outside_a_checkout_and_never_an_error(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "harness"
    package.mkdir(parents=True)
    assert environment.commit(package) == {}
    if shutil.which("git"):  # a checkout of some other project around the package: not ours
        subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
        assert environment.commit(package) == {}
    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert environment.commit() == {}


def test_the_journal_fills_in_the_duration_and_writes_with_the_umask(tmp_path):
    out = tmp_path / "run.json"
    record = environment.record([])
    previous = os.umask(0o027)
    try:
        journal = Journal(out, {"environment": record}, total=0)
        assert json.loads(out.read_text())["environment"]["duration_s"] >= 0
        journal.finish()
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == 0o640
    doc = json.loads(out.read_text())
    assert doc["complete"] is True and doc["environment"]["started"] == record["started"]
    assert isinstance(doc["environment"]["duration_s"], float)


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_an_atomic_write_follows_the_umask_and_leaves_nothing_behind(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic.write_text(tmp_path / "out.txt", "one")
        atomic.write_text(tmp_path / "out.txt", "two")
    finally:
        os.umask(previous)
    assert (tmp_path / "out.txt").read_text() == "two"
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
