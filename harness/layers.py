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


def linear(weight: str, bias: str | None) -> Layer:
    """y = x @ W (+ b), with W laid out (in, out) as in the homework."""

    def forward(xp, params, x, data):
        y = x @ params[weight]
        if bias is not None:
            y = y + params[bias]
        # The batch's own input needs no gradient: that saves the backward its largest matmul
        # when this is the first layer.
        return y, (x, x is not data.get("x"))

    def backward(xp, params, saved, dy):
        x, input_needs_grad = saved
        grads = {weight: x.T @ dy}
        if bias is not None:
            grads[bias] = xp.sum(dy, axis=0)
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
