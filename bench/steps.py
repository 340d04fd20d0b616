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
from .registry import Variant
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
    ("numpy", "same-ops"): _numpy_step("step_same_ops"),
    ("torch", ""): _torch_step("step"),
    ("torch", "same-ops"): _torch_step("step_same_ops"),
    ("jax", ""): _jax_step("step"),
    ("jax", "same-ops"): _jax_step("step_same_ops"),
}
