"""The step hand-written in NumPy, as a student would: no harness, no Array-API layer."""

from __future__ import annotations

import numpy as np

from .problem import EPS


def step(w1, w2, x, y):
    """Loss and (dL/dw1, dL/dw2) of Linear-ReLU-Linear-softmax-cross-entropy, batch mean."""
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
