"""The benchmark report, from timings already taken: no timing happens here, only reading.

The committed full CPU run (docs/bench/bench.json) must render to the verdicts BENCHMARKS.md
quotes; a run that measured nothing must say "not measured", never "met".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.bench import fmt, results, tables, targets

ROOT = Path(__file__).parent.parent
COMMITTED_RUN = ROOT / "docs" / "bench" / "bench.json"


@pytest.fixture(scope="module")
def committed() -> results.Results:
    return results.load(COMMITTED_RUN)


def verdicts(run: results.Results) -> dict[tuple[str, str, str], targets.Row]:
    """Rows by (library or first word, size, dtype); grid rows by their library; issue 17's
    rows by "<library> same-maths"."""
    found = {}
    for row in targets.rows(run):
        w = row.target.split()
        key = w[4] if row.size == "grid" else w[1]
        if "same-maths" in row.target:
            key = f"{key} same-maths"
        found[key, row.size, row.dtype] = row
    return found


@pytest.mark.parametrize(
    ("key", "figure", "verdict"),
    [  # as quoted in BENCHMARKS.md, "Targets (issue 17)" and "Targets (issue 11)"
        (("numpy same-maths", "homework", "float32"), 1.24, "missed by 13.2%"),
        (("torch same-maths", "homework", "float32"), 1.13, "unstable"),  # native torch: 5 ms
        (("jax same-maths", "homework", "float32"), 1.23, "missed by 2.2%"),
        (("jax same-maths", "medium", "float32"), 1.02, "met"),
        (("numpy", "homework", "float32"), 1.41, "missed by 8.7%"),
        (("numpy", "homework", "float64"), 1.33, "missed by 2.1%"),
        (("numpy", "medium", "float64"), 0.53, "unstable"),
        (("torch", "homework", "float32"), 1.38, "missed by 6.0%"),
        (("torch", "large", "float32"), 0.95, "met"),
        (("torch", "large", "float64"), 1.08, "missed by 2.6%"),
        (("jax", "homework", "float64"), 1.27, "missed by 10.1%"),
        (("jax", "medium", "float32"), 0.99, "met"),
        (("numpy", "grid", "float32"), 1.41, "missed by 22.5%"),  # B=64, W=4
        (("jax", "grid", "float32"), 1.25, "missed by 9.0%"),  # B=1024, W=4
        (("harness", "large", "float32"), 2.44, "missed by 94.9%"),  # step / GEMM floor
        (("Keras", "medium", "float32"), 1.93, "met"),  # fastest Keras 3 / fastest harness
    ],
)
def test_committed_run_renders_the_quoted_verdicts(committed, key, figure, verdict):
    row = verdicts(committed)[key]
    assert (round(row.figure, 2), row.verdict) == (figure, verdict)


def test_every_target_has_a_figure_in_the_committed_run(committed):
    """Keras 3 included: it is installed and measured (`pip install -c constraints.txt keras`)."""
    assert [row for row in targets.rows(committed) if row.figure is None] == []


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


def _step(name: str, same_maths: float | None, spread: float = 0.01) -> dict:
    measured = {"ratio": same_maths, "spread": [spread, 0.01], "halves": [1.0, 1.0], "blocks": 20}
    info = {"kind": "step", "size": "homework", "dtype": "float32", "role": "harness"}
    info.update({"name": name, "library": name, "label": f"harness {name}"})
    info.update({"interleaved_to_same_maths": same_maths, "interleaved_same_maths": measured})
    return {"extra_info": info, "stats": {"min": 1e-5, "median": 1e-5, "iqr": 1e-7}}


def test_issue_17_rows_judge_the_harness_against_the_same_maths_native(tmp_path):
    run = [_step("numpy", 1.08), _step("torch", 1.20), _step("jax", 1.19, spread=0.5)]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": run, "machine_info": {}}))
    found = {
        row.target.split()[1]: row
        for row in targets.rows(results.load(path))
        if "same-maths" in row.target and row.size == "homework"
    }
    assert found["numpy"].verdict == "met"
    assert found["torch"].verdict == "missed by 4.3%"
    assert found["jax"].verdict == "unstable"  # its own side's blocks spread 50%
    assert f"1.19{fmt.TIMES} ?" in tables.report(results.load(path))
