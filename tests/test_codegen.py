"""The code generator: emitted code computes what the network's own step computes.

NumPy code, emitted and executed here, must give the manual step's results bit for bit on
every registry case in both dtypes; torch and JAX code (hand-written backward, and autograd
on the emitted objective) must agree with the float64 reference within the case's
tolerance. Tracing knows no layer: a layer kind the vocabulary has never seen is traced too.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness import composites, layers
from harness.codegen import TraceError, compile_program, emit, trace_manual, trace_objective
from harness.codegen.program import Const
from harness.compare import compare
from harness.tasks import batches

DTYPES = ("float64", "float32")


def _xp():
    from array_api_compat import array_namespace

    return array_namespace(np.asarray(0.0))


def _inputs(case, run, dtype):
    batch = next(batches(case.network, run))
    batch = {k: v if v.dtype.kind in "iu" else v.astype(dtype) for k, v in batch.items()}
    return {k: v.astype(dtype) for k, v in case.params.items()}, batch


def _pick(registry, label):
    name, run = label.split("/")
    case = registry[name]
    return case, next(r for r in case.runs if r.name == run)


def _run(source: str, name: str, scope: dict, *args):
    exec(source, scope)
    return scope[name](*args)


def pytest_generate_tests(metafunc):
    """`label`: every run of every case; `first`: each case's first run, and the other runs
    and float32 marked slow (a JAX compilation of a step costs seconds here)."""
    from harness import cases

    loaded = cases.load_dir()[0]
    if "label" in metafunc.fixturenames:
        metafunc.parametrize("label", [f"{c.name}/{r.name}" for c in loaded for r in c.runs])
    if "first" in metafunc.fixturenames:
        slow = pytest.mark.slow
        found = [
            pytest.param(f"{c.name}/{r.name}", dtype, marks=[slow] if i or j else [])
            for c in loaded
            for i, r in enumerate(c.runs)
            for j, dtype in enumerate(DTYPES)
        ]
        metafunc.parametrize(("first", "dtype"), found)


@pytest.mark.parametrize("dtype", DTYPES)
def test_numpy_code_is_the_manual_step_bit_for_bit(label, dtype, registry):
    case, run = _pick(registry, label)
    params, batch = _inputs(case, run, dtype)
    expected = case.network.manual_step(_xp(), params, batch)
    program = trace_manual(case.network, batch["x"].shape, dtype)
    emitted = _run(emit(program, "numpy"), "step", {"np": np}, params, batch)
    compiled = compile_program(program, _xp())(params, batch)
    for loss, grads, output in (emitted, compiled):
        assert loss.dtype == output.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(loss, expected.loss)
        np.testing.assert_array_equal(output, expected.output)
        assert list(grads) == list(case.network.param_shapes)
        for name, grad in grads.items():
            np.testing.assert_array_equal(grad, expected.grads[name], err_msg=name)
    objective = trace_objective(case.network, batch["x"].shape, dtype)
    loss, output = _run(emit(objective, "numpy"), "objective", {"np": np}, params, batch)
    np.testing.assert_array_equal(loss, expected.loss)
    np.testing.assert_array_equal(output, expected.output)


def _judge(case, dtype, got, reference, what):
    loss, grads, output = got
    tol = case.tolerance_for(dtype)
    pairs = {"loss": (loss, reference.loss), "output": (output, reference.output)}
    pairs.update({f"grad.{k}": (grads[k], reference.grads[k]) for k in reference.grads})
    for name, (value, expected) in pairs.items():
        value = np.asarray(value)
        assert value.dtype == np.dtype(dtype), f"{what} {name}: {value.dtype}"
        result = compare(name, "reference", value, expected, tol)
        assert result.ok, f"{what}: {result.describe()}"


@pytest.mark.parametrize("dtype", DTYPES)
def test_torch_code_agrees_with_the_reference(label, dtype, registry):
    torch = pytest.importorskip("torch")
    case, run = _pick(registry, label)
    params, batch = _inputs(case, run, dtype)
    reference = case.network.manual_step(_xp(), *_inputs(case, run, "float64"))
    tensors = {k: torch.tensor(v) for k, v in params.items()}
    data = {k: torch.tensor(v) for k, v in batch.items()}
    program = trace_manual(case.network, batch["x"].shape, dtype)
    got = _run(emit(program, "torch"), "step", {"torch": torch}, tensors, data)
    _judge(case, dtype, [_numpy(got[0]), _numpy(got[1]), _numpy(got[2])], reference, "manual")
    objective = trace_objective(case.network, batch["x"].shape, dtype)
    leaves = {k: v.detach().requires_grad_(True) for k, v in tensors.items()}
    loss, output = _run(emit(objective, "torch"), "objective", {"torch": torch}, leaves, data)
    grads = dict(zip(leaves, torch.autograd.grad(loss, tuple(leaves.values())), strict=True))
    _judge(case, dtype, [_numpy(loss), _numpy(grads), _numpy(output)], reference, "autograd")


def _numpy(value):
    if isinstance(value, dict):
        return {k: _numpy(v) for k, v in value.items()}
    return value.detach().numpy()


def test_jax_code_agrees_with_the_reference(first, dtype, registry):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    case, run = _pick(registry, first)
    params, batch = _inputs(case, run, dtype)
    reference = case.network.manual_step(_xp(), *_inputs(case, run, "float64"))
    program = trace_manual(case.network, batch["x"].shape, dtype)
    objective = trace_objective(case.network, batch["x"].shape, dtype)
    scope = {"jax": jax, "jnp": jnp}
    exec(emit(program, "jax") + emit(objective, "jax"), scope)
    with jax.enable_x64(dtype == "float64"):  # scoped, as the JAX backends do
        arrays = {k: jnp.asarray(v) for k, v in params.items()}
        data = {k: jnp.asarray(v) for k, v in batch.items()}
        value_and_grad = jax.value_and_grad(scope["objective"], has_aux=True)
        both = jax.jit(lambda p, b: (scope["step"](p, b), value_and_grad(p, b)))
        got, ((loss, output), grads) = both(arrays, data)  # one compilation
        _judge(case, dtype, got, reference, "manual")
        _judge(case, dtype, (loss, grads, output), reference, "autograd")


def test_a_sum_reduction_adds_no_multiplication_by_one(registry):
    case = registry["task2-grad-batch-sum"]
    assert case.network.loss.kind == "cross_entropy"
    program = trace_objective(case.network, case.runs[0].x.shape, "float32")
    ones = [op for op in program.live() if Const(1.0) in op.args and op.name in "*/"]
    assert ones == []
    assert "* 1.0" not in emit(program, "torch")
    mean = registry["batch-bias-se-mean"]
    assert mean.runs[0].x.shape[0] > 1
    scaled = trace_objective(mean.network, mean.runs[0].x.shape, "float32")
    assert scaled.live()[-1].name == "*"  # the mean's 1/rows stays


def _network_with(layer, registry):
    """relu-mixed-signs' network with its ReLU swapped for `layer`."""
    network = registry["relu-mixed-signs"].network
    swapped = tuple(layer if item.kind == "ReLU" else item for item in network.layers)
    return dataclasses.replace(network, layers=swapped)


def test_a_layer_kind_no_one_declared_is_traced(registry):
    """x**2 with its backward 2x dy: no code of the generator names it."""

    def forward(xp, params, x, data):
        return xp.square(x), x

    def backward(xp, params, x, dy):
        return 2.0 * x * dy, {}

    network = _network_with(layers.Layer("Square", (), forward, backward), registry)
    case = registry["relu-mixed-signs"]
    params, batch = _inputs(case, case.runs[0], "float64")
    expected = network.manual_step(_xp(), params, batch)
    source = emit(trace_manual(network, batch["x"].shape, "float64"), "numpy")
    assert "# layer 1 (Square) forward" in source
    assert "np.square(" in source
    loss, grads, _ = _run(source, "step", {"np": np}, params, batch)
    np.testing.assert_array_equal(loss, expected.loss)
    np.testing.assert_array_equal(grads["w1"], expected.grads["w1"])


def test_branching_on_a_value_is_refused(registry):
    def forward(xp, params, x, data):
        return (x if xp.sum(x) > 0 else -x), None

    network = _network_with(layers.Layer("Sign", (), forward, None), registry)
    with pytest.raises(TraceError, match="branches on an array's value"):
        trace_objective(network, (2, 3), "float64")


def test_reading_an_array_after_updating_it_in_place_is_refused(registry):
    def forward(xp, params, x, data):
        y = x * 2.0
        y *= x
        return y + x * 0.5, None

    network = _network_with(layers.Layer("Fine", (), forward, None), registry)
    source = emit(trace_objective(network, (2, 3), "float64"), "numpy")
    assert "*= " in source  # its own array: updated in place

    def stale(xp, params, x, data):
        y = x * 2.0
        z = y
        y *= x
        return y + z, None

    network = _network_with(layers.Layer("Stale", (), stale, None), registry)
    with pytest.raises(TraceError, match="read after an in-place update"):
        trace_objective(network, (2, 3), "float64")


def test_composites_kept_as_calls_run_the_namespaces_kernels(registry):
    case = registry["batch-all-layers-ce-mean"]
    params, batch = _inputs(case, case.runs[0], "float64")
    xp, calls = _xp(), []

    def softmax(xp, z):
        calls.append("softmax")
        return composites.COMPOSITIONS["softmax"](xp, z)

    delegated = composites.delegating(xp, {"softmax": softmax}, delegate=True)
    program = trace_manual(case.network, batch["x"].shape, "float64", kernels="call")
    assert "_kernel_softmax(" in emit(program, "xp")
    loss, _, _ = compile_program(program, delegated)(params, batch)
    assert calls == ["softmax"]
    np.testing.assert_array_equal(loss, case.network.manual_step(xp, params, batch).loss)
    with pytest.raises(ValueError, match="numpy has no spelling of kernel"):
        emit(program, "numpy")


def test_a_library_spelling_compiles_with_the_namespaces_kernels(registry):
    """torch's own spelling (no array-api-compat wrapper per call), each composite still
    the namespace's kernel: what a fast step on torch would run."""
    torch = pytest.importorskip("torch")
    from array_api_compat import array_namespace

    case = registry["batch-all-layers-ce-mean"]
    params, batch = _inputs(case, case.runs[0], "float64")
    tensors = {k: torch.tensor(v) for k, v in params.items()}
    data = {k: torch.tensor(v) for k, v in batch.items()}
    xp, calls = array_namespace(tensors["w1"]), []

    def relu(xp, x):
        calls.append("relu")
        return torch.relu(x)

    delegated = composites.delegating(xp, {"relu": relu}, delegate=True)
    program = trace_manual(case.network, batch["x"].shape, "float64", kernels="call")
    step = compile_program(program, delegated, target="torch", scope={"torch": torch})
    loss, grads, _ = step(tensors, data)
    assert calls == ["relu"]
    expected = case.network.manual_step(delegated, tensors, data)
    assert torch.equal(loss, expected.loss)
    for name, grad in grads.items():
        assert torch.equal(grad, expected.grads[name]), name
