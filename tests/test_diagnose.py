"""First divergence: deliberately broken backends, installed as real plugins, are caught and
the report names the first tensor that their bug makes wrong."""

from __future__ import annotations

import json

import numpy as np
import pytest

from harness import cases, cli, plugins
from harness.diagnose import below_dtype, excerpt, first_divergence, producer
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
        "sigmoid-backward-on-input",
        "nan-in-last-weight-grad",
        "fast-step-only",
        "float32-inside",
        "bias-grad-averaged",
        "layer-norm-unbiased",
        "layer-norm-backward-unprojected",
        "attention-sees-the-future",
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
    ("backend_name", "case_name", "where", "tensor", "made_by"),
    [
        (
            "relu-discarded",
            "relu-mixed-signs",
            "run batch, step 1 of 1",
            "layer 1 (ReLU) output",
            "layer 1 (ReLU) forward",
        ),
        (
            "grads-accumulated-twice",
            "task2-grad-batch-sum",
            "run batch, step 1 of 1",
            "grad.w2",
            "layer 2 (Linear) backward",
        ),
        (
            "grads-never-zeroed",
            "task3-train",
            "run x1, step 2 of 100",
            "grad.w2",
            "layer 2 (Linear) backward",
        ),
        (
            "softmax-wrong-axis",
            "task2-grad-batch-sum",
            "run batch, step 1 of 1",
            "layer 3 (Softmax) output",
            "layer 3 (Softmax) forward",
        ),
        (
            "dropout-own-mask",
            "task3-train-dropout",
            "run batch, step 1 of 100",
            "layer 2 (Dropout) output",
            "layer 2 (Dropout) forward",
        ),
        (
            "transposed-weight",
            "mlp-regression",
            "run sample-0, step 1 of 1",
            "layer 2 (Linear) output",
            "layer 2 (Linear) forward",
        ),
        (  # issue 10: the tensor is layer 2's, the code at fault is layer 3's backward
            "sigmoid-backward-on-input",
            "mlp-regression",
            "run sample-0, step 1 of 1",
            "layer 2 (Linear) output grad",
            "layer 3 (Sigmoid) backward",
        ),
        (  # issue 10: invisible at batch 1, where every case with a bias used to be
            "bias-grad-averaged",
            "batch-bias-se-mean",
            "run batch, step 1 of 1",
            "grad.b2",
            "layer 2 (Linear) backward",
        ),
        (
            "bias-grad-averaged",
            "batch-all-layers-ce-mean",
            "run batch, step 1 of 1",
            "grad.b3",
            "layer 5 (Linear) backward",
        ),
        (
            "bias-grad-averaged",
            "batch-all-layers-se-sum",
            "run batch, step 1 of 1",
            "grad.b3",
            "layer 5 (Linear) backward",
        ),
        (  # issue 10: reported at "layer 2 (Linear) output" in float32 under the old atol
            "nan-in-last-weight-grad",
            "mlp-regression",
            "run sample-0, step 1 of 1",
            "grad.w3",
            "layer 4 (Linear) backward",
        ),
        (  # issue 16: torch.var's default (n - 1) where layer norm divides by n
            "layer-norm-unbiased",
            "transformer-block-adam",
            "run batch, step 1 of 1",
            "layer 1 (LayerNorm) output",
            "layer 1 (LayerNorm) forward",
        ),
        (  # the layer norm that opens an inner residual: its dx is that residual's branch
            "layer-norm-backward-unprojected",
            "residual-nested",
            "run batch, step 1 of 1",
            "layer 6 (Residual) branch grad",
            "layer 3 (LayerNorm) backward",
        ),
        (  # the final layer norm: its dx flows into the residual before it
            "layer-norm-backward-unprojected",
            "transformer-block-adam",
            "run batch, step 1 of 1",
            "layer 8 (Residual) output grad",
            "layer 9 (LayerNorm) backward",
        ),
        (
            "attention-sees-the-future",
            "attention-causal",
            "run batch, step 1 of 1",
            "layer 1 (Attention) output",
            "layer 1 (Attention) forward",
        ),
    ],
)
def test_broken_backend_is_caught_at_its_first_wrong_tensor(
    backend_name, case_name, where, tensor, made_by, dtype, broken, all_cases
):
    cell = run_cell(all_cases[case_name], broken(backend_name), dtype, Reference())
    assert cell.status == "fail", cell.message
    divergence = cell.diagnosis.divergence
    assert divergence is not None, cell.diagnosis.note
    assert (divergence.tensor, divergence.where()) == (tensor, where)
    assert divergence.producer == made_by
    assert f"first divergence: {where}: {tensor}: " in cell.message
    assert f"; produced by {made_by}" in cell.message


@pytest.mark.parametrize(
    ("tensor", "made_by"),
    [
        ("layer 0 (Linear) output", "layer 0 (Linear) forward"),
        ("loss", "loss (squared_error) forward"),
        ("layer 4 (Linear) output grad", "loss (squared_error) backward"),
        ("grad.b3", "layer 4 (Linear) backward"),
        ("layer 0 (Linear) output grad", "layer 1 (Sigmoid) backward"),
        ("grad.w1", "layer 0 (Linear) backward"),
    ],
)
def test_every_traced_tensor_names_the_code_that_produced_it(tensor, made_by, registry):
    assert producer(registry["mlp-regression"].network, tensor) == made_by


@pytest.mark.parametrize(
    ("tensor", "made_by"),
    [
        ("layer 3 (LayerNorm) output", "layer 3 (LayerNorm) forward"),
        ("layer 6 (Residual) output", "layer 6 (Residual) forward"),
        ("layer 7 (Residual) output grad", "layer 8 (ReLU) backward"),
        ("layer 6 (Residual) output grad", "layer 7 (Residual) backward"),
        ("layer 5 (Linear) output grad", "layer 6 (Residual) backward"),
        ("layer 6 (Residual) branch grad", "layer 3 (LayerNorm) backward"),
        ("layer 2 (Linear) output grad", "layer 6 (Residual) backward"),
        ("layer 7 (Residual) branch grad", "layer 1 (Tanh) backward"),
        ("layer 0 (Linear) output grad", "layer 7 (Residual) backward"),
        ("grad.gamma1", "layer 3 (LayerNorm) backward"),
    ],
)
def test_nested_residuals_name_the_code_that_produced_each_tensor(tensor, made_by, registry):
    """residual-nested: 0 Linear, [1 Tanh, 2 Linear, [3 LayerNorm, 4 Dropout, 5 Linear]
    6 Residual] 7 Residual, 8 ReLU, 9 Linear. A block's own layers come before it; the
    gradient at a fork (layer 0's, layer 2's output) is summed by the block that starts there."""
    network = registry["residual-nested"].network
    assert [layer.kind for layer in network.layers][:8] == [
        "Linear", "Tanh", "Linear", "LayerNorm", "Dropout", "Linear", "Residual", "Residual"
    ]  # fmt: skip
    assert producer(network, tensor) == made_by


def test_a_residual_opening_the_network_traces_no_branch_gradient():
    """Its layers read the batch's x, which needs no gradient: no branch point is traced,
    and the trace names stay those of the layers' outputs and the parameters."""
    from harness.network import build

    network = build(
        [{"type": "residual", "layers": [{"type": "linear", "in": 2, "out": 2}]}],
        {"type": "squared_error", "reduction": "sum"},
    )
    data = {"x": np.array([[1.0, -2.0]]), "y": np.array([[0.5, 0.5]])}
    step = network.manual_step(np, {"w1": np.eye(2)}, data, trace=True)
    assert network.points == (("output", 0), ("output", 1))
    assert [k for k in step.trace if "grad" in k] == [
        "layer 1 (Residual) output grad", "layer 0 (Linear) output grad", "grad.w1"
    ]  # fmt: skip
    np.testing.assert_array_equal(step.output, [[2.0, -4.0]])


def test_a_bug_only_in_the_fast_step_is_named_as_such(broken, registry):
    """Before issue 10: "no tensor diverges ... the difference builds up over steps", on a
    one-step task, while the fast step the harness trains with was wrong."""
    cell = run_cell(
        registry["task2-grad-batch-sum"], broken("fast-step-only"), "float64", Reference()
    )
    divergence = cell.diagnosis.divergence
    assert divergence is not None and divergence.fast
    assert divergence.where() == "run batch, step 1 of 1, fast (untraced) step only"
    assert divergence.tensor == "grad.w2"
    assert "the traced step, trace=True, agrees" in cell.diagnosis.describe()
    assert "builds up over steps" not in cell.message


def test_float64_cell_computing_in_float32_is_said_to(broken, registry):
    """Before issue 10 the excerpt printed 7 digits, [3.8, 4.4, 5, 5.6] on both rows, and
    nothing said the backend computes in float32."""
    cell = run_cell(
        registry["task2-grad-batch-sum"], broken("float32-inside"), "float64", Reference()
    )
    assert cell.status == "fail"
    diagnosis = cell.diagnosis
    assert diagnosis.precision.startswith("computes below the dtype it returns")
    assert "every value it returns is a float32 number" in diagnosis.precision
    assert diagnosis.precision in cell.message
    backend_row, reference_row = diagnosis.divergence.describe().splitlines()[2:4]
    assert backend_row.split(maxsplit=1)[1] != reference_row.split(maxsplit=1)[1]


def test_correct_float64_backend_is_not_said_to_compute_below_its_dtype(registry, load_backend):
    assert below_dtype(registry["mlp-regression"], load_backend("torch")) == ""


def test_excerpt_prints_the_digits_where_the_values_part():
    backend, reference = np.array([[1.0, 2.000000001]]), np.array([[1.0, 2.0]])
    lines = excerpt(backend, reference)
    assert lines[1].split(maxsplit=1)[1] == "[1, 2.000000001]"
    assert lines[2].split(maxsplit=1)[1] == "[1,           2]"
    assert excerpt(np.array([[0.5, 3.0]]), np.array([[0.5, 2.0]]))[1].endswith("[0.5, 3]")


def test_seed_002_bug_is_invisible_on_the_homework_inputs(broken, registry):
    """Every hidden pre-activation of the homework net is positive: ReLU changes nothing,
    so discarding it cannot be seen there. The mixed-signs case above exists for this."""
    cell = run_cell(
        registry["task2-grad-batch-sum"], broken("relu-discarded"), "float64", Reference()
    )
    assert cell.status == "pass", cell.message
    assert cell.diagnosis is None


def test_bias_averaged_over_the_batch_passes_every_case_with_batch_1(broken, registry):
    """The bug issue 10 found no case for: before the batch cases, every cell passed."""
    for name in ("mlp-regression", "task2-grad-sample-mean"):
        cell = run_cell(registry[name], broken("bias-grad-averaged"), "float64", Reference())
        assert cell.status == "pass", (name, cell.message)


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
