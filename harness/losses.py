"""Losses against the Array API, each backward (the gradient for the prediction) beside it.

`reduction` is "sum" or "mean"; mean divides by the number of rows, every position of the
axes before the last: the batch size for (batch, classes), batch x sequence for (batch,
sequence, classes). The seeds disagree on this convention, which is why every case states it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from harness import composites

Array = Any
REDUCTIONS = ("sum", "mean")


class Loss(NamedTuple):
    kind: str
    forward: Callable[[Any, Array, Array], tuple[Array, Any]]
    backward: Callable[[Any, Any], Array]


def _scale(reduction: str, shape: tuple[int, ...]) -> float:
    return 1.0 / math.prod(shape[:-1]) if reduction == "mean" else 1.0


def cross_entropy(reduction: str, eps: float) -> Loss:
    """-sum(t * log(p + eps)) on softmax probabilities, as the seeds write it (eps = 1e-7);
    through `composites.cross_entropy`, which a backend may delegate."""

    def forward(xp, p, t):
        scale = _scale(reduction, p.shape)
        return composites.cross_entropy(xp, p, t, eps) * scale, (p, t, scale)

    def backward(xp, saved):
        p, t, scale = saved
        dp = t / (p + eps)
        dp *= -scale  # in place: dp is this backward's own
        return dp

    return Loss("cross_entropy", forward, backward)


def squared_error(reduction: str) -> Loss:
    """sum((pred - y)**2), seed 004's regression loss."""

    def forward(xp, pred, y):
        scale = _scale(reduction, pred.shape)
        diff = pred - y
        return xp.sum(diff * diff) * scale, (diff, scale)

    def backward(xp, saved):
        diff, scale = saved
        return diff * (2.0 * scale)

    return Loss("squared_error", forward, backward)


def nll(reduction: str) -> Loss:
    """-sum(y * logp) on log-probabilities (a log_softmax's output), y each row's target
    distribution (one-hot for a class label): the negative log-likelihood."""

    def forward(xp, logp, y):
        scale = _scale(reduction, logp.shape)
        return -xp.sum(y * logp) * scale, (y, scale)

    def backward(xp, saved):
        y, scale = saved
        return y * -scale

    return Loss("nll", forward, backward)
