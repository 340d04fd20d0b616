"""The hand-written backward: standard-only (array_api_strict), equal to autograd, equal to
finite differences layer by layer, finite on huge logits, and honest about the reduction."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
from array_api_compat import array_namespace

from harness import layers as L
from harness import losses
from harness import network as net
from harness import sequence_layers as S
from harness.tolerance import DEFAULT, Tolerance, printed_slack

F64 = DEFAULT["float64"]
EPS = float(np.finfo(np.float64).eps)
# A central difference with step h = eps^(1/3) has error about eps^(2/3) (4e-11) times the
# function's scale; x1000 leaves room for the third derivative. A wrong backward (a sign,
# a transpose, a missing factor) is off by O(1), far beyond this.
FD_STEP = EPS ** (1 / 3)
FD_TOL = Tolerance(rtol=1e3 * EPS ** (2 / 3), atol=1e3 * EPS ** (2 / 3))

# (case, run, rows): the homework nets, each on one batch of one of its runs.
NETS = {
    "relu-softmax-sum": ("task2-grad-batch-sum", "batch", None),
    "relu-softmax-mean": ("task2-grad-sample-mean", "x2", None),
    "sigmoid-regression-bias": ("mlp-regression", "epoch", 8),
    "dropout": ("task3-train-dropout", "batch", None),
}


def first_batch(case, run_name: str, rows: int | None) -> dict[str, np.ndarray]:
    """x, y and the dropout masks as the issue defines them, drawn here from the case's seed."""
    run = next(r for r in case.runs if r.name == run_name)
    data = {"x": run.x[:rows], "y": run.y[:rows]}
    rng = np.random.default_rng(run.task.dropout_seed)
    for name, width, rate in case.network.mask_layers:
        data[name] = (rng.random((data["x"].shape[0], width)) >= rate).astype(np.float64)
    return data


def to_numpy(array) -> np.ndarray:
    if hasattr(array, "detach"):
        array = array.detach()
    if hasattr(array, "__dlpack__"):
        return np.asarray(np.from_dlpack(array), dtype=np.float64)
    return np.asarray(array, dtype=np.float64)


def results(step) -> dict[str, np.ndarray]:
    """loss, output and every gradient of a StepResult-like triple, as float64 NumPy."""
    loss, output, grads = step
    return {"loss": to_numpy(loss), "output": to_numpy(output)} | {
        f"grad.{k}": to_numpy(v) for k, v in grads.items()
    }


def manual(xp, module, network, params, data) -> dict[str, np.ndarray]:
    convert = {k: module.asarray(v, dtype=module.float64) for k, v in params.items()}
    batch = {k: module.asarray(v, dtype=module.float64) for k, v in data.items()}
    step = network.manual_step(xp, convert, batch)
    return results((step.loss, step.output, step.grads))


def torch_autograd(network, params, data) -> dict[str, np.ndarray]:
    torch = pytest.importorskip("torch")
    xp = array_namespace(torch.empty(0))
    leaves = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()
    }
    batch = {k: torch.tensor(v, dtype=torch.float64) for k, v in data.items()}
    loss, (output, _) = network.objective(xp, leaves, batch)
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return results((loss, output, dict(zip(leaves, grads, strict=True))))


def jax_grad(network, params, data) -> dict[str, np.ndarray]:
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    with jax.enable_x64(True):  # scoped: test_isolation checks nothing leaks
        batch = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in data.items()}
        start = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}

        def objective(p):
            return network.objective(jnp, p, batch)

        value_and_grad = jax.jit(jax.value_and_grad(objective, has_aux=True))
        (loss, (output, _)), grads = value_and_grad(start)
        assert loss.dtype == jnp.float64
        return results((loss, output, grads))


@pytest.fixture(scope="module")
def strict_results(registry) -> dict[str, dict[str, np.ndarray]]:
    """The manual backward on array_api_strict, once per net: any non-standard call raises."""
    xps = pytest.importorskip("array_api_strict")
    out = {}
    for label, (case_name, run, rows) in NETS.items():
        case = registry[case_name]
        data = first_batch(case, run, rows)
        out[label] = manual(xps, xps, case.network, case.params, data)
    return out


def assert_same(actual: dict, expected: dict, tol: Tolerance, who: str) -> None:
    assert actual.keys() == expected.keys()
    for name, value in expected.items():
        assert actual[name].shape == value.shape, f"{who} {name}"
        assert np.all(np.isfinite(actual[name])), f"{who} {name}"
        np.testing.assert_allclose(
            actual[name], value, rtol=tol.rtol, atol=tol.atol, err_msg=f"{who} {name}"
        )


@pytest.mark.parametrize("label", NETS)
def test_manual_backward_runs_on_array_api_strict(label, strict_results, registry):
    """Same numbers as on NumPy: the strict namespace changed nothing but the checking."""
    case_name, run, rows = NETS[label]
    case = registry[case_name]
    xp = array_namespace(np.zeros(1))
    on_numpy = manual(xp, np, case.network, case.params, first_batch(case, run, rows))
    assert_same(strict_results[label], on_numpy, F64, "array_api_strict vs numpy")


@pytest.mark.parametrize("label", NETS)
def test_manual_backward_matches_torch_autograd(label, strict_results, registry):
    case_name, run, rows = NETS[label]
    case = registry[case_name]
    theirs = torch_autograd(case.network, case.params, first_batch(case, run, rows))
    assert_same(strict_results[label], theirs, case.tolerance_for("float64"), "torch")


@pytest.mark.parametrize("label", NETS)
def test_manual_backward_matches_jax_grad(label, strict_results, registry):
    case_name, run, rows = NETS[label]
    case = registry[case_name]
    theirs = jax_grad(case.network, case.params, first_batch(case, run, rows))
    assert_same(strict_results[label], theirs, case.tolerance_for("float64"), "jax")


def test_strict_manual_backward_meets_the_stored_goldens(registry):
    """The gradient runs' goldens (loss, gradients) straight from the strict namespace."""
    xps = pytest.importorskip("array_api_strict")
    checked = 0
    for case_name in ("task2-grad-sample-mean", "task2-grad-batch-sum", "mlp-regression"):
        case = registry[case_name]
        for run in case.runs:
            if run.task.kind != "gradient":
                continue
            mine = manual(xps, xps, case.network, case.params, {"x": run.x, "y": run.y})
            for name, golden in run.golden.items():
                tol = case.tolerance_for("float64", golden).widened(printed_slack(golden.decimals))
                np.testing.assert_allclose(
                    mine[name], golden.value, rtol=tol.rtol, atol=tol.atol, err_msg=name
                )
                checked += 1
    assert checked >= 10


# ---- each layer's backward against a central finite difference (NumPy, float64) ----


def central_difference(f, x: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        h = FD_STEP * max(1.0, abs(x[i]))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (f(up) - f(down)) / (up[i] - down[i])
    return grad


def away_from_zero(rng, shape) -> np.ndarray:
    """Inputs with |x| >= 0.2, so that no finite-difference step crosses the ReLU kink."""
    x = rng.uniform(0.2, 2.0, shape)
    return x * rng.choice([-1.0, 1.0], shape)


LAYERS = {
    # name: (layer factory, parameter shapes, dropout masks, input shape)
    "linear": (lambda: L.linear("w", None), {"w": (3, 4)}, {}, (5, 3)),
    "linear-bias": (lambda: L.linear("w", "b"), {"w": (3, 4), "b": (4,)}, {}, (5, 3)),
    "linear-rank3": (lambda: L.linear("w", "b"), {"w": (3, 4), "b": (4,)}, {}, (2, 5, 3)),
    "relu": (L.relu, {}, {}, (5, 4)),
    "sigmoid": (L.sigmoid, {}, {}, (5, 4)),
    "softmax": (L.softmax, {}, {}, (5, 4)),
    "dropout": (lambda: L.dropout(0.4, "mask.0"), {}, {"mask.0": 0.4}, (5, 4)),
    "dropout-rank3": (lambda: L.dropout(0.4, "mask.0"), {}, {"mask.0": 0.4}, (2, 3, 4)),
    "tanh": (L.tanh, {}, {}, (5, 4)),
    "gelu": (L.gelu, {}, {}, (5, 4)),
    "log_softmax": (L.log_softmax, {}, {}, (2, 3, 4)),
    "layer_norm": (lambda: L.layer_norm("g", "b", 1e-5), {"g": (4,), "b": (4,)}, {}, (5, 4)),
    "layer_norm-rank3": (
        lambda: L.layer_norm("g", "b", 0.1), {"g": (4,), "b": (4,)}, {}, (2, 3, 4)
    ),
    "attention": (
        lambda: S.attention("q", "k", "v", "o", 4, False),
        {name: (4, 4) for name in "qkvo"}, {}, (2, 3, 4),
    ),
    "attention-causal": (
        lambda: S.attention("q", "k", "v", "o", 4, True),
        {name: (4, 4) for name in "qkvo"}, {}, (2, 5, 4),
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", LAYERS)
def test_layer_backward_matches_finite_differences(kind):
    make, param_shapes, masks, shape = LAYERS[kind]
    layer = make()
    xp = array_namespace(np.zeros(1))
    rng = np.random.default_rng(1)
    x = away_from_zero(rng, shape)
    params = {name: rng.standard_normal(s) for name, s in param_shapes.items()}
    data = {name: (rng.random(x.shape) >= p).astype(np.float64) for name, p in masks.items()}
    out, saved = layer.forward(xp, params, x, data)
    dy = rng.standard_normal(out.shape)
    dx, dparams = layer.backward(xp, params, saved, dy)

    def pullback(x_, params_):
        return float(np.sum(layer.forward(xp, params_, x_, data)[0] * dy))

    want = {"x": central_difference(lambda v: pullback(v, params), x)}
    for name in params:
        want[name] = central_difference(
            lambda v, n=name: pullback(x, {**params, n: v}), params[name]
        )
    got = {"x": dx, **dparams}
    assert got.keys() == want.keys()
    for name in want:
        assert got[name].shape == want[name].shape, name
        np.testing.assert_allclose(got[name], want[name], rtol=FD_TOL.rtol, atol=FD_TOL.atol)


def test_embedding_backward_adds_every_position_of_a_token_and_leaves_unseen_rows_zero():
    """d <take(E, ids), dy> / dE by central differences, with token 1 three times, 3 never."""
    layer = S.embedding("e")
    xp = array_namespace(np.zeros(1))
    rng = np.random.default_rng(2)
    ids = np.array([[1, 0, 1], [2, 1, 0]])
    table = rng.standard_normal((4, 3))
    out, saved = layer.forward(xp, {"e": table}, ids, {})
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[1, 0], table[2])
    dy = rng.standard_normal(out.shape)
    dx, grads = layer.backward(xp, {"e": table}, saved, dy)
    want = central_difference(
        lambda e: float(np.sum(layer.forward(xp, {"e": e}, ids, {})[0] * dy)), table
    )
    assert dx is None
    np.testing.assert_allclose(grads["e"], want, rtol=FD_TOL.rtol, atol=FD_TOL.atol)
    np.testing.assert_allclose(grads["e"][1], dy[0, 0] + dy[0, 2] + dy[1, 1], rtol=1e-15)
    np.testing.assert_array_equal(grads["e"][3], 0.0)


def test_causal_attention_sees_no_later_position():
    """Changing the last position changes only the last output; without the mask, all."""
    xp = array_namespace(np.zeros(1))
    rng = np.random.default_rng(3)
    params = {name: rng.standard_normal((4, 4)) for name in "qkvo"}
    x = rng.standard_normal((1, 5, 4))
    moved = x.copy()
    moved[0, -1] += 1.0
    for causal, changed in ((True, [False] * 4 + [True]), (False, [True] * 5)):
        layer = S.attention("q", "k", "v", "o", 4, causal)
        before, after = (layer.forward(xp, params, v, {})[0] for v in (x, moved))
        assert list(np.any(before != after, axis=-1)[0]) == changed


LOSSES = {
    "cross_entropy-sum": (lambda: losses.cross_entropy("sum", 1e-7), (3, 4)),
    "cross_entropy-mean": (lambda: losses.cross_entropy("mean", 1e-7), (3, 4)),
    "squared_error-sum": (lambda: losses.squared_error("sum"), (3, 4)),
    "squared_error-mean": (lambda: losses.squared_error("mean"), (3, 4)),
    "squared_error-mean-rank3": (lambda: losses.squared_error("mean"), (2, 3, 4)),
    "nll-sum": (lambda: losses.nll("sum"), (3, 4)),
    "nll-mean-rank3": (lambda: losses.nll("mean"), (2, 3, 4)),
}


@pytest.mark.parametrize("kind", LOSSES)
def test_loss_backward_matches_finite_differences(kind):
    make, shape = LOSSES[kind]
    loss = make()
    xp = array_namespace(np.zeros(1))
    rng = np.random.default_rng(2)
    logits = rng.standard_normal(shape)
    pred = np.exp(logits) / np.sum(np.exp(logits), axis=-1, keepdims=True)  # probabilities
    target = np.eye(4)[rng.integers(0, 4, shape[:-1])]
    value, saved = loss.forward(xp, pred, target)
    got = loss.backward(xp, saved)
    want = central_difference(lambda p: float(loss.forward(xp, p, target)[0]), pred)
    assert np.ndim(value) == 0
    np.testing.assert_allclose(got, want, rtol=FD_TOL.rtol, atol=FD_TOL.atol)


# ---- numerics ----


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_with_huge_logits_stays_finite(dtype):
    xp = array_namespace(np.zeros(1))
    layer = L.softmax()
    z = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 1000.0], [-1000.0, 1000.0, 999.0]])
    p, saved = layer.forward(xp, {}, z.astype(dtype), {})
    dz, _ = layer.backward(xp, {}, saved, np.ones_like(p))
    assert np.all(np.isfinite(p)) and np.all(np.isfinite(dz))
    tol = DEFAULT[dtype]
    np.testing.assert_allclose(np.sum(p, axis=-1), 1.0, rtol=tol.rtol, atol=tol.atol)
    np.testing.assert_allclose(p[0], [1.0, 0.0, 0.0], rtol=tol.rtol, atol=tol.atol)
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=tol.rtol, atol=tol.atol)
    e = 1 / (1 + math.e)  # softmax([1000, 999]) = [1, 1/e] / (1 + 1/e)
    np.testing.assert_allclose(p[2], [0.0, 1 - e, e], rtol=tol.rtol, atol=tol.atol)


def test_network_with_huge_logits_has_finite_loss_and_gradients(registry):
    """Inputs 1000x the homework's: logits in the thousands, p = 0 exactly, eps keeps log finite."""
    case = registry["task2-grad-batch-sum"]
    run = case.runs[0]
    xp = array_namespace(np.zeros(1))
    step = case.network.manual_step(xp, case.params, {"x": run.x * 1000.0, "y": run.y})
    assert np.min(step.output) == 0.0  # the saturated class: the logits really are huge
    values = [step.loss, step.output, *step.grads.values()]
    assert all(np.all(np.isfinite(v)) for v in values)
    eps = model_spec(case)["loss"]["eps"]  # -log(0 + eps) bounds each sample's loss
    assert 0 < float(step.loss) <= run.x.shape[0] * -math.log(eps)


def model_spec(case) -> dict:
    """The `[model]` table of the case's file, as written."""
    return tomllib.loads(case.path.read_text())["model"]


def with_reduction(case, reduction: str) -> net.Network:
    """The case's own model, rebuilt from its file with the loss reduction swapped."""
    model = model_spec(case)
    return net.build(model["layers"], {**model["loss"], "reduction": reduction})


@pytest.mark.parametrize(
    ("case_name", "rows"),
    [("task2-grad-batch-sum", 2), ("mlp-regression", 4), ("mlp-regression", 5)],
)
def test_sum_and_mean_reductions_differ_by_the_batch_size(case_name, rows, registry):
    """Exactly for a power-of-two batch (scaling by 2^-k is exact), to rounding otherwise."""
    case = registry[case_name]
    run = max(case.runs, key=lambda r: r.x.shape[0])
    data = {"x": run.x[:rows], "y": run.y[:rows]}
    xp = array_namespace(np.zeros(1))
    total = with_reduction(case, "sum").manual_step(xp, case.params, data)
    mean = with_reduction(case, "mean").manual_step(xp, case.params, data)
    pairs = [("loss", total.loss, mean.loss)]
    pairs += [(f"grad.{k}", total.grads[k], mean.grads[k]) for k in total.grads]
    exact = rows & (rows - 1) == 0
    for name, s, m in pairs:
        assert np.any(s != 0), name
        if exact:
            np.testing.assert_array_equal(s, m * rows, err_msg=name)
        else:
            np.testing.assert_allclose(s, m * rows, rtol=F64.rtol, atol=F64.atol, err_msg=name)
    np.testing.assert_array_equal(total.output, mean.output)


@pytest.mark.parametrize("name", ["numpy", "torch", "torch-manual", "jax", "jax-manual"])
def test_relu_gradient_at_exactly_zero_is_zero_on_every_backend(name, load_backend):
    """Every hidden pre-activation is exactly 0 here (x = [1, 1], w1's columns sum to 0).
    ReLU's gradient there is 0 by the manual backward; an autograd through `maximum(x, 0)`
    would give 0.5 (torch and JAX split ties), so the model must not be written that way."""
    from harness.cases import Case, Run, Task
    from harness.matrix import Reference, run_cell

    backend = load_backend(name)
    layers = [{"type": "linear", "in": 2, "out": 2}, {"type": "relu"}]
    layers += [{"type": "linear", "in": 2, "out": 1}]
    network = net.build(layers, {"type": "squared_error", "reduction": "sum"})
    params = {"w1": np.array([[1.0, -1.0], [-1.0, 1.0]]), "w2": np.array([[2.0], [3.0]])}
    run = Run("tie", Task("gradient"), np.array([[1.0, 1.0]]), np.array([[1.0]]), {})
    case = Case("relu-tie", None, "", (), network, params, (run,), dict(DEFAULT))
    cell = run_cell(case, backend, "float64", Reference())
    assert cell.status in ("pass", "skip"), cell.message
    if cell.status == "pass":
        np.testing.assert_array_equal(cell.outcomes["tie"].tensors["grad.w1"], np.zeros((2, 2)))
