"""Every native baseline in bench/ computes what the harness computes, checked against the
float64 reference (harness.manual.REFERENCE) under the harness's own tolerance policy.

The idiomatic steps leave out the seeds' eps; they are checked against the reference built with
`problem.IDIOMATIC_EPS`, and the difference eps makes is measured here against the bound that
bench/problem.py states.
"""

from __future__ import annotations

import numpy as np
import pytest
from harness_bench import steps
from harness_bench.problem import EPS, IDIOMATIC_EPS, LOSS_SPEC, SIZES, Size, arrays, layer_specs
from harness_bench.registry import SAME_MATHS, native_variants

from harness import network
from harness.manual import REFERENCE
from harness.tolerance import DEFAULT

CHECKED_SIZES = {"homework": SIZES["homework"], "small": Size("small", 16, 12, 8, 5)}
"""Small enough that float32 stays within the harness's float32 tolerance of float64."""


def reference(size: Size, eps: float):
    net = network.build(layer_specs(size), {**LOSS_SPEC, "eps": eps})
    a = arrays(size)
    result = REFERENCE.make_step(net, "float64")({"w1": a["w1"], "w2": a["w2"]}, a)
    return float(result.loss), (np.asarray(result.grads["w1"]), np.asarray(result.grads["w2"]))


def to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value, dtype=np.float64)


def native_result(variant, size: Size, dtype: str):
    """(loss, (g1, g2)) of one call of the native step, as float64 NumPy."""
    pytest.importorskip(variant.library)
    with steps.prepare(variant, size, dtype, "cpu") as call:
        out = call()
    loss, grads = (out[0], out[1:]) if variant.library == "numpy" else out
    return float(to_numpy(loss)), tuple(to_numpy(g) for g in grads)


@pytest.mark.parametrize("size_name", CHECKED_SIZES)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("variant", native_variants(), ids=lambda v: v.id)
def test_native_step_matches_the_float64_reference(variant, dtype, size_name):
    size = CHECKED_SIZES[size_name]
    eps = EPS if variant.flavour == SAME_MATHS else IDIOMATIC_EPS
    want_loss, want_grads = reference(size, eps)
    loss, grads = native_result(variant, size, dtype)
    tol = DEFAULT[dtype]
    np.testing.assert_allclose(loss, want_loss, rtol=tol.rtol, atol=tol.atol)
    for got, want in zip(grads, want_grads, strict=True):
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize(
    ("size_name", "loss_bound", "grad_bound"),
    [("homework", 3e-7, 3e-7), ("medium", 3e-6, 6e-5)],  # as bench/problem.py states them
)
def test_leaving_out_eps_moves_loss_and_gradients_by_the_stated_amount(
    size_name, loss_bound, grad_bound
):
    size = SIZES[size_name]
    with_eps, without = reference(size, EPS), reference(size, IDIOMATIC_EPS)
    assert 0 < abs(with_eps[0] / without[0] - 1) <= loss_bound
    for g, g0 in zip(with_eps[1], without[1], strict=True):
        assert 0 < np.max(np.abs(g - g0)) / np.max(np.abs(g0)) <= grad_bound
