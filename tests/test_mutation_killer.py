"""The mutation tester's killer (docs/mutation-testing.md): the float64 reference, that is the
hand-written backward on plain NumPy with the Array-API compositions, must meet every stored
golden, and its gradients must match central differences of its own loss.

The goldens judge the forward and the loss (they were printed by the seeds or generated once,
never recomputed here); the central differences judge every backward against its forward. A
float32 run catches promotion to float64, the trace check the names and values the
first-divergence report reads, and one autograd backend (torch) the taps only autograd uses.
Together they are what a mutant of harness/layers.py, harness/losses.py,
harness/composites.py or the network's step must get past. Fast enough for the default run.

Each test loads its case itself, not through the session's `registry`: mutmut runs, for each
mutant, only the tests during which the mutated function was called, and a network is built
(its layer factories called) when its case is loaded.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
from array_api_compat import numpy as plain

from harness import cases, composites, gradcheck, optimizers, plugins
from harness.compare import compare
from harness.driver import execute
from harness.manual import REFERENCE
from harness.network import build
from harness.tasks import data_dtype
from harness.tolerance import DEFAULT, Tolerance, printed_slack

CASES = sorted(path.stem for path in cases.builtin_dir().glob("*.toml"))


@pytest.mark.parametrize("case_name", CASES)
def test_reference_meets_every_golden(case_name):
    case = cases.load(cases.builtin_dir() / f"{case_name}.toml")
    step = REFERENCE.make_step(case.network, "float64")
    for run in case.runs:
        tensors = execute(REFERENCE, case, run, "float64", step)
        for name, golden in run.golden.items():
            tol = case.tolerance_for("float64", golden).widened(printed_slack(golden.decimals))
            comparison = compare(f"{run.name}/{name}", "golden", tensors[name], golden.value, tol)
            assert comparison.ok, comparison.describe()


@pytest.mark.parametrize("case_name", CASES)
def test_reference_backward_matches_central_differences(case_name):
    case = cases.load(cases.builtin_dir() / f"{case_name}.toml")
    for run in (r for r in case.runs if r.task.kind != "forward"):
        batch = gradcheck.first_batch(case, run)
        exact = REFERENCE.make_step(case.network, "float64")(case.params, batch)
        fd = gradcheck.central_difference(case.network, case.params, batch)
        tol = gradcheck.pair_tolerance(case, "float64", float(exact.loss), with_fd=True)
        for name, grad in exact.grads.items():
            comparison = compare(f"{run.name}/grad.{name}", "fd", grad, fd[name], tol)
            assert comparison.ok, comparison.describe()


@pytest.mark.parametrize("case_name", CASES)
def test_reference_in_float32_keeps_its_dtype_and_meets_every_golden(case_name):
    """A mutant that promotes to float64 (`astype(x, None)`) is a bug a float64 run hides."""
    case = cases.load(cases.builtin_dir() / f"{case_name}.toml")
    step = REFERENCE.make_step(case.network, "float32")
    for run in case.runs:
        tensors = execute(REFERENCE, case, run, "float32", step)
        assert {str(v.dtype) for v in tensors.values()} == {"float32"}
        for name, golden in run.golden.items():
            tol = case.tolerance_for("float32", golden).widened(printed_slack(golden.decimals))
            value = tensors[name]
            comparison = compare(f"{run.name}/{name}", "golden", value, golden.value, tol)
            assert comparison.ok, comparison.describe()


KINDS = {
    "linear": "Linear", "relu": "ReLU", "sigmoid": "Sigmoid", "softmax": "Softmax",
    "dropout": "Dropout", "tanh": "Tanh", "gelu": "GELU", "layer_norm": "LayerNorm",
    "log_softmax": "LogSoftmax", "residual": "Residual", "embedding": "Embedding",
    "attention": "Attention",
}  # fmt: skip
STEMS = {
    "linear": lambda spec: ["w", "b"] if spec.get("bias") else ["w"],
    "layer_norm": lambda spec: ["gamma", "beta"],
    "embedding": lambda spec: ["emb"],
    "attention": lambda spec: ["wq", "wk", "wv", "wo"],
}


def expected_trace(spec: dict) -> list[str]:
    """The trace names Network.trace documents, from the case file's own layer list: layers
    numbered in computed order (a residual's own before it), parameters by each kind's count."""
    flat: list[tuple[str, list[str], int]] = []  # (kind, its parameters' grads, span)
    counts: dict[str, int] = {}

    def walk(layers):
        for layer in layers:
            start = len(flat)
            walk(layer.get("layers", []))
            counts[layer["type"]] = number = counts.get(layer["type"], 0) + 1
            stems = STEMS.get(layer["type"], lambda spec: [])(layer)
            flat.append(
                (KINDS[layer["type"]], [f"grad.{s}{number}" for s in stems], len(flat) - start)
            )

    walk(spec["layers"])
    label = [f"layer {i} ({kind})" for i, (kind, _, _) in enumerate(flat)]
    names = [f"{name} output" for name in label] + ["loss"]
    for i in reversed(range(len(flat))):
        names += [f"{label[i]} output grad", *flat[i][1]]
        starting = [r for r, (_, _, span) in enumerate(flat) if span and r - span == i and i]
        names += [f"{label[r]} branch grad" for r in sorted(starting)]
    return names


@pytest.mark.parametrize("case_name", CASES)
def test_reference_trace_names_every_tensor_the_step_computes(case_name):
    """The first-divergence report reads these names and values: each layer's output and
    output gradient, in order, holding what the step returned."""
    path = cases.builtin_dir() / f"{case_name}.toml"
    case, spec = cases.load(path), tomllib.loads(path.read_text())["model"]
    assert case.network.loss.kind == spec["loss"]["type"]
    batch = gradcheck.first_batch(case, case.runs[0])
    result = REFERENCE.make_step(case.network, "float64", trace=True)(case.params, batch)
    assert list(result.trace) == expected_trace(spec)
    last = len(case.network.layers) - 1
    assert result.trace[f"layer {last} ({case.network.layers[last].kind}) output"] is result.output
    assert result.trace["loss"] is result.loss
    assert all(result.trace[f"grad.{k}"] is v for k, v in result.grads.items())
    for i, layer in enumerate(case.network.layers):
        label = f"layer {i} ({layer.kind}) output"
        assert result.trace[f"{label} grad"].shape == result.trace[label].shape, label


def _trace_agrees(network, params, batch, backend_name: str) -> None:
    """The traced step of another backend, float64, names and holds what the reference's
    trace does."""
    backend = plugins.load(backend_name) if backend_name in plugins.discover() else None
    if backend is None or not plugins.availability(backend).available:
        pytest.skip(f"{backend_name} unavailable")
    expected = REFERENCE.make_step(network, "float64", trace=True)(params, batch).trace
    with backend.numerics("float64"):
        step = backend.make_step(network, "float64", trace=True)
        convert = backend.from_numpy
        got = step(
            {k: convert(v, "float64") for k, v in params.items()},
            {k: convert(v, data_dtype(v, "float64")) for k, v in batch.items()},
        ).trace
    assert list(got) == list(expected)
    for name, value in expected.items():
        actual = backend.to_numpy(got[name])
        comparison = compare(name, "reference", actual, value, DEFAULT["float64"])
        assert comparison.ok, comparison.describe()


def _first_gradient_batch(case_name: str):
    case = cases.load(cases.builtin_dir() / f"{case_name}.toml")
    run = case.runs[0]
    if run.task.kind == "forward":
        pytest.skip("a forward task has no gradients")
    return case, gradcheck.first_batch(case, run)


@pytest.mark.parametrize("case_name", CASES)
def test_autograd_trace_matches_the_hand_written_one(case_name):
    """Autograd reads d loss / d activation off zero taps added in Network.forward: a mutant
    there (a tap subtracted, dropped) is caught only by an autograd backend (torch, float64)."""
    case, batch = _first_gradient_batch(case_name)
    _trace_agrees(case.network, case.params, batch, "torch")


@pytest.mark.parametrize("backend_name", ["torch-manual", "array-api-strict"])
@pytest.mark.parametrize("case_name", CASES)
def test_hand_written_backward_on_stricter_libraries_matches_the_reference(case_name, backend_name):
    """The hand-written backward where NumPy's leniency is refused: torch refuses
    `reshape(x, (-2, n))`, the strict namespace compares no integer with a float (token ids
    against a float iota); the standard allows neither."""
    case, batch = _first_gradient_batch(case_name)
    _trace_agrees(case.network, case.params, batch, backend_name)


def _fd_tolerance(loss) -> Tolerance:
    """The gradient check's central-difference tolerance, its atol scaled by the loss."""
    fd = gradcheck.FD_TOLERANCE
    return Tolerance(fd.rtol, fd.atol * max(1.0, abs(float(loss))))


OPENING_RESIDUAL = [
    {"type": "residual", "layers": [{"type": "linear", "in": 3, "out": 3}, {"type": "tanh"}]},
    {"type": "linear", "in": 3, "out": 2},
]
"""A residual that reads the batch's x: its first layer returns no input gradient, and no
branch gradient is traced (there is none to trace)."""


def test_a_residual_opening_the_network_steps_and_traces_like_autograd():
    network = build(OPENING_RESIDUAL, {"type": "squared_error", "reduction": "sum"})
    rng = np.random.default_rng(16)
    params = {name: rng.uniform(-1, 1, shape) for name, shape in network.param_shapes.items()}
    batch = {"x": rng.uniform(-2, 2, (2, 3)), "y": rng.uniform(-1, 1, (2, 2))}
    result = REFERENCE.make_step(network, "float64", trace=True)(params, batch)
    assert not any("branch" in name for name in result.trace)
    fd = gradcheck.central_difference(network, params, batch)
    tol = _fd_tolerance(result.loss)
    for name, grad in result.grads.items():
        assert compare(name, "fd", grad, fd[name], tol).ok, name
    _trace_agrees(network, params, batch, "torch")


def test_an_embedding_one_wide_has_its_gradient():
    """dim 1: the table has one column, so the embedding's iota (one per row) must not
    depend on which column it is built from."""
    layers = [{"type": "embedding", "vocab": 3, "dim": 1}, {"type": "linear", "in": 1, "out": 2}]
    network = build(layers, {"type": "squared_error", "reduction": "mean"})
    params = {"emb1": np.array([[0.5], [-1.0], [2.0]]), "w1": np.array([[1.0, -0.5]])}
    batch = {"x": np.array([[0, 2, 2]]), "y": np.zeros((1, 3, 2))}
    exact = REFERENCE.make_step(network, "float64")(params, batch)
    fd = gradcheck.central_difference(network, params, batch)
    tol = _fd_tolerance(exact.loss)
    for name, grad in exact.grads.items():
        assert compare(name, "fd", grad, fd[name], tol).ok, name


def test_a_delegated_kernel_is_the_one_that_runs_and_gets_the_namespace():
    """The dispatch to a backend's native kernels (harness.composites): each composite, and
    the stop_gradient inside the softmax composition, reaches the kernel handed in, with the
    namespace it was called with. (The reference has no kernels, so nothing above sees this.)"""
    calls: list[tuple[str, object]] = []

    def recording(name: str):
        def run(xp, *args):
            calls.append((name, xp))
            return composites.COMPOSITIONS.get(name, lambda xp, x: x)(xp, *args)

        return run

    names = [*composites.COMPOSITIONS, *composites.PRIMITIVES]
    xp = composites.delegating(plain, {name: recording(name) for name in names}, delegate=True)
    x = np.array([[1.0, -2.0, 0.5]])
    composites.relu(xp, x)
    composites.sigmoid(xp, x)
    composites.cross_entropy(xp, np.full_like(x, 0.5), x, 1e-7)
    composites.softmax(xp, x)
    composites.gelu(xp, x)
    composites.layer_norm(xp, x, np.ones(3), np.zeros(3), 1e-5)
    composites.log_softmax(xp, x)
    ran = [name for name, _ in calls]
    assert ran == [
        "relu", "sigmoid", "cross_entropy", "softmax", "stop_gradient", "gelu", "layer_norm",
        "log_softmax", "stop_gradient",
    ]  # fmt: skip
    assert all(namespace is xp for _, namespace in calls)


def test_a_backends_own_optimizer_update_is_the_one_that_runs():
    """harness.optimizers.step hands a backend's optimizer_update the optimizer, the
    arrays and the state (the reference has none, so nothing above sees this)."""
    seen = []

    class Own:
        def optimizer_update(self, *args):
            seen.append(args)
            return "params", "state"

    adam = optimizers.Adam(0.1, 0.9, 0.999, 1e-8)
    params, grads = {"w": np.ones(2)}, {"w": np.full(2, 0.5)}
    assert optimizers.step(Own(), adam, params, grads, {"step": 3}) == ("params", "state")
    assert optimizers.step(Own(), adam, params, grads) == ("params", "state")
    assert seen == [(adam, params, grads, {"step": 3}), (adam, params, grads, {})]
    plain, state = optimizers.step(object(), adam, params, grads)
    np.testing.assert_allclose(plain["w"], 1 - 0.1 * 0.5 / (0.5 + 1e-8), rtol=1e-15)
    assert state["step"] == 1
    again, state = optimizers.update(adam, params, grads)  # no state: the first step
    np.testing.assert_array_equal(again["w"], plain["w"])
    assert state["step"] == 1
