"""The fuzzer's screen keeps ill-conditioned examples from being judged as disagreements: a
ReLU input near its kink, LayerNorm on a flat row and a non-finite reference are not judged;
an exact zero at ReLU is; rounding that eats into the tolerance widens it in the case file."""

from __future__ import annotations

import numpy as np
import pytest

from harness import cases
from harness import vocabulary as V
from harness.fuzz.example import Example, Layer, case_text
from harness.fuzz.screen import MAX_WIDENING, screen
from harness.matrix import Reference
from harness.protocol import DTYPES
from harness.tolerance import DEFAULT

PROVENANCE = {"seed": "test", "where": "tests/test_fuzz_screen.py", "printed": "nothing"}


def screened(tmp_path, layers, x, y, loss=None):
    example = Example(
        tuple(layers),
        loss or {"type": "squared_error", "reduction": "sum"},
        np.array(x, dtype=float),
        np.array(y, dtype=float),
        {"kind": "gradient"},
    )
    path = tmp_path / "example.toml"
    path.write_text(case_text(example, "screened", PROVENANCE))
    reference = Reference()
    case = cases.load(path)
    return screen(case, lambda c, run: reference.get(c, run).tensors, DTYPES)


def linear(w, b=None):
    w = np.array(w, dtype=float)
    spec = {"type": "linear", "in": w.shape[0], "out": w.shape[1], "bias": b is not None}
    params = {"w": w, **({"b": np.array(b, dtype=float)} if b is not None else {})}
    return Layer(spec, params)


RELU = Layer({"type": "relu"})


def test_a_relu_input_exactly_on_its_kink_is_judged(tmp_path):
    result = screened(tmp_path, [linear([[1.0, -2.0]]), RELU], [[0.0], [1.5]], [[1.0, 2.0]] * 2)
    assert not result.rejected and not result.skipped
    assert_only_the_ulp_floor(result, "float32")
    assert_only_the_ulp_floor(result, "float64")


def assert_only_the_ulp_floor(result, dtype):
    """The dtype keeps its rtol; its atol is at most ULPS ulps of the largest value."""
    if dtype in result.widened:
        tolerance = result.widened[dtype].tolerance
        assert tolerance.rtol == DEFAULT[dtype].rtol
        assert "ulps of the largest value" in result.widened[dtype].why
        assert "rounding alone" not in result.widened[dtype].why


def test_a_relu_input_just_off_its_kink_is_not(tmp_path):
    layers = [linear([[1.0]], [-0.4999999]), RELU]
    result = screened(tmp_path, layers, [[0.5], [2.0]], [[1.0], [2.0]])
    assert "layer 1 (ReLU) is within 0.0001 of its kink at 0" in result.rejected


def test_layer_norm_on_a_flat_row_is_not_judged(tmp_path):
    norm = Layer(
        {"type": "layer_norm", "size": 1, "eps": 1e-6},
        {"gamma": np.array([1.2]), "beta": np.array([0.1])},
    )
    result = screened(tmp_path, [norm], [[0.7], [-0.3]], [[1.0], [2.0]])
    assert "layer 0 (LayerNorm): a row of its input is flat" in result.rejected


def test_rounding_that_eats_into_the_tolerance_widens_it_or_skips_the_dtype(tmp_path):
    """pred - y cancels to 1e-2 of each: float32 rounding of x, w and y moves the gradient
    by about 1e-5 of it, within float32's rtol but not ten times within; far worse, 1e-4 of
    each, of values of 1000, is past any widening."""
    mild = screened(tmp_path, [linear([[1.01, 0.99]])], [[10.0]], [[10.2, 9.8]])
    assert not mild.rejected and not mild.skipped and "float32" in mild.widened
    assert_only_the_ulp_floor(mild, "float64")
    widened = mild.widened["float32"]
    assert DEFAULT["float32"].rtol < widened.tolerance.rtol <= MAX_WIDENING["float32"] * 2e-5
    assert "rounding alone moves drawn/grad.w1" in widened.why
    bad = screened(tmp_path, [linear([[1.0001, 0.9999]])], [[1000.1]], [[1000.2, 1000.0]])
    assert "ill-conditioned in float32" in bad.skipped["float32"]


@pytest.mark.parametrize("scale", [1e200])
def test_a_reference_that_is_not_finite_is_not_judged(tmp_path, scale):
    result = screened(tmp_path, [linear([[scale]])], [[scale]], [[0.0]])
    assert result.rejected == "the float64 reference is not finite"


def test_a_widened_tolerance_is_written_into_the_case_with_its_reason(tmp_path):
    mild = screened(tmp_path, [linear([[1.01, 0.99]])], [[10.0]], [[10.2, 9.8]])
    example = Example(
        (linear([[1.01, 0.99]]),),
        {"type": "squared_error", "reduction": "sum"},
        np.array([[10.0]]),
        np.array([[10.2, 9.8]]),
        {"kind": "gradient"},
        mild.widened,
    )
    path = tmp_path / "widened.toml"
    path.write_text(case_text(example, "widened", PROVENANCE))
    case = cases.load(path)
    assert case.tolerance_for("float32") == mild.widened["float32"].tolerance
    assert case.tolerance_for("float64") == mild.widened["float64"].tolerance
    assert "[tolerance.float32]" in path.read_text() and "why = " in path.read_text()


def test_attention_on_alike_positions_is_not_judged(tmp_path):
    """One token id everywhere: every position is alike, so attention's query and key weights
    get exactly 0 in NumPy and rounding noise in torch, which Adam turns into a step of lr."""
    rng = np.random.default_rng(0)
    dim = 3
    embedding = Layer(
        {"type": "embedding", "vocab": 1, "dim": dim}, {"emb": rng.uniform(-1, 1, (1, dim))}
    )
    projections = {stem: rng.uniform(-0.5, 0.5, (dim, dim)) for stem in ("wq", "wk", "wv", "wo")}
    attention = Layer({"type": "attention", "dim": dim, "causal": False}, projections)
    adam = {"type": "adam", "lr": 0.5, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    example = Example(
        (embedding, attention),
        {"type": "squared_error", "reduction": "sum"},
        np.zeros((1, 3), dtype=np.int64),
        rng.uniform(-1, 1, (1, 3, dim)),
        {"kind": "train", "epochs": 1, "optimizer": adam},
    )
    path = tmp_path / "adam.toml"
    path.write_text(case_text(example, "adam", PROVENANCE))
    reference = Reference()
    result = screen(cases.load(path), lambda c, run: reference.get(c, run).tensors, DTYPES)
    assert (
        result.rejected == "layer 1 (Attention): a sequence of its input has every position alike"
    )


def test_adam_declares_a_first_step_that_rounding_can_move():
    unstable = V.OPTIMIZERS["adam"].unstable
    spec = {"lr": 0.1, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    assert unstable(spec, {"w1": np.array([1.0, -2.0]), "w2": np.array([0.5])}) == ""
    whole = unstable(spec, {"w1": np.array([1.0, -2.0]), "w2": np.zeros(3)})
    assert whole.startswith("grad.w2 is within 1e-06 of 0")
    small = unstable(spec, {"w1": np.array([1.0, -2.0]), "w2": np.array([0.5, 1e-9])})
    assert small.startswith("grad.w2 has an element small enough")
    assert unstable(spec, {"w1": np.array([1.0, 0.0])}) == ""  # an exact 0: a ReLU's mask


def test_a_run_gone_astray_is_not_judged(tmp_path):
    """Values past 1e6 (SGD diverging to 1e24) overflow float32 inside some libraries."""
    result = screened(tmp_path, [linear([[1e3]])], [[1e4]], [[0.0]])
    assert result.rejected.startswith("the float64 reference exceeds 1e+06")
