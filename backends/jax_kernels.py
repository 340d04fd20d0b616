"""JAX's native kernels for the network's composites (see harness.composites).

Shared by the JAX backends (jit, eager, manual). Imported only when a JAX step is made, so
loading the plugins imports no JAX. jax.nn has no layer norm with scale and shift; its
`standardize` does the normalising. No entry for the cross-entropy: JAX has no kernel for the
seeds' -sum(t * log(p + eps)), and a fused log-softmax would drop the eps.
"""

from __future__ import annotations

from functools import cache

from harness.composites import delegating


@cache
def kernels() -> dict:
    """name -> kernel(xp, *arrays); made once, so the delegated namespace is made once too."""
    import jax

    return {
        "relu": lambda xp, x: jax.nn.relu(x),
        "sigmoid": lambda xp, x: jax.nn.sigmoid(x),
        "softmax": lambda xp, z: jax.nn.softmax(z, axis=-1),
        "gelu": lambda xp, x: jax.nn.gelu(x, approximate=True),
        "layer_norm": _layer_norm,
        "log_softmax": lambda xp, z: jax.nn.log_softmax(z, axis=-1),
        "stop_gradient": lambda xp, x: jax.lax.stop_gradient(x),
    }


def _layer_norm(xp, x, gamma, beta, eps):
    """jax.nn.standardize with the two-pass variance (its default, "fast", is mean(x^2) -
    mean(x)^2, which cancels badly when the mean is large against the spread)."""
    import jax

    return jax.nn.standardize(x, axis=-1, epsilon=eps, algorithm="stable") * gamma + beta


def delegate(xp):
    """The JAX namespace `xp` with JAX's kernels in it: a ManualBackend's `tune`."""
    return delegating(xp, kernels())


def namespace():
    """jax.numpy, with JAX's kernels in it."""
    import jax.numpy as jnp

    return delegate(jnp)
