"""First divergence: deliberately broken backends, installed as real plugins, are caught and
the report names the first tensor that their bug makes wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness import cases, cli, plugins
from harness.diagnose import first_divergence
from harness.matrix import Reference, as_record, run_cell
from harness.protocol import DTYPES

BROKEN = {
    name: f"broken_backends.{name.replace('-', '_')}:backend"
    for name in (
        "relu-discarded",
        "grads-accumulated-twice",
        "grads-never-zeroed",
        "softmax-wrong-axis",
        "dropout-own-mask",
        "transposed-weight",
    )
} | {"ignores-trace": "broken_backends.misbehaving:ignores_trace"}
MIXED_SIGNS = cases.builtin_dir() / "relu-mixed-signs.toml"


@pytest.fixture
def broken(install_plugins):
    install_plugins(BROKEN)
    return plugins.load


@pytest.fixture(scope="module")
def all_cases(registry) -> dict[str, cases.Case]:
    return {**registry, "relu-mixed-signs": cases.load(MIXED_SIGNS)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("backend_name", "case_name", "where", "tensor"),
    [
        ("relu-discarded", "relu-mixed-signs", "run batch, step 1 of 1", "layer 1 (ReLU) output"),
        ("grads-accumulated-twice", "task2-grad-batch-sum", "run batch, step 1 of 1", "grad.w2"),
        ("grads-never-zeroed", "task3-train", "run x1, step 2 of 100", "grad.w2"),
        (
            "softmax-wrong-axis",
            "task2-grad-batch-sum",
            "run batch, step 1 of 1",
            "layer 3 (Softmax) output",
        ),
        (
            "dropout-own-mask",
            "task3-train-dropout",
            "run batch, step 1 of 100",
            "layer 2 (Dropout) output",
        ),
        (
            "transposed-weight",
            "mlp-regression",
            "run sample-0, step 1 of 1",
            "layer 2 (Linear) output",
        ),
    ],
)
def test_broken_backend_is_caught_at_its_first_wrong_tensor(
    backend_name, case_name, where, tensor, dtype, broken, all_cases
):
    cell = run_cell(all_cases[case_name], broken(backend_name), dtype, Reference())
    assert cell.status == "fail", cell.message
    divergence = cell.diagnosis.divergence
    assert divergence is not None, cell.diagnosis.note
    assert (divergence.tensor, divergence.where()) == (tensor, where)
    assert f"first divergence: {where}: {tensor}: max abs err " in cell.message


def test_seed_002_bug_is_invisible_on_the_homework_inputs(broken, registry):
    """Every hidden pre-activation of the homework net is positive: ReLU changes nothing,
    so discarding it cannot be seen there. The mixed-signs case above exists for this."""
    cell = run_cell(
        registry["task2-grad-batch-sum"], broken("relu-discarded"), "float64", Reference()
    )
    assert cell.status == "pass", cell.message
    assert cell.diagnosis is None


def test_a_correct_backend_has_no_divergence(registry, load_backend):
    numpy_backend = load_backend("numpy")
    for case in registry.values():
        for run in case.runs:
            assert first_divergence(case, run, numpy_backend, "float64") is None, case.name


def test_report_shows_both_values_at_the_worst_element(broken, all_cases):
    case = all_cases["relu-mixed-signs"]
    cell = run_cell(case, broken("relu-discarded"), "float64", Reference())
    lines = cell.diagnosis.describe().splitlines()
    assert lines[0].startswith("first divergence: run batch, step 1 of 1: layer 1 (ReLU) output")
    pre_activation = case.runs[0].x @ case.params["w1"]
    worst = np.unravel_index(np.argmin(pre_activation), pre_activation.shape)
    assert f"(worst at [{worst[0]}, {worst[1]}])" in lines[1]
    backend_row = _numbers(lines[2], "backend")
    reference_row = _numbers(lines[3], "reference")
    np.testing.assert_allclose(backend_row, pre_activation[worst[0]])
    np.testing.assert_allclose(reference_row, np.maximum(pre_activation[worst[0]], 0))


def _numbers(line: str, label: str) -> np.ndarray:
    label_, values = line.split(maxsplit=1)
    assert label_ == label
    return np.array([float(v) for v in values.strip("[] ").split(",")])


def test_json_record_holds_the_divergence(broken, registry):
    cell = run_cell(
        registry["task2-grad-batch-sum"], broken("grads-accumulated-twice"), "float64", Reference()
    )
    record = json.loads(json.dumps(as_record(cell)))
    diagnosis = record["diagnosis"]
    assert (diagnosis["run"], diagnosis["step"], diagnosis["tensor"]) == ("batch", 1, "grad.w2")
    assert diagnosis["max_abs"] > 0 and diagnosis["excerpt"]
    assert diagnosis["summary"] in record["message"]


def test_backend_without_a_trace_is_judged_on_what_it_returned(broken, registry):
    cell = run_cell(
        registry["task2-grad-batch-sum"], broken("ignores-trace"), "float64", Reference()
    )
    assert cell.status == "fail"
    divergence = cell.diagnosis.divergence
    assert (divergence.tensor, divergence.traced) == ("grad.w2", False)
    assert "returned no trace for trace=True" in divergence.describe()


def test_returned_values_outrank_a_trace_that_disagrees(install_plugins, registry):
    """returns-nan's trace holds the right gradients; the NaN w2 gradient it returns (the
    first the backward reaches) is what the harness trains with, so that is reported."""
    install_plugins({"returns-nan": "broken_backends.misbehaving:returns_nan"})
    case = registry["task3-train"]
    cell = run_cell(case, plugins.load("returns-nan"), "float64", Reference())
    assert cell.status == "fail"
    divergence = cell.diagnosis.divergence
    assert divergence.where() == "run x1, step 1 of 100"
    assert divergence.tensor == "grad.w2"
    assert divergence.comparison.problem == f"{case.params['w2'].size} non-finite value(s)"


def test_cli_run_prints_the_first_divergence(broken, capsys, tmp_path, all_cases):
    case = all_cases["relu-mixed-signs"]
    most_negative = -float(np.min(case.runs[0].x @ case.params["w1"]))
    out = tmp_path / "cells.json"
    args = ["run", "--case", "relu-mixed-signs", "--backend", "relu-discarded"]
    code = cli.main([*args, "--dtype", "float64", "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "relu-mixed-signs / relu-discarded / float64\nfirst divergence: run batch" in printed
    assert f"layer 1 (ReLU) output: max abs err {most_negative:.1e}" in printed
    (record,) = json.loads(out.read_text())["cells"]
    assert record["diagnosis"]["tensor"] == "layer 1 (ReLU) output"
