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
    return {(row.target.split()[1], row.size, row.dtype): row for row in targets.rows(run)}


@pytest.mark.parametrize(
    ("key", "figure", "verdict"),
    [  # the committed run (before issue 11's baselines) under issue 11's limits
        (("numpy", "homework", "float32"), 1.08, "met"),
        (("torch", "homework", "float32"), 1.48, "missed by 14.0%"),
        (("torch", "medium", "float32"), 1.18, "missed by 7.5%"),
        (("torch", "medium", "float64"), 1.07, "met"),
        (("jax", "homework", "float64"), 1.39, "missed by 21.1%"),
        (("jax", "large", "float64"), 1.00, "met"),
        (("Keras", "medium", "float32"), 2.41, "unstable"),  # harness numpy's spread 18%
        (("harness", "large", "float32"), 1.26, "missed by 1.0%"),  # step / GEMM floor
    ],
)
def test_committed_run_renders_the_quoted_verdicts(committed, key, figure, verdict):
    row = verdicts(committed)[key]
    assert (round(row.figure, 2), row.verdict) == (figure, verdict)


def test_every_target_has_a_figure_in_the_committed_run(committed):
    missing = [row for row in targets.rows(committed) if row.figure is None]
    assert {row.size for row in missing} <= {"grid"}  # the grid came with issue 11


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
