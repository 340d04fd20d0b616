"""One synchronised step per variant, prepared outside the timed region.

Each `prepare_*` is a context manager: it converts the data, builds the step and yields a
call that runs one forward plus gradients and waits for the result. The library's numerics
(JAX x64) and device stay in force while the caller times it.
"""

from __future__ import annotations

import copy
from contextlib import contextmanager

from harness import network, plugins

from .problem import LOSS_SPEC, Size, arrays, layer_specs
from .registry import SAME_MATHS, Variant
from .sync import placed, step_outputs, synchronizer


class Unavailable(Exception):
    """The variant cannot run here; the message says why (the benchmark is skipped)."""


def load_backend(name: str, device: str):
    """The registered backend, moved to `device` where it takes one."""
    backend = plugins.load(name)
    status = plugins.availability(backend)
    if not status.available:
        raise Unavailable(f"{name} unavailable: {status.reason}")
    if device != "cpu" and backend.library != "jax":
        if not hasattr(backend, "device"):
            raise Unavailable(f"{name} takes no device")
        backend = copy.copy(backend)
        backend.device = device
    return backend


@contextmanager
def prepare(variant: Variant, size: Size, dtype: str, device: str):
    """Yield a no-argument call that runs one synchronised step of `variant`."""
    if variant.role == "harness":
        backend = load_backend(variant.name, device)
        if dtype not in backend.dtypes:
            raise Unavailable(f"{variant.name} does not support {dtype}")
        with placed(backend.library, device, dtype), backend.numerics(dtype):
            yield harness_step(backend, size, dtype, device)
    elif variant.role == "native":
        with placed(variant.library, device, dtype):
            yield NATIVE_STEPS[variant.library, variant.flavour](size, dtype, device)
    else:
        raise Unavailable(f"no step for {variant.id}")


def native_baseline(variant: Variant, size: Size, dtype: str, device: str):
    """The native step of the variant's library, to interleave with it; None for natives
    without a flavour and for libraries without native code. Call inside `prepare`."""
    if variant.role == "native" and not variant.flavour:
        return None
    make = NATIVE_STEPS.get((variant.library, ""))
    return make(size, dtype, device) if make else None


def same_maths_baseline(variant: Variant, size: Size, dtype: str, device: str):
    """The same-maths native step of a harness variant's library, to interleave with it; None
    for other variants and for libraries without native code. Call inside `prepare`."""
    if variant.role != "harness":
        return None
    make = NATIVE_STEPS.get((variant.library, SAME_MATHS))
    return make(size, dtype, device) if make else None


def harness_step(backend, size: Size, dtype: str, device: str):
    net = network.build(layer_specs(size), LOSS_SPEC)
    data = {k: backend.from_numpy(v, dtype) for k, v in arrays(size).items()}
    params = {"w1": data["w1"], "w2": data["w2"]}
    batch = {"x": data["x"], "y": data["y"]}
    step = backend.make_step(net, dtype)
    wait = synchronizer(backend.library, device)
    return lambda: wait(step_outputs(step(params, batch)))


def _numpy_step(step_name: str):
    def prepare_numpy(size: Size, dtype: str, device: str):
        from . import native_numpy

        a = {k: v.astype(dtype) for k, v in arrays(size).items()}
        step = getattr(native_numpy, step_name)
        return lambda: step(a["w1"], a["w2"], a["x"], a["y"])

    return prepare_numpy


def _torch_step(step_name: str):
    def prepare_torch(size: Size, dtype: str, device: str):
        import torch

        from . import native_torch

        a = {
            k: torch.tensor(v, dtype=getattr(torch, dtype), device=device)
            for k, v in arrays(size).items()
        }
        w1, w2 = (a[k].requires_grad_(True) for k in ("w1", "w2"))
        step, wait = getattr(native_torch, step_name), synchronizer("torch", device)
        return lambda: wait(step(w1, w2, a["x"], a["y"]))

    return prepare_torch


def _jax_step(step_name: str):
    def prepare_jax(size: Size, dtype: str, device: str):
        import jax.numpy as jnp

        from . import native_jax

        a = {k: jnp.asarray(v, dtype=dtype) for k, v in arrays(size).items()}
        step, wait = getattr(native_jax, step_name), synchronizer("jax", device)
        return lambda: wait(step(a["w1"], a["w2"], a["x"], a["y"]))

    return prepare_jax


NATIVE_STEPS = {
    ("numpy", ""): _numpy_step("step"),
    ("numpy", SAME_MATHS): _numpy_step("step_same_maths"),
    ("torch", ""): _torch_step("step"),
    ("torch", SAME_MATHS): _torch_step("step_same_maths"),
    ("jax", ""): _jax_step("step"),
    ("jax", SAME_MATHS): _jax_step("step_same_maths"),
}


REFERENCE_BOUND = 1e-14
"""How far, relative to each tensor's largest entry, a same-maths native step in float64 may
lie from the harness's float64 reference: rounding in another order, nothing more."""


def reference_error(variant: Variant, size: Size, device: str) -> float:
    """The float64 same-maths step's largest difference from the float64 reference (the
    harness's NumPy manual backward, with the seeds' eps), relative to each tensor's largest
    entry, over the loss and both gradients."""
    import numpy as np

    from harness.manual import REFERENCE

    net = network.build(layer_specs(size), LOSS_SPEC)
    a = arrays(size)
    want = REFERENCE.make_step(net, "float64")({"w1": a["w1"], "w2": a["w2"]}, a)
    with placed(variant.library, device, "float64"):
        out = NATIVE_STEPS[variant.library, variant.flavour](size, "float64", device)()
    loss, grads = (out[0], out[1:]) if variant.library == "numpy" else out
    pairs = [(loss, want.loss), *zip(grads, (want.grads["w1"], want.grads["w2"]), strict=True)]
    worst = 0.0
    for got, expected in pairs:
        got, expected = _host(got), np.asarray(expected, dtype=np.float64)
        if got.shape != expected.shape:
            return float("inf")
        error = float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))
        worst = error if not error <= worst else worst  # NaN stays NaN
    return worst


def _host(value):
    import numpy as np

    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value, dtype=np.float64)
