"""The network's composite operations, each an Array-API composition a backend may delegate.

In the spirit of array-api-extra's delegation: `relu`, `sigmoid`, `softmax`, `gelu`,
`layer_norm`, `log_softmax` and the seeds' `cross_entropy` are written here once against the
standard, and a backend plugin may hand in its library's native kernel for any of them
(`torch.relu`, `jax.nn.softmax`, ...) through `delegating(xp, kernels)`, which returns a
namespace that carries them. The layers call these
functions with whatever namespace they are given, so the model never names a library.

Two kinds of entries: composites (delegated only while delegation is on; `HARNESS_DELEGATE=0`
turns it off for a process) and primitives the standard lacks (`stop_gradient`), which a
composition needs and which a backend supplies whatever the switch says. Nothing here imports
an array library.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from types import MappingProxyType, SimpleNamespace
from typing import Any

Array = Any
Kernel = Callable[..., Array]

SWITCH = "HARNESS_DELEGATE"
"""Environment variable: "0" keeps every composite on its Array-API composition."""


def _relu(xp, x: Array) -> Array:
    """x * (x > 0): a multiply is vectorised everywhere, `where` is not (5-20x slower in
    NumPy and torch on the CPU). Not `maximum(x, 0)`: torch and JAX autograd split its
    gradient at a tie, 0.5 at x = 0, where the hand-written backward and torch.relu or
    jax.nn.relu give 0. NaN propagates (NaN * 0 is NaN); so does -inf, as NaN."""
    return x * xp.astype(x > 0, x.dtype)


def _sigmoid(xp, x: Array) -> Array:
    return 1.0 / (1.0 + xp.exp(-x))


def _softmax(xp, z: Array) -> Array:
    """Max-subtracted so that large logits do not overflow. The max is a constant of the
    gradient (softmax ignores a shift), so autograd need not build its path."""
    shift = stop_gradient(xp, xp.max(z, axis=-1, keepdims=True))
    e = xp.exp(z - shift)
    return e / xp.sum(e, axis=-1, keepdims=True)


def _cross_entropy(xp, p: Array, t: Array, eps: float) -> Array:
    """-sum(t * log(p + eps)), unscaled, as the seeds write it. No library has this eps'd
    form natively; a fused log-softmax drops eps, which changes saturated rows (p ~ 0)."""
    return -xp.sum(t * xp.log(p + eps))


GELU_SCALE = math.sqrt(2.0 / math.pi)
GELU_CUBIC = 0.044715


def _gelu(xp, x: Array) -> Array:
    """GELU's tanh approximation, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as
    torch's approximate="tanh" and jax.nn.gelu(approximate=True). Not the exact x Phi(x):
    the standard has no erf, so only this form can be written once for every library."""
    inner = GELU_SCALE * (x + GELU_CUBIC * (x * x * x))
    return 0.5 * x * (1.0 + xp.tanh(inner))


def _layer_norm(xp, x: Array, gamma: Array, beta: Array, eps: float) -> Array:
    """(x - mean) / sqrt(var + eps) * gamma + beta over the last axis, the variance biased
    (divided by the width, as torch.nn.LayerNorm) and taken about the mean (two passes)."""
    centred = x - xp.mean(x, axis=-1, keepdims=True)
    variance = xp.mean(centred * centred, axis=-1, keepdims=True)
    return centred / xp.sqrt(variance + eps) * gamma + beta


def _log_softmax(xp, z: Array) -> Array:
    """z - max - log(sum(exp(z - max))) over the last axis: finite for any finite logits,
    where log(softmax(z)) gives -inf once a probability underflows."""
    shifted = z - stop_gradient(xp, xp.max(z, axis=-1, keepdims=True))
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=-1, keepdims=True))


def _identity(xp, x: Array) -> Array:
    return x


COMPOSITIONS: Mapping[str, Kernel] = MappingProxyType(
    {
        "relu": _relu,
        "sigmoid": _sigmoid,
        "softmax": _softmax,
        "cross_entropy": _cross_entropy,
        "gelu": _gelu,
        "layer_norm": _layer_norm,
        "log_softmax": _log_softmax,
    }
)
"""Every delegable composite, by name, with its Array-API composition."""

PRIMITIVES: Mapping[str, Kernel] = MappingProxyType({"stop_gradient": _identity})
"""Operations a composition needs that the standard lacks; identity by default (no autograd)."""

_DEFAULTS = {**COMPOSITIONS, **PRIMITIVES}
_TABLE = "harness_composites"
"""The attribute of a namespace made by `delegating` that holds its kernels."""
_MADE: dict[tuple[int, int, bool], tuple[Any, Any, SimpleNamespace]] = {}
"""(id(xp), id(kernels), delegate) -> (xp, kernels, namespace); holding both keeps ids unique."""


def enabled() -> bool:
    """Whether composites may take native kernels in this process (`HARNESS_DELEGATE`)."""
    return os.environ.get(SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def delegating(xp, kernels: Mapping[str, Kernel], delegate: bool | None = None):
    """`xp` with `kernels` (name -> `kernel(xp, *arrays)`) in place of the compositions.

    Composites are taken only while `delegate` (default: `enabled()`) holds; primitives always.
    The namespace is made once per (xp, kernels, delegate), so a step may ask for it freely."""
    unknown = sorted(set(kernels) - set(_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown composite {unknown[0]!r} (known: {', '.join(_DEFAULTS)})")
    delegate = enabled() if delegate is None else delegate
    key = (id(xp), id(kernels), delegate)
    if key not in _MADE:
        taken = {k: f for k, f in kernels.items() if delegate or k in PRIMITIVES}
        table = {**_DEFAULTS, **taken}
        _MADE[key] = (xp, kernels, SimpleNamespace(**vars(xp), **{_TABLE: table}))
    return _MADE[key][2]


def kernel(xp, name: str) -> Kernel:
    """The function `xp` runs for composite or primitive `name`: native or composition."""
    return getattr(xp, _TABLE, _DEFAULTS)[name]


def relu(xp, x: Array) -> Array:
    return kernel(xp, "relu")(xp, x)


def sigmoid(xp, x: Array) -> Array:
    return kernel(xp, "sigmoid")(xp, x)


def softmax(xp, z: Array) -> Array:
    """Softmax over the last axis."""
    return kernel(xp, "softmax")(xp, z)


def cross_entropy(xp, p: Array, t: Array, eps: float) -> Array:
    """-sum(t * log(p + eps)), before the reduction's scale."""
    return kernel(xp, "cross_entropy")(xp, p, t, eps)


def gelu(xp, x: Array) -> Array:
    """GELU, tanh approximation."""
    return kernel(xp, "gelu")(xp, x)


def layer_norm(xp, x: Array, gamma: Array, beta: Array, eps: float) -> Array:
    """Normalise the last axis (biased variance), then scale by gamma and shift by beta."""
    return kernel(xp, "layer_norm")(xp, x, gamma, beta, eps)


def log_softmax(xp, z: Array) -> Array:
    """Log-softmax over the last axis."""
    return kernel(xp, "log_softmax")(xp, z)


def stop_gradient(xp, x: Array) -> Array:
    """`x` as a constant to autograd (jax.lax.stop_gradient, Tensor.detach); else `x`."""
    return kernel(xp, "stop_gradient")(xp, x)
