"""Every native kernel a backend delegates to agrees with its Array-API composition.

Forward and gradient, in both dtypes, at ReLU's tie (x = 0 exactly) and at NaN; then the
matrix with delegation switched off (`HARNESS_DELEGATE=0`), which test_cases.py runs on.
"""

from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
from array_api_compat import array_namespace

from harness import composites as C
from harness import layers as L
from harness import losses
from harness.matrix import run_cell
from harness.protocol import DTYPES

AGREE = {"float32": {"rtol": 2e-6, "atol": 1e-7}, "float64": {"rtol": 1e-14, "atol": 1e-16}}
"""Native kernel against composition: a few ulps (sums and exps in another order), no more."""

LIBRARIES = ("numpy", "torch", "jax")
AUTOGRAD = ("torch", "jax")
ACTIVATIONS = ("relu", "sigmoid", "softmax", "gelu", "log_softmax")
"""The unary composites; layer_norm (with its scale, shift and eps) is tested on its own."""


def _kernels(library: str) -> dict:
    pytest.importorskip(library)
    if library == "numpy":
        from harness_backends.numpy_kernels import KERNELS

        return KERNELS
    if library == "torch":
        from harness_backends.torch_kernels import kernels

        return kernels()
    from harness_backends.jax_kernels import kernels

    return kernels()


class Lib:
    """One library's arrays, both namespaces (native on and off), and a gradient."""

    def __init__(self, library: str, dtype: str) -> None:
        self.name, self.dtype = library, dtype
        kernels = _kernels(library)
        self.module = pytest.importorskip("jax.numpy" if library == "jax" else library)
        self.plain = array_namespace(self.module.asarray([0.0]))
        self.native = C.delegating(self.plain, kernels, delegate=True)
        self.composed = C.delegating(self.plain, kernels, delegate=False)

    def array(self, values) -> object:
        return self.plain.asarray(np.asarray(values), dtype=getattr(self.plain, self.dtype))

    def vjp(self, f, x, cotangent):
        """d <f(x), cotangent> / dx by the library's autograd."""
        if self.name == "torch":
            import torch

            leaf = x.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(f(leaf), leaf, cotangent)
            return grad
        import jax

        _, pullback = jax.vjp(f, x)
        return pullback(cotangent)[0]


@pytest.fixture(params=DTYPES)
def dtype(request):
    return request.param


@pytest.fixture
def scoped(dtype):
    """JAX float64 needs x64, scoped to the test as the backend scopes it to a cell."""
    jax = pytest.importorskip("jax")
    with jax.enable_x64(dtype == "float64"):
        yield


def numpy_of(array) -> np.ndarray:
    return np.asarray(array.detach() if hasattr(array, "detach") else array)


def assert_agree(native, composed, dtype: str, what: str) -> None:
    native, composed = numpy_of(native), numpy_of(composed)
    assert native.dtype == composed.dtype == np.dtype(dtype), what
    np.testing.assert_allclose(native, composed, **AGREE[dtype], err_msg=what)


INPUT = [[0.0, -1.5, 2.25, 0.0, 1e-3], [-0.0, 3.0, -2.0, 40.0, -40.0], [1e3, 999.0, -1e3, 0.5, 0.0]]
"""Exact zeros (ReLU's tie), both signs, saturating sigmoid inputs, logits that overflow exp."""


def inputs(name: str) -> np.ndarray:
    """INPUT, within +-60 for the sigmoid, whose exp(-x) would overflow (and warn) at -1e3."""
    return np.clip(INPUT, -60.0, 60.0) if name == "sigmoid" else np.asarray(INPUT)


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_native_forward_agrees_with_the_composition(library, name, dtype, scoped):
    lib = Lib(library, dtype)
    x = lib.array(inputs(name))
    native = C.kernel(lib.native, name)
    assert native is not C.COMPOSITIONS[name], f"{library} registers no {name}"
    assert_agree(native(lib.native, x), C.COMPOSITIONS[name](lib.plain, x), dtype, name)


@pytest.mark.parametrize("library", AUTOGRAD)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_native_gradient_agrees_with_the_composition(library, name, dtype, scoped):
    lib = Lib(library, dtype)
    x = lib.array(inputs(name))
    cotangent = lib.array(np.random.default_rng(0).standard_normal(np.shape(INPUT)))
    native = lib.vjp(lambda v: getattr(C, name)(lib.native, v), x, cotangent)
    composed = lib.vjp(lambda v: getattr(C, name)(lib.composed, v), x, cotangent)
    assert_agree(native, composed, dtype, f"d {name}")


@pytest.mark.parametrize("library", AUTOGRAD)
def test_softmax_gradient_is_unchanged_by_stopping_the_max(library, dtype, scoped):
    """The stop_gradient on the max saves autograd a path; the gradient stays the same."""
    lib = Lib(library, dtype)
    x = lib.array(INPUT)
    cotangent = lib.array(np.random.default_rng(1).standard_normal(np.shape(INPUT)))
    assert C.kernel(lib.composed, "stop_gradient") is not C.PRIMITIVES["stop_gradient"]
    stopped = lib.vjp(lambda v: C.softmax(lib.composed, v), x, cotangent)
    full = lib.vjp(lambda v: C.softmax(lib.plain, v), x, cotangent)
    assert_agree(stopped, full, dtype, "d softmax")


@pytest.mark.parametrize("library", AUTOGRAD)
@pytest.mark.parametrize("delegate", [True, False], ids=["native", "composed"])
def test_relu_gradient_at_exactly_zero_is_zero(library, delegate, dtype, scoped):
    """Autograd through `maximum(x, 0)` gives 0.5 at x = 0; neither ReLU may."""
    lib = Lib(library, dtype)
    xp = lib.native if delegate else lib.composed
    x = lib.array([0.0, -0.0, 0.0, 2.0, -2.0])
    grad = lib.vjp(lambda v: C.relu(xp, v), x, lib.array([1.0] * 5))
    np.testing.assert_array_equal(numpy_of(grad), [0.0, 0.0, 0.0, 1.0, 0.0])


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("delegate", [True, False], ids=["native", "composed"])
def test_nan_propagates_through_every_composite(library, delegate, dtype, scoped):
    lib = Lib(library, dtype)
    xp = lib.native if delegate else lib.composed
    x = lib.array([[np.nan, 1.0, -1.0], [0.5, 0.25, 0.0]])
    for name in ACTIVATIONS:
        y = numpy_of(getattr(C, name)(xp, x))
        assert np.isnan(y[0, 0]), name
        assert not np.isnan(y[1]).any(), name
        if name == "softmax":
            assert np.isnan(y[0]).all(), "a NaN logit spoils its whole row"
    p = lib.array([[np.nan, 0.5, 0.5], [0.5, 0.25, 0.25]])
    t = lib.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert np.isnan(numpy_of(C.cross_entropy(xp, p, t, 1e-7)))


@pytest.mark.parametrize("delegate", [True, False], ids=["native", "composed"])
def test_cross_entropy_keeps_its_eps(delegate, dtype):
    """-sum(t * log(p + eps)): at p = 0 the loss is -log(eps), not infinite."""
    lib = Lib("numpy", dtype)
    xp = lib.native if delegate else lib.composed
    p, t = lib.array([[0.0, 1.0], [0.5, 0.5]]), lib.array([[1.0, 0.0], [0.0, 1.0]])
    expected = -(np.log(np.asarray(1e-7, dtype)) + np.log(np.asarray(0.5, dtype) + 1e-7))
    assert_agree(C.cross_entropy(xp, p, t, 1e-7), expected, dtype, "cross-entropy")


LAYERS = {
    "relu": L.relu,
    "sigmoid": L.sigmoid,
    "softmax": L.softmax,
    "gelu": L.gelu,
    "log_softmax": L.log_softmax,
}


@pytest.mark.parametrize("library", LIBRARIES)
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_hand_written_backward_agrees_on_the_native_forward(library, name, dtype, scoped):
    """A manual backend's backward runs on what the native forward saved; it must give what
    it gives on the composition's, and write into neither its saved value nor dy."""
    lib = Lib(library, dtype)
    x, dy = lib.array(inputs(name)), lib.array(np.random.default_rng(2).standard_normal((3, 5)))
    layer, results = LAYERS[name](), []
    for xp in (lib.native, lib.composed):
        _, saved = layer.forward(xp, {}, x, {})
        kept = (numpy_of(dy).copy(), numpy_of(saved).copy())
        dx, _ = layer.backward(xp, {}, saved, dy)
        np.testing.assert_array_equal(numpy_of(dy), kept[0], err_msg="dy written")
        np.testing.assert_array_equal(numpy_of(saved), kept[1], err_msg="saved written")
        results.append(dx)
    assert_agree(*results, dtype, f"{name} backward")


def _layer_norm_inputs(lib: Lib, offset: float = 0.0):
    """Rows of mixed scale, centred near 0 (the mean's own rounding, ulp(mean) / spread, is
    what two correct layer norms may differ by), or moved by `offset`."""
    x = np.array(INPUT) / 100.0 + offset
    rng = np.random.default_rng(3)
    return lib.array(x), lib.array(rng.uniform(0.5, 1.5, 5)), lib.array(rng.uniform(-1, 1, 5))


@pytest.mark.parametrize("library", LIBRARIES)
def test_native_layer_norm_agrees_with_the_composition(library, dtype, scoped):
    lib = Lib(library, dtype)
    x, gamma, beta = _layer_norm_inputs(lib)
    native = C.kernel(lib.native, "layer_norm")
    assert native is not C.COMPOSITIONS["layer_norm"], f"{library} registers no layer_norm"
    got = native(lib.native, x, gamma, beta, 1e-5)
    assert_agree(got, C.COMPOSITIONS["layer_norm"](lib.plain, x, gamma, beta, 1e-5), dtype, "ln")


@pytest.mark.parametrize("dtype", ["float64"])
@pytest.mark.parametrize("library", LIBRARIES)
def test_native_layer_norm_takes_the_variance_about_the_mean(library, dtype, scoped):
    """Rows whose mean (50) is large against their spread: the two-pass variance is exact to
    about eps * mean / spread; a one-pass mean(x^2) - mean(x)^2 (jax.nn.standardize's
    default) is off by about eps * mean^2 / spread^2, 200x more here."""
    lib = Lib(library, dtype)
    x, gamma, beta = _layer_norm_inputs(lib, offset=50.0)
    native = C.kernel(lib.native, "layer_norm")(lib.native, x, gamma, beta, 1e-5)
    composed = C.COMPOSITIONS["layer_norm"](lib.plain, x, gamma, beta, 1e-5)
    spread = float(np.min(np.std(numpy_of(x), axis=-1)))
    conditioned = 10 * np.finfo(np.float64).eps * 50.0 / spread
    np.testing.assert_allclose(numpy_of(native), numpy_of(composed), rtol=0, atol=conditioned)


@pytest.mark.parametrize("library", AUTOGRAD)
def test_native_layer_norm_gradient_agrees_with_the_composition(library, dtype, scoped):
    lib = Lib(library, dtype)
    x, gamma, beta = _layer_norm_inputs(lib)
    cotangent = lib.array(np.random.default_rng(4).standard_normal((3, 5)))
    grads = [
        lib.vjp(lambda v, xp=xp: C.layer_norm(xp, v, gamma, beta, 1e-5), x, cotangent)
        for xp in (lib.native, lib.composed)
    ]
    assert_agree(*grads, dtype, "d layer_norm")


@pytest.mark.parametrize("library", LIBRARIES)
def test_layer_norm_backward_agrees_on_the_native_forward(library, dtype, scoped):
    lib = Lib(library, dtype)
    x, gamma, beta = _layer_norm_inputs(lib)
    dy = lib.array(np.random.default_rng(5).standard_normal((3, 5)))
    layer, params, results = L.layer_norm("g", "b", 1e-5), {"g": gamma, "b": beta}, []
    for xp in (lib.native, lib.composed):
        y, saved = layer.forward(xp, params, x, {})
        dx, grads = layer.backward(xp, params, saved, dy)
        results.append((y, dx, grads["g"], grads["b"]))
    for what, native, composed in zip(("y", "dx", "dg", "db"), *results, strict=True):
        assert_agree(native, composed, dtype, f"layer_norm {what}")


def test_cross_entropy_backward_writes_into_neither_input():
    lib = Lib("numpy", "float64")
    p, t = lib.array([[0.25, 0.75]]), lib.array([[1.0, 0.0]])
    loss = losses.cross_entropy("mean", 1e-7)
    _, saved = loss.forward(lib.native, p, t)
    dp = loss.backward(lib.native, saved)
    np.testing.assert_allclose(numpy_of(dp), [[-1.0 / (0.25 + 1e-7), -0.0]], rtol=1e-15)
    np.testing.assert_array_equal(numpy_of(p), [[0.25, 0.75]])
    np.testing.assert_array_equal(numpy_of(t), [[1.0, 0.0]])


def test_the_switch_keeps_the_compositions_and_the_primitives(monkeypatch):
    kernels = {"relu": lambda xp, x: x, "stop_gradient": lambda xp, x: x}
    xp = array_namespace(np.asarray([0.0]))
    monkeypatch.setenv(C.SWITCH, "0")
    assert not C.enabled()
    off = C.delegating(xp, kernels)
    assert C.kernel(off, "relu") is C.COMPOSITIONS["relu"]
    assert C.kernel(off, "stop_gradient") is kernels["stop_gradient"]
    monkeypatch.setenv(C.SWITCH, "1")
    on = C.delegating(xp, kernels)
    assert C.kernel(on, "relu") is kernels["relu"]
    assert on is C.delegating(xp, kernels), "made once per namespace and table"
    assert C.kernel(xp, "relu") is C.COMPOSITIONS["relu"], "a plain namespace composes"
    assert on.sum is xp.sum


@pytest.mark.parametrize(
    ("value", "on"),
    [("0", False), ("false", False), (" OFF ", False), ("no", False), ("1", True), ("", True)],
)
def test_harness_delegate_reads_like_a_switch(value, on, monkeypatch):
    monkeypatch.setenv("HARNESS_DELEGATE", value)
    assert C.enabled() is on


def test_delegation_is_on_by_default(monkeypatch):
    monkeypatch.delenv("HARNESS_DELEGATE", raising=False)
    assert C.enabled()


def test_an_unknown_composite_is_named():
    with pytest.raises(ValueError, match="unknown composite 'swish'"):
        C.delegating(np, {"swish": lambda xp, x: x})


DELEGATING = {
    "numpy": DTYPES,
    "torch": DTYPES,
    "torch-manual": DTYPES,
    "jax": ("float64",),
    "jax-manual": ("float64",),
}
"""The built-in backends that register native kernels, with the dtypes their matrix runs in
here (JAX compiles each cell, about 1 s: float64 only, the tighter tolerance). jax-eager
shares jax's namespace; torch-compile is slow and shares torch's; array-api-strict registers
none. test_cases.py runs every backend and dtype with delegation on."""


def _fresh(backend):
    """A manual backend resolves its namespace once; a copy resolves it again, switch and all."""
    return dataclasses.replace(backend) if dataclasses.is_dataclass(backend) else backend


@pytest.mark.parametrize("backend_name", DELEGATING)
def test_the_matrix_passes_with_delegation_off(
    backend_name, registry, reference, load_backend, monkeypatch
):
    monkeypatch.setenv(C.SWITCH, "0")
    backend = _fresh(load_backend(backend_name))
    if not backend.availability().available:
        pytest.skip(backend.availability().reason)
    own = getattr(backend, "namespace", None) or sys.modules[type(backend).__module__]._xp
    assert all(C.kernel(own(), k) is f for k, f in C.COMPOSITIONS.items()), "still delegating"
    for case_name, case in registry.items():
        for dtype in DELEGATING[backend_name]:
            cell = run_cell(case, backend, dtype, reference)
            details = "\n".join(c.describe() for c in cell.comparisons if not c.ok)
            where = f"{case_name} {dtype}: {cell.message}"
            assert cell.status in ("pass", "skip"), f"{where}\n{details}"
