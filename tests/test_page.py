"""`harness report`: one self-contained page of runs, opened in a real (headless) browser."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from report_pages import chromium, two_runs

from harness.page import model, render

FIRST_DIVERGENCE = "first divergence: run batch, step 1 of 1: layer 1 (ReLU) output"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    return two_runs(tmp_path_factory.mktemp("runs"))


def harness(*args, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness.cli", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def page(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("page") / "report.html"
    result = harness("report", *runs, "--html", out, cwd=out.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"wrote {out}"
    return out


def cells_of(path: Path) -> set[tuple[str, str, str, str]]:
    return {(c["case"], c["backend"], c["dtype"], c["status"]) for c in _json(path)["cells"]}


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def test_the_page_renders_every_cell_and_a_failing_cells_report_opens(runs, page):
    old, new = runs
    with chromium() as browser:
        browser.get(page.as_uri())
        assert browser.title == f"xp-harness: {old.name}, {new.name}"
        assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
        for index, run in enumerate(runs):
            shown = browser.execute_script(
                "return Array.from(document.querySelectorAll(arguments[0])).map("
                "c => [c.dataset.row, c.dataset.backend, c.dataset.dtype, c.dataset.status])",
                f"#result-{index} table.matrix td.cell",
            )
            assert sorted(map(tuple, shown)) == sorted(cells_of(run)), run.name
        failing = browser.find_element("css selector", "#result-1 td.cell[data-status='fail']")
        report = browser.find_element("id", failing.get_attribute("data-report"))
        assert report.get_property("open") is False
        assert not report.find_element("tag name", "pre").is_displayed()
        failing.find_element("tag name", "a").click()
        assert report.get_property("open") is True
        text = report.find_element("tag name", "pre").text
        assert FIRST_DIVERGENCE in text, text
        assert "backend    [-2.2" in text
        summary = report.find_element("tag name", "summary").text
        assert summary.startswith("relu-mixed-signs / mylib / float")


def test_the_page_says_what_changed_between_the_runs(runs, page):
    with chromium() as browser:
        browser.get(page.as_uri())
        rows = browser.execute_script(
            "return Array.from(document.querySelectorAll('#result-1 table.changes tbody tr'))"
            ".map(r => Array.from(r.cells).map(c => c.textContent))"
        )
        environment = browser.find_element("css selector", "#result-1 details.environment")
        assert "Python" in environment.text and "cores" in environment.text
        gradcheck = browser.find_element("css selector", "#result-1 table.gradcheck").text
    changed = {
        (what, where): (before.split()[0], after.split()[0])
        for what, where, before, after in (tuple(r) for r in rows)
        if what != "environment"
    }
    for dtype in ("float32", "float64"):
        assert changed[("cells", f"relu-mixed-signs / mylib / {dtype}")] == ("pass", "fail")
        assert changed[("gradient check", f"relu-mixed-signs / mylib / - / {dtype}")] == (
            "agree",
            "disagree",
        )
    assert not any("task1-forward" in where for _, where in changed)
    assert "disagree" in gradcheck


def test_text_from_a_run_is_escaped(tmp_path):
    hostile = "<script>document.title='owned'</script><img src=x onerror=alert(1)>"
    run = {
        "environment": {"command": [hostile]},
        "cells": [
            {
                "case": hostile,
                "backend": "b<i>",
                "dtype": "float64",
                "status": hostile,
                "message": hostile,
                "errors": [],
                "diagnosis": {"summary": hostile, "excerpt": []},
            },
        ],
        "gradcheck": [{"case": hostile, "status": "disagree", "verdict": hostile, "pairs": {}}],
    }
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(run))
    text = render.page([model.load(path)])
    assert "<script>document" not in text and "<img" not in text and "<i>" not in text
    out = tmp_path / "hostile.html"
    out.write_text(text)
    with chromium() as browser:
        browser.get(out.as_uri())
        assert browser.title == "xp-harness: hostile.json"
        assert browser.execute_script("return document.querySelectorAll('script, img').length") == 1
        cell = browser.find_element("css selector", "td.cell")
        assert cell.get_attribute("data-row") == hostile
        assert "s-other" in cell.get_attribute(
            "class"
        )  # an unknown status gets no class of its own


def test_the_page_has_no_external_reference(page):
    text = page.read_text()
    for fetch in ("<link", " src=", "url(", "@import", "http://", "https://"):
        assert fetch not in text, fetch


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"benchmarks": []}', "neither a run (harness run --json) nor a scoreboard"),
    ],
)
def test_a_file_that_is_not_a_run_is_a_one_line_error(tmp_path, content, message):
    path = tmp_path / "bench.json"
    path.write_text(content)
    result = harness("report", path, "--html", tmp_path / "out.html", cwd=tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"harness: error: {path}: ") and message in line
    assert not (tmp_path / "out.html").exists()


def test_a_run_and_a_scoreboard_read_alike(tmp_path):
    """board.json's records become the same matrices, with each failure's full report."""
    board = {
        "totals": {"fail": 1, "pass": 1},
        "environment": {"started": "2026-01-01T00:00:00+00:00"},
        "results": [
            {
                "kind": "case",
                "row": "relu-mixed-signs",
                "backend": "mylib",
                "dtype": "float64",
                "outcome": "fail",
                "worst": 2.2,
                "message": "fail",
                "details": FIRST_DIVERGENCE,
                "test": "t1",
            },
            {
                "kind": "protocol",
                "row": "numerics",
                "backend": "mylib",
                "dtype": "float64",
                "outcome": "pass",
                "worst": None,
                "message": "",
                "details": "",
                "test": "t2",
            },
        ],
    }
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    result = model.load(path)
    assert result.kind == "conformance"
    assert [m.title.split(":")[0] for m in result.matrices] == ["Cases", "Protocol"]
    (failing,) = result.matrices[0].entries
    assert (failing.status, failing.worst, failing.report) == ("fail", 2.2, FIRST_DIVERGENCE)
    assert result.environment["started"].startswith("2026")
