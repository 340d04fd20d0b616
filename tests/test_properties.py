"""Property tests: for drawn architectures, data and weights, every available backend agrees
with the float64 reference and with central differences of the reference loss.

The example count comes from the Hypothesis profile (tests/conftest.py): a few for CI, many
with HYPOTHESIS_PROFILE=long.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import assume, given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness import gradcheck, plugins
from harness.cases import Case, Run, Task
from harness.compare import compare
from harness.losses import REDUCTIONS
from harness.matrix import Reference, run_cell
from harness.network import build
from harness.tolerance import DEFAULT

BACKENDS = [name for name in plugins.discover() if not getattr(plugins.load(name), "slow", False)]
KINK_MARGIN = 1e-3
"""A ReLU input closer to 0 than this could put a central difference across the kink, where
the finite difference (a slope of 1/2) and every analytic gradient (0 or 1) rightly differ."""


def values(shape, bound: float):
    return hnp.arrays(np.float64, shape, elements=st.floats(-bound, bound, allow_nan=False))


@st.composite
def problems(draw) -> Case:
    """A network of 1 to 3 Linear layers, widths 1 to 16, with its weights, batch and targets."""
    depth = draw(st.integers(1, 3))
    widths = draw(st.lists(st.integers(1, 16), min_size=depth + 1, max_size=depth + 1))
    layers = []
    for i in range(depth):
        bias = draw(st.booleans())
        layers.append({"type": "linear", "in": widths[i], "out": widths[i + 1], "bias": bias})
        if i < depth - 1:
            layers.append({"type": draw(st.sampled_from(["relu", "sigmoid"]))})
    loss = {"type": draw(st.sampled_from(["squared_error", "cross_entropy"]))}
    loss["reduction"] = draw(st.sampled_from(REDUCTIONS))
    if loss["type"] == "cross_entropy":
        layers.append({"type": "softmax"})
        loss["eps"] = 1e-7
    network = build(layers, loss)
    params = {name: draw(values(shape, 1.0)) for name, shape in network.param_shapes.items()}
    batch = draw(st.integers(1, 8))
    x = draw(values((batch, widths[0]), 2.0))
    if loss["type"] == "cross_entropy":
        classes = draw(hnp.arrays(np.int64, batch, elements=st.integers(0, widths[-1] - 1)))
        y = np.eye(widths[-1])[classes]
    else:
        y = draw(values((batch, widths[-1]), 2.0))
    run = Run("drawn", Task("gradient"), x, y, {})
    return Case("drawn", Path("<drawn>"), "", (), network, params, (run,), dict(DEFAULT))


def relu_inputs_clear_of_zero(case: Case) -> bool:
    run = case.runs[0]
    _, _, activations = case.network.forward(np, case.params, {"x": run.x, "y": run.y})
    inputs = [run.x, *activations[:-1]]
    return all(
        np.min(np.abs(inputs[i]), initial=np.inf) > KINK_MARGIN
        for i, layer in enumerate(case.network.layers)
        if layer.kind == "ReLU"
    )


@given(case=problems())
def test_every_backend_agrees_with_the_reference_and_finite_differences(case, load_backend):
    assume(relu_inputs_clear_of_zero(case))
    reference, run = Reference(), case.runs[0]
    loss = float(reference.get(case, run.name).tensors["loss"])
    fd = gradcheck.central_difference(case.network, case.params, gradcheck.first_batch(case, run))
    tol = gradcheck.pair_tolerance(case, "float64", loss, with_fd=True)
    for name in BACKENDS:
        backend = load_backend(name)
        if not plugins.availability(backend).available:
            note(f"{name} unavailable")
            continue
        cell = run_cell(case, backend, "float64", reference)
        assert cell.status == "pass", f"{name}: {cell.message}"
        tensors = cell.outcomes[run.name].tensors
        for param, grad in fd.items():
            comparison = compare(f"grad.{param}", "fd", tensors[f"grad.{param}"], grad, tol)
            assert comparison.ok, f"{name}: {comparison.describe()}"
