"""Layers written once against the Python Array API standard, each backward beside its forward.

A layer is a pair of pure functions in the style of stax: `forward(xp, params, x, data)`
returns the output and what the backward needs; `backward(xp, params, saved, dy)` returns
the gradient for the input (None for the batch's x, which needs none) and for the layer's own
parameters. `xp` is the array namespace, resolved once per step by the caller. Nothing here
knows which library it runs on: ReLU, sigmoid and softmax go through `harness.composites`,
where a backend may have put its library's native kernel in place of the composition. A
backward writes in place (`*=`) only into arrays it made itself, never into `dy` or a saved
value, which the step's trace still holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from harness import composites

Array = Any
Forward = Callable[[Any, Mapping[str, Array], Array, Mapping[str, Array]], tuple[Array, Any]]
Backward = Callable[[Any, Mapping[str, Array], Any, Array], tuple[Array, dict[str, Array]]]


class Layer(NamedTuple):
    kind: str
    param_names: tuple[str, ...]
    forward: Forward
    backward: Backward
    mask_name: str | None = None
    rate: float = 0.0
    span: int = 0
    """For a residual: how many layers before it in the network's flat list are its own."""


def rows_of(xp, a: Array) -> Array:
    """(..., features) as (rows, features): a parameter's gradient sums over every leading
    axis, batch and sequence alike. A rank-2 array is its own rows."""
    return a if a.ndim == 2 else xp.reshape(a, (-1, a.shape[-1]))


def linear(weight: str, bias: str | None) -> Layer:
    """y = x @ W (+ b), with W laid out (in, out) as in the homework; x of rank 2 or 3."""

    def forward(xp, params, x, data):
        y = x @ params[weight]
        if bias is not None:
            y = y + params[bias]
        # The batch's own input needs no gradient: that saves the backward its largest matmul
        # when this is the first layer.
        return y, (x, x is not data.get("x"))

    def backward(xp, params, saved, dy):
        x, input_needs_grad = saved
        rows = rows_of(xp, dy)
        grads = {weight: rows_of(xp, x).T @ rows}
        if bias is not None:
            grads[bias] = xp.sum(rows, axis=0)
        return (dy @ params[weight].T if input_needs_grad else None), grads

    names = (weight,) if bias is None else (weight, bias)
    return Layer("Linear", names, forward, backward)


def relu() -> Layer:
    """max(x, 0) with gradient 0 at x = 0 (see composites.relu). The backward's mask y > 0
    is x > 0 for every x, NaN included (y is NaN there, and NaN > 0 is false)."""

    def forward(xp, params, x, data):
        y = composites.relu(xp, x)
        return y, y

    def backward(xp, params, y, dy):
        dx = xp.astype(y > 0, dy.dtype)
        dx *= dy
        return dx, {}

    return Layer("ReLU", (), forward, backward)


def sigmoid() -> Layer:
    def forward(xp, params, x, data):
        y = composites.sigmoid(xp, x)
        return y, y

    def backward(xp, params, y, dy):
        dx = 1.0 - y
        dx *= y
        dx *= dy
        return dx, {}

    return Layer("Sigmoid", (), forward, backward)


def dropout(p: float, mask_name: str) -> Layer:
    """Inverted dropout whose keep-mask (1 keep, 0 drop) arrives as data, never drawn here."""
    scale = 1.0 / (1.0 - p)

    def forward(xp, params, x, data):
        kept = data[mask_name] * scale
        return x * kept, kept

    def backward(xp, params, kept, dy):
        return dy * kept, {}

    return Layer("Dropout", (), forward, backward, mask_name, p)


def softmax() -> Layer:
    """Softmax over the last axis, max-subtracted so that large logits do not overflow."""

    def forward(xp, params, z, data):
        p = composites.softmax(xp, z)
        return p, p

    def backward(xp, params, p, dp):
        dz = dp - xp.sum(dp * p, axis=-1, keepdims=True)
        dz *= p
        return dz, {}

    return Layer("Softmax", (), forward, backward)


def log_softmax() -> Layer:
    """Log-softmax over the last axis (see composites.log_softmax); the backward needs only
    its output: dz = dy - softmax * sum(dy), softmax = exp(y)."""

    def forward(xp, params, z, data):
        y = composites.log_softmax(xp, z)
        return y, y

    def backward(xp, params, y, dy):
        dz = xp.exp(y)
        dz *= xp.sum(dy, axis=-1, keepdims=True)
        return dy - dz, {}

    return Layer("LogSoftmax", (), forward, backward)


def tanh() -> Layer:
    def forward(xp, params, x, data):
        y = xp.tanh(x)
        return y, y

    def backward(xp, params, y, dy):
        dx = 1.0 - y * y
        dx *= dy
        return dx, {}

    return Layer("Tanh", (), forward, backward)


def gelu() -> Layer:
    """GELU, tanh approximation (see composites.gelu): with t = tanh(u), u = c (x + a x^3),
    d/dx 0.5 x (1 + t) = 0.5 (1 + t) + 0.5 x (1 - t^2) c (1 + 3 a x^2). The backward
    recomputes t from x, since a native forward returns only the output."""
    c, a = composites.GELU_SCALE, composites.GELU_CUBIC

    def forward(xp, params, x, data):
        return composites.gelu(xp, x), x

    def backward(xp, params, x, dy):
        square = x * x
        t = xp.tanh(c * (x + a * (square * x)))
        dx = 1.0 - t * t
        dx *= c * (1.0 + 3.0 * a * square)
        dx *= 0.5 * x
        dx += 0.5 * (1.0 + t)
        dx *= dy
        return dx, {}

    return Layer("GELU", (), forward, backward)


def layer_norm(gamma: str, beta: str, eps: float) -> Layer:
    """y = xhat * gamma + beta, xhat = (x - mean) / sqrt(var + eps) over the last axis,
    variance biased (see composites.layer_norm). The backward recomputes xhat from x:
    dx = (g - mean(g) - xhat * mean(g * xhat)) / sqrt(var + eps), g = dy * gamma."""

    def forward(xp, params, x, data):
        return composites.layer_norm(xp, x, params[gamma], params[beta], eps), x

    def backward(xp, params, x, dy):
        centred = x - xp.mean(x, axis=-1, keepdims=True)
        scale = 1.0 / xp.sqrt(xp.mean(centred * centred, axis=-1, keepdims=True) + eps)
        xhat = centred * scale
        rows = rows_of(xp, dy)
        grads = {gamma: xp.sum(rows * rows_of(xp, xhat), axis=0), beta: xp.sum(rows, axis=0)}
        g = dy * params[gamma]
        dx = g - xp.mean(g, axis=-1, keepdims=True)
        dx -= xhat * xp.mean(g * xhat, axis=-1, keepdims=True)
        dx *= scale
        return dx, grads

    return Layer("LayerNorm", (gamma, beta), forward, backward)


def residual(span: int) -> Layer:
    """x + f(x), f the `span` layers before this one in the network's flat list. The network
    runs f between the fork (where it keeps x) and this join, which gets (x, f(x)); the
    backward hands dy to both paths, and the network adds the two at the fork."""

    def forward(xp, params, pair, data):
        skip, branch = pair
        return skip + branch, None

    def backward(xp, params, saved, dy):
        return (dy, dy), {}

    return Layer("Residual", (), forward, backward, span=span)
