"""The benchmark report, from timings already taken: no timing happens here, only reading.

The committed full CPU run (docs/bench/bench.json) must render to the verdicts BENCHMARKS.md
quotes; a run that measured nothing must say "not measured", never "met".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bench import results, tables, targets

ROOT = Path(__file__).parent.parent
COMMITTED_RUN = ROOT / "docs" / "bench" / "bench.json"


@pytest.fixture(scope="module")
def committed() -> results.Results:
    return results.load(COMMITTED_RUN)


def verdicts(run: results.Results) -> dict[tuple[str, str, str], targets.Row]:
    """Rows by (library or first word, size, dtype); grid rows by their library."""
    words = {row: row.target.split() for row in targets.rows(run)}
    return {
        (w[4] if row.size == "grid" else w[1], row.size, row.dtype): row for row, w in words.items()
    }


@pytest.mark.parametrize(
    ("key", "figure", "verdict"),
    [  # as quoted in BENCHMARKS.md, "Targets (issue 11)"
        (("numpy", "homework", "float32"), 1.61, "missed by 23.9%"),
        (("numpy", "medium", "float64"), 1.02, "met"),
        (("numpy", "large", "float64"), 1.06, "missed by 0.6%"),
        (("torch", "homework", "float32"), 1.32, "unstable"),  # native torch stalled: 9.5 ms
        (("torch", "homework", "float64"), 1.26, "met"),
        (("torch", "large", "float32"), 1.05, "missed by 0.2%"),
        (("jax", "homework", "float64"), 1.20, "missed by 4.2%"),
        (("jax", "large", "float32"), 1.01, "unstable"),
        (("numpy", "grid", "float32"), 1.58, "missed by 37.7%"),  # B=2, W=4
        (("jax", "grid", "float32"), 1.23, "missed by 6.6%"),  # B=1024, W=4
        (("harness", "large", "float32"), 1.25, "missed by 0.1%"),  # step / GEMM floor
    ],
)
def test_committed_run_renders_the_quoted_verdicts(committed, key, figure, verdict):
    row = verdicts(committed)[key]
    assert (round(row.figure, 2), row.verdict) == (figure, verdict)


def test_every_target_but_keras_has_a_figure_in_the_committed_run(committed):
    missing = [row for row in targets.rows(committed) if row.figure is None]
    assert {row.target.split()[1] for row in missing} == {"Keras"}  # not installed: see BENCHMARKS


def test_committed_report_matches_the_one_in_docs(committed):
    """docs/bench/report.md is what `harness bench --render docs/bench/bench.json` writes."""
    assert tables.report(committed) == (ROOT / "docs" / "bench" / "report.md").read_text()


def test_an_empty_run_measures_nothing_and_meets_nothing(tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": [], "machine_info": {}}))
    rows = targets.rows(results.load(path))
    assert rows and {row.verdict for row in rows} == {"not measured"}


@pytest.mark.parametrize(
    ("figure", "limit", "at_most", "verdict"),
    [
        (1.0, 1.1, True, "met"),
        (1.1, 1.1, True, "met"),
        (1.21, 1.1, True, "missed by 10.0%"),
        (30.0, 20.0, False, "met"),
        (15.0, 20.0, False, "missed by 25.0%"),
        (float("nan"), 1.1, True, "missed (the figure is NaN)"),
    ],
)
def test_verdict(figure, limit, at_most, verdict):
    assert targets.Row("t", "homework", "float32", figure, limit, at_most).verdict == verdict
