"""The step hand-written in PyTorch with autograd.

`step` is what a torch user writes: `torch.relu` and `F.cross_entropy` on the logits (with
probability targets, the one-hot `y` every variant gets), which fuses log-softmax and the
loss. It leaves out the seeds' eps (see `problem.IDIOMATIC_EPS`). `step_same_maths` is the
fastest torch for exactly the harness's maths (the seeds' -sum(y * log(p + eps)), the exact
gradient by autograd): the harness's ratio to it is its glue alone, and its ratio to `step`
the price of the seeds' loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .problem import EPS


def loss(w1, w2, x, y):
    return F.cross_entropy(torch.relu(x @ w1) @ w2, y)


def loss_same_maths(w1, w2, x, y):
    """The seeds' loss: torch's fused kernels for ReLU and softmax, eps inside the log, one
    scale (-1 / B) at the end: the fewest autograd nodes for this maths."""
    p = torch.softmax(torch.relu(x @ w1) @ w2, dim=-1)
    return torch.sum(y * torch.log(p + EPS)) * (-1.0 / x.shape[0])


def step(w1, w2, x, y):
    """Loss and (dL/dw1, dL/dw2); w1 and w2 are leaves that require grad."""
    value = loss(w1, w2, x, y)
    return value.detach(), torch.autograd.grad(value, (w1, w2))


def step_same_maths(w1, w2, x, y):
    value = loss_same_maths(w1, w2, x, y)
    return value.detach(), torch.autograd.grad(value, (w1, w2))


def train(w1, w2, x, y, lr: float, epochs: int):
    """Plain SGD with in-place updates of the leaves, as a torch user writes it."""
    w1 = w1.detach().clone().requires_grad_(True)
    w2 = w2.detach().clone().requires_grad_(True)
    for _ in range(epochs):
        _, (g1, g2) = step(w1, w2, x, y)
        with torch.no_grad():
            w1.sub_(lr * g1)
            w2.sub_(lr * g2)
    return w1.detach(), w2.detach()
