"""The step hand-written in NumPy: no harness, no Array-API layer.

`step` is the fastest NumPy a user would write for this network: the textbook softmax
cross-entropy, whose gradient is `(p - y) / B`, computed from the log-sum-exp, with the
temporaries reused in place. It leaves out the seeds' eps (see `problem.IDIOMATIC_LOSS`).
`step_same_ops` is the seeds' loss, -sum(y * log(p + eps)), and its exact backward written
out op by op: the operations the harness's Array-API layers spell out.
"""

from __future__ import annotations

import numpy as np

from .problem import EPS


def step(w1, w2, x, y):
    """Loss and (dL/dw1, dL/dw2) of Linear-ReLU-Linear, softmax cross-entropy, batch mean."""
    scale = 1.0 / x.shape[0]
    h = x @ w1
    a = np.maximum(h, 0.0)
    z = a @ w2
    z -= z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    total = e.sum(axis=-1, keepdims=True)
    loss = (np.log(total).sum() - np.vdot(y, z)) * scale  # each row of y sums to 1
    e /= total
    e -= y
    e *= scale
    da = e @ w2.T
    da *= h > 0
    return loss, x.T @ da, a.T @ e


def step_same_ops(w1, w2, x, y):
    """The seeds' loss with eps and its exact backward, one operation at a time."""
    scale = 1.0 / x.shape[0]
    h = x @ w1
    a = np.maximum(h, 0.0)
    z = a @ w2
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    loss = -np.sum(y * np.log(p + EPS)) * scale
    dp = -(y / (p + EPS)) * scale
    dz = p * (dp - np.sum(dp * p, axis=-1, keepdims=True))
    da = dz @ w2.T
    return loss, x.T @ (da * (h > 0)), a.T @ dz


def train(w1, w2, x, y, lr: float, epochs: int):
    """Plain SGD, one full-batch step per epoch; returns the final weights."""
    for _ in range(epochs):
        _, g1, g2 = step(w1, w2, x, y)
        w1 = w1 - lr * g1
        w2 = w2 - lr * g2
    return w1, w2
