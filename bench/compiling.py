"""Compile time, timed apart from the steady state: the first call of a freshly built step.

Each round's setup builds a new jitted function (or resets dynamo for `torch.compile`), so that
every timed call traces and compiles from scratch; the timed call is that first call, waited
for. These run first in their process, before any other benchmark has compiled the same graph;
on-disk caches (inductor's FX graph cache) are left as they are, so torch.compile is timed warm.
"""

from __future__ import annotations

from harness import network

from .problem import LOSS_SPEC, Size, arrays, layer_specs
from .registry import Variant
from .steps import Unavailable, load_backend
from .sync import step_outputs, synchronizer

VARIANTS = (
    Variant("harness", "jax", "jax"),
    Variant("native", "jax", "jax"),
    Variant("native", "jax", "jax", "fused"),
    Variant("harness", "torch-compile", "torch"),
    Variant("native", "torch", "torch", "compile"),
)
SLOW = {"torch-compile", "compile"}
"""torch.compile takes seconds per round: full runs only."""


def sizes(variant: Variant, selected: tuple[str, ...]) -> tuple[str, ...]:
    """Where a first call is mostly compilation: the step at homework and medium size (its
    run is under 1% of the call); the fused loop, which runs 100 epochs, and torch.compile,
    which takes seconds, at homework size only."""
    if variant.library == "torch" or variant.flavour == "fused":
        return tuple(s for s in selected if s == "homework")
    return tuple(s for s in selected if s in ("homework", "medium"))


def first_call_setup(variant: Variant, size: Size, dtype: str, device: str):
    """A pedantic `setup`: returns ((call,), {}) with a fresh, not yet compiled call."""
    if variant.role == "harness":
        backend = load_backend(variant.name, device)
        net = network.build(layer_specs(size), LOSS_SPEC)
        data = {k: backend.from_numpy(v, dtype) for k, v in arrays(size).items()}
        params, batch = {k: data[k] for k in ("w1", "w2")}, {k: data[k] for k in ("x", "y")}
        wait = synchronizer(backend.library, device)

        def setup():
            _reset(backend.library)
            step = backend.make_step(net, dtype)
            return (lambda: wait(step_outputs(step(params, batch))),), {}

        return setup
    return _NATIVE[variant.library, variant.flavour](size, dtype, device)


def _reset(library: str) -> None:
    if library == "torch":
        import torch

        torch._dynamo.reset()


def _jax(fused: bool):
    def make(size: Size, dtype: str, device: str):
        import jax
        import jax.numpy as jnp

        from . import native_jax

        a = {k: jnp.asarray(v, dtype=dtype) for k, v in arrays(size).items()}

        def setup():
            fresh = native_jax.compile_train() if fused else native_jax.compile_step()
            args = (a["w1"], a["w2"], a["x"], a["y"]) + ((0.01, 100) if fused else ())

            def call():
                return jax.block_until_ready(fresh(*args))

            return (call,), {}

        return setup

    return make


def _torch_compile(size: Size, dtype: str, device: str):
    import torch

    from . import native_torch

    a = {
        k: torch.tensor(v, dtype=getattr(torch, dtype), device=device)
        for k, v in arrays(size).items()
    }
    w1, w2 = (a[k].requires_grad_(True) for k in ("w1", "w2"))
    wait = synchronizer("torch", device)

    def setup():
        torch._dynamo.reset()
        loss = torch.compile(native_torch.loss)

        def call():
            value = loss(w1, w2, a["x"], a["y"])
            return wait(torch.autograd.grad(value, (w1, w2)))

        return (call,), {}

    return setup


_NATIVE = {
    ("jax", ""): _jax(fused=False),
    ("jax", "fused"): _jax(fused=True),
    ("torch", "compile"): _torch_compile,
}


def variants(selection) -> list[Variant]:
    """The compile-time variants of the selected libraries and backends."""
    wanted = []
    for v in VARIANTS:
        if selection.libraries and v.library not in selection.libraries:
            continue
        if (v.name in SLOW or v.flavour in SLOW) and selection.quick:
            continue
        if v.role == "harness" and selection.backends and v.name not in selection.backends:
            continue
        wanted.append(v)
    return wanted


def check(variant: Variant) -> None:
    if variant.role == "harness":
        load_backend(variant.name, "cpu")
    elif (variant.library, variant.flavour) not in _NATIVE:
        raise Unavailable(f"no compile benchmark for {variant.id}")
