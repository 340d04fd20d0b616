"""The step hand-written in NumPy: no harness, no Array-API layer.

`step` is the fastest NumPy a user would write for this network: the textbook softmax
cross-entropy, whose gradient is `(p - y) / B`, computed from the log-sum-exp, with the
temporaries reused in place. It leaves out the seeds' eps (see `problem.IDIOMATIC_EPS`).
`step_same_maths` is the fastest NumPy for exactly the harness's maths: the seeds' loss,
-sum(y * log(p + eps)), and its exact gradient; the harness step is measured against it.
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


def step_same_maths(w1, w2, x, y):
    """The seeds' loss, -sum(y * log(p + eps)) / B, and its exact gradient, as fast as NumPy
    goes: `p + eps` taken once, every temporary after the matmuls reused in place, the ufuncs'
    `reduce` called directly (`p.max()` is a Python detour, half the call at this size). With
    q = p + eps and dp = -y / (q B), dz = p * (dp - sum(dp * p)) row by row."""
    scale = -1.0 / x.shape[0]
    h = x @ w1
    a = np.maximum(h, 0.0)
    p = a @ w2
    p -= np.maximum.reduce(p, axis=-1, keepdims=True)
    np.exp(p, out=p)
    p /= np.add.reduce(p, axis=-1, keepdims=True)
    q = p + EPS
    loss = np.vdot(y, np.log(q)) * scale
    dz = np.divide(y, q, out=q)
    dz *= scale
    dz -= np.add.reduce(dz * p, axis=-1, keepdims=True)
    dz *= p
    da = dz @ w2.T
    da *= h > 0
    return loss, x.T @ da, a.T @ dz


def train(w1, w2, x, y, lr: float, epochs: int):
    """Plain SGD, one full-batch step per epoch; returns the final weights."""
    for _ in range(epochs):
        _, g1, g2 = step(w1, w2, x, y)
        w1 = w1 - lr * g1
        w2 = w2 - lr * g2
    return w1, w2
