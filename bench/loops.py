"""The homework's training loop (`task3-train`, run x1: 100 epochs of SGD), per variant.

Flavours of the harness: "" loops over the backend's step on arrays converted beforehand, with
the update rule of `harness.driver.execute`; "execute" is `harness.driver.execute` itself, the
path `harness run` takes, conversion of every batch included; "fused" (JAX) puts the harness
network's gradient and all epochs into one XLA program with `lax.fori_loop`.
"""

from __future__ import annotations

from contextlib import contextmanager

from harness import cases, driver

from .registry import Variant
from .steps import Unavailable, load_backend
from .sync import placed, synchronizer

CASE, RUN = "task3-train", "x1"
CORE_BACKENDS = ("numpy", "torch", "jax")
"""Also timed through `harness.driver.execute`, conversions included."""


def train_case():
    """The case and its run: (case, run, lr, epochs)."""
    loaded, _ = cases.load_dir()
    case = next(c for c in loaded if c.name == CASE)
    run = next(r for r in case.runs if r.name == RUN)
    return case, run, run.task.lr, run.task.epochs


@contextmanager
def prepare(variant: Variant, dtype: str, device: str):
    """Yield a no-argument call that runs the whole synchronised training loop."""
    case, run, lr, epochs = train_case()
    with placed(variant.library, device, dtype):
        if variant.role == "harness":
            backend = load_backend(variant.name, device)
            if dtype not in backend.dtypes:
                raise Unavailable(f"{variant.name} does not support {dtype}")
            with backend.numerics(dtype):
                yield _harness(variant.flavour, backend, case, run, dtype, device)
        else:
            arrays = {**case.params, "x": run.x, "y": run.y}
            yield NATIVE_LOOPS[variant.library, variant.flavour](arrays, lr, epochs, dtype, device)


def _harness(flavour, backend, case, run, dtype, device):
    step = backend.make_step(case.network, dtype)
    if flavour == "execute":
        return lambda: driver.execute(backend, case, run, dtype, step)
    state = {k: backend.from_numpy(v, dtype) for k, v in case.params.items()}
    batch = {"x": backend.from_numpy(run.x, dtype), "y": backend.from_numpy(run.y, dtype)}
    lr, epochs, wait = run.task.lr, run.task.epochs, synchronizer(backend.library, device)
    if flavour == "fused":
        train = _fused_network(case.network, lr, epochs)
        return lambda: wait(train(state, batch))

    def loop():
        params = state
        for _ in range(epochs):
            grads = step(params, batch).grads
            params = {k: p - lr * grads[k] for k, p in params.items()}
        return wait(params)

    return loop


def _fused_network(network, lr: float, epochs: int):
    """The harness network's own objective, differentiated and looped inside one jit."""
    import jax
    import jax.numpy as jnp

    grad = jax.grad(lambda params, batch: network.objective(jnp, params, batch)[0])

    @jax.jit
    def train(params, batch):
        def epoch(_, p):
            g = grad(p, batch)
            return {k: p[k] - lr * g[k] for k in p}

        return jax.lax.fori_loop(0, epochs, epoch, params)

    return train


def _numpy_loop(a, lr, epochs, dtype, device):
    from . import native_numpy

    a = {k: v.astype(dtype) for k, v in a.items()}
    return lambda: native_numpy.train(a["w1"], a["w2"], a["x"], a["y"], lr, epochs)


def _torch_loop(a, lr, epochs, dtype, device):
    import torch

    from . import native_torch

    a = {k: torch.tensor(v, dtype=getattr(torch, dtype), device=device) for k, v in a.items()}
    wait = synchronizer("torch", device)
    return lambda: wait(native_torch.train(a["w1"], a["w2"], a["x"], a["y"], lr, epochs))


def _jax_loop(fused: bool):
    def prepare_jax(a, lr, epochs, dtype, device):
        import jax.numpy as jnp

        from . import native_jax

        a = {k: jnp.asarray(v, dtype=dtype) for k, v in a.items()}
        wait = synchronizer("jax", device)
        if fused:
            return lambda: wait(
                native_jax.train_fused(a["w1"], a["w2"], a["x"], a["y"], lr, epochs)
            )
        return lambda: wait(native_jax.train(a["w1"], a["w2"], a["x"], a["y"], lr, epochs))

    return prepare_jax


NATIVE_LOOPS = {
    ("numpy", ""): _numpy_loop,
    ("torch", ""): _torch_loop,
    ("jax", ""): _jax_loop(fused=False),
    ("jax", "fused"): _jax_loop(fused=True),
}


def variants(step_variants: list[Variant]) -> list[Variant]:
    """The training-loop variants that go with the selected step variants."""
    found = []
    for v in step_variants:
        if v.role == "harness":
            found.append(v)
            if v.name in CORE_BACKENDS:
                found.append(Variant("harness", v.name, v.library, "execute"))
            if v.name == "jax":
                found.append(Variant("harness", v.name, v.library, "fused"))
        elif v.role == "native" and (v.library, v.flavour) in NATIVE_LOOPS:
            found.append(v)
            if v.library == "jax":
                found.append(Variant("native", "jax", "jax", "fused"))
    return found
