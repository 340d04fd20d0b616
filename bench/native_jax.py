"""The step hand-written in JAX: `jax.jit(jax.value_and_grad(loss))`, and a fused SGD loop.

`loss` is what a JAX user writes: `jax.nn.relu` and `jax.nn.log_softmax` (whose max carries
no gradient), the textbook cross-entropy without the seeds' eps (see
`problem.IDIOMATIC_EPS`). `loss_same_maths` is exactly the harness's maths, the seeds' eps
inside the log, what the harness step is measured against.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .problem import EPS


def loss(w1, w2, x, y):
    logp = jax.nn.log_softmax(jax.nn.relu(x @ w1) @ w2, axis=-1)
    return -jnp.sum(y * logp) / x.shape[0]


def loss_same_maths(w1, w2, x, y):
    """The seeds' loss, eps inside the log; positional arrays in, loss and gradients out
    (the harness's contract also returns the softmax output)."""
    p = jax.nn.softmax(jax.nn.relu(x @ w1) @ w2, axis=-1)
    return jnp.sum(y * jnp.log(p + EPS)) * (-1.0 / x.shape[0])


def compile_step():
    """A fresh `step(w1, w2, x, y) -> (loss, (dL/dw1, dL/dw2))`, compiled on its first call."""
    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))


def train_epochs(w1, w2, x, y, lr, epochs: int):
    """All epochs of SGD as one traced program: `lax.fori_loop`."""

    def epoch(_, weights):
        g1, g2 = jax.grad(loss, argnums=(0, 1))(*weights, x, y)
        return weights[0] - lr * g1, weights[1] - lr * g2

    return jax.lax.fori_loop(0, epochs, epoch, (w1, w2))


def compile_train():
    """A fresh fused loop, `jax.jit(train_epochs)`, compiled on its first call."""

    def fused(w1, w2, x, y, lr, epochs: int):  # a new function: nothing cached from before
        return train_epochs(w1, w2, x, y, lr, epochs)

    return jax.jit(fused, static_argnames="epochs")


step = compile_step()
step_same_maths = jax.jit(jax.value_and_grad(loss_same_maths, argnums=(0, 1)))
train_fused = compile_train()


def train(w1, w2, x, y, lr: float, epochs: int):
    """A Python loop over the jitted step: one dispatch per epoch."""
    for _ in range(epochs):
        _, (g1, g2) = step(w1, w2, x, y)
        w1 = w1 - lr * g1
        w2 = w2 - lr * g2
    return w1, w2
