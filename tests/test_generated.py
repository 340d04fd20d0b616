"""The fast step is the network's own step, generated: the same numbers, made once, run flat."""

from __future__ import annotations

import numpy as np
import pytest

from harness import cases, generated, network, plugins
from harness.manual import REFERENCE
from harness.tasks import batches

EVERY_CASE = sorted(case.name for case in cases.load_dir()[0])


def first_batch(case):
    run = case.runs[0]
    return next(iter(batches(case.network, run)))


@pytest.mark.parametrize("case_name", EVERY_CASE)
def test_numpy_fast_step_is_the_network_code_bit_for_bit(registry, case_name):
    case = registry[case_name]
    backend = plugins.load("numpy")
    xp, batch = backend.namespace(), first_batch(case)
    fast = backend.make_step(case.network, "float64")(case.params, batch)
    own = case.network.manual_step(xp, case.params, batch)
    assert np.asarray(fast.loss).tobytes() == np.asarray(own.loss).tobytes()
    assert fast.output.tobytes() == own.output.tobytes()
    assert list(fast.grads) == list(own.grads)  # in the order the backward reaches them
    for name, grad in own.grads.items():
        assert fast.grads[name].tobytes() == grad.tobytes(), name


def test_one_signature_is_compiled_once_and_each_shape_once(registry):
    case = registry["task2-grad-batch-sum"]
    twin = network.build(
        [{"type": "linear", "in": 3, "out": 4}], {"type": "squared_error", "reduction": "sum"}
    )
    again = network.build(
        [{"type": "linear", "in": 3, "out": 4}], {"type": "squared_error", "reduction": "sum"}
    )
    backend = plugins.load("numpy")
    assert backend.make_step(twin, "float64") is backend.make_step(again, "float64")
    assert backend.make_step(case.network, "float64") is not backend.make_step(twin, "float64")
    built = []

    def build(shape):
        built.append(shape)
        return lambda params, batch: shape

    step = generated.by_shape(build)
    for rows in (2, 5, 2, 5):
        assert step({}, {"x": np.zeros((rows, 3))}) == (rows, 3)
    assert built == [(2, 3), (5, 3)]


def test_the_reference_and_the_traced_step_run_the_network_code(registry):
    case = registry["task2-grad-batch-sum"]
    assert not REFERENCE.generated
    calls = []
    loss = case.network.loss

    def counted(xp, pred, target):
        calls.append(1)
        return loss.forward(xp, pred, target)

    import dataclasses

    net = dataclasses.replace(case.network, loss=loss._replace(forward=counted))
    batch = first_batch(case)
    for _ in range(3):
        REFERENCE.make_step(net, "float64")(case.params, batch)
    assert len(calls) == 3
    fast = plugins.load("numpy").make_step(net, "float64")
    fast(case.params, batch)  # builds: runs the network's code on recording arrays
    built = len(calls)
    for _ in range(3):
        fast(case.params, batch)
    assert len(calls) == built  # then straight-line code only


def test_a_layer_that_draws_its_own_numbers_runs_its_own_code(registry):
    """Straight-line code cannot hold a value drawn at each call: that network is not generated."""
    case = registry["task2-grad-batch-sum"]
    rng = np.random.default_rng(0)
    first = case.network.layers[0]

    def noisy(xp, params, x, data):
        y, saved = first.forward(xp, params, x, data)
        return y + xp.asarray(rng.standard_normal(tuple(y.shape)) * 0.0), saved

    net = network.Network(
        (first._replace(forward=noisy), *case.network.layers[1:]),
        case.network.loss,
        case.network.param_shapes,
        case.network.in_features,
        case.network.out_features,
        case.network.takes,
        case.network.widths,
    )
    batch = first_batch(case)
    step = plugins.load("numpy").make_step(net, "float64")
    result = step(case.params, batch)
    want = REFERENCE.make_step(case.network, "float64")(case.params, batch)
    np.testing.assert_allclose(result.loss, want.loss, rtol=1e-12)


def test_torch_sum_reduction_has_no_multiply_by_one():
    """The seeds' sum reduction scales by 1.0: generated code drops that autograd node."""
    torch = pytest.importorskip("torch")
    from harness_backends.torch_autograd import _xp

    net = network.build(
        [{"type": "linear", "in": 3, "out": 2}, {"type": "softmax"}],
        {"type": "cross_entropy", "reduction": "sum", "eps": 1e-7},
    )
    objective = generated.objective(net, "float64", _xp(), ("torch", {"torch": torch}))
    w = torch.ones((3, 2), dtype=torch.float64, requires_grad=True)
    x, y = torch.ones((2, 3), dtype=torch.float64), torch.eye(2, dtype=torch.float64)
    loss, _ = objective({"w1": w}, {"x": x, "y": y})
    own, _ = net.objective(_xp(), {"w1": w}, {"x": x, "y": y})
    assert type(own.grad_fn).__name__ == "MulBackward0"  # the network's own `* 1.0`
    assert type(loss.grad_fn).__name__ != "MulBackward0"
    assert torch.equal(loss, own)
