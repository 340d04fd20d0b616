"""An independent float64 implementation of the harness's specs, in torch.nn.functional.

Written from the spec table in the README, not from the harness's network: each layer spec
becomes a torch function (`F.linear`, `F.layer_norm`, `F.gelu(approximate="tanh")`,
`F.embedding`, `F.scaled_dot_product_attention`, ...), gradients come from torch autograd,
training from `torch.optim.SGD` / `torch.optim.Adam`. What it shares with the harness is the
documented contract only: parameter names (each kind numbers its own layers from 1 in
reading order: `w1`, `b1`, `gamma2`, `emb1`, `wq1`), dropout masks `mask.<i>` by the index
of the layer in the order outputs are computed (a residual's own layers before it), and
"mean" dividing by every position of the axes before the last.

Used by tools/torch_goldens.py (golden values for case files) and by
tests/test_independent.py (the harness against it on drawn networks).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

Params = Mapping[str, torch.Tensor]
Layer = Callable[[Params, torch.Tensor, Mapping[str, torch.Tensor]], torch.Tensor]


class Model:
    """A network of specs: `forward(params, batch)` and `loss(output, y)` in torch."""

    def __init__(self, layers: list[dict], loss: dict, rng: np.random.Generator | None = None):
        """`rng`: where a dropout layer draws its keep-mask when the batch holds none, in
        the documented order (each step, each dropout layer in computed order)."""
        self.rng = rng
        self.counts: Counter[str] = Counter()
        self.index = 0
        self.param_shapes: dict[str, tuple[int, ...]] = {}
        self.run = self._stack(layers)
        self.loss_spec = loss

    def forward(self, params: Params, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.run(params, batch["x"], batch)

    def loss(self, output: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        spec = self.loss_spec
        rows = math.prod(output.shape[:-1])
        if spec["type"] == "nll" and _one_hot(y):
            labels = y.reshape(-1, y.shape[-1]).argmax(dim=-1)
            logp = output.reshape(-1, output.shape[-1])
            return F.nll_loss(logp, labels, reduction=spec["reduction"])
        if spec["type"] == "nll":
            total = -(y * output).sum()
        elif spec["type"] == "cross_entropy":
            total = -(y * torch.log(output + spec["eps"])).sum()
        else:
            total = ((output - y) ** 2).sum()
        return total / rows if spec["reduction"] == "mean" else total

    def _stack(self, specs: list[dict]) -> Layer:
        layers = [self._layer(spec) for spec in specs]

        def run(params, h, batch):
            for layer in layers:
                h = layer(params, h, batch)
            return h

        return run

    def _names(self, kind: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, str]:
        self.counts[kind] += 1
        names = {stem: f"{stem}{self.counts[kind]}" for stem in shapes}
        self.param_shapes.update({names[stem]: shape for stem, shape in shapes.items()})
        return names

    def _layer(self, spec: dict) -> Layer:
        kind = spec["type"]
        if kind == "residual":
            inner = self._stack(spec["layers"])
            self.index += 1
            return lambda params, h, batch: h + inner(params, h, batch)
        index, self.index = self.index, self.index + 1
        return _LEAVES[kind](self, spec, index)


def _linear(model: Model, spec: dict, index: int) -> Layer:
    shapes = {"w": (spec["in"], spec["out"])} | ({"b": (spec["out"],)} if spec.get("bias") else {})
    names = model._names("linear", shapes)
    return lambda p, h, batch: F.linear(h, p[names["w"]].T, p.get(names.get("b", "")))


def _layer_norm(model: Model, spec: dict, index: int) -> Layer:
    size = spec["size"]
    names = model._names("layer_norm", {"gamma": (size,), "beta": (size,)})
    return lambda p, h, batch: F.layer_norm(
        h, (size,), p[names["gamma"]], p[names["beta"]], spec["eps"]
    )


def _embedding(model: Model, spec: dict, index: int) -> Layer:
    names = model._names("embedding", {"emb": (spec["vocab"], spec["dim"])})
    return lambda p, ids, batch: F.embedding(ids, p[names["emb"]])


def _attention(model: Model, spec: dict, index: int) -> Layer:
    dim = spec["dim"]
    names = model._names("attention", {stem: (dim, dim) for stem in ("wq", "wk", "wv", "wo")})

    def attend(p, h, batch):
        q, k, v = (h @ p[names[stem]] for stem in ("wq", "wk", "wv"))
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=spec["causal"])
        return mixed @ p[names["wo"]]

    return attend


def _dropout(model: Model, spec: dict, index: int) -> Layer:
    def drop(p, h, batch):
        mask = batch.get(f"mask.{index}")
        if mask is None:
            mask = tensor((model.rng.random(tuple(h.shape)) >= spec["p"]).astype(np.float64))
        return h * mask / (1.0 - spec["p"])

    return drop


def _elementwise(function: Callable[[torch.Tensor], torch.Tensor]):
    return lambda model, spec, index: lambda p, h, batch: function(h)


_LEAVES = {
    "linear": _linear,
    "layer_norm": _layer_norm,
    "embedding": _embedding,
    "attention": _attention,
    "dropout": _dropout,
    "relu": _elementwise(F.relu),
    "sigmoid": _elementwise(torch.sigmoid),
    "tanh": _elementwise(torch.tanh),
    "gelu": _elementwise(lambda h: F.gelu(h, approximate="tanh")),
    "softmax": _elementwise(lambda h: F.softmax(h, dim=-1)),
    "log_softmax": _elementwise(lambda h: F.log_softmax(h, dim=-1)),
}


def _one_hot(y: torch.Tensor) -> bool:
    return bool(((y == 0) | (y == 1)).all() and (y.sum(dim=-1) == 1).all())


def tensor(value: np.ndarray) -> torch.Tensor:
    """float64, or int64 for integer data (token ids)."""
    dtype = torch.int64 if np.asarray(value).dtype.kind in "iu" else torch.float64
    return torch.tensor(np.asarray(value), dtype=dtype)


def step(model: Model, params: Mapping[str, np.ndarray], batch: Mapping[str, np.ndarray]):
    """(loss, output, grads by name) at these parameters, as float64 NumPy."""
    leaves = {k: tensor(v).requires_grad_(True) for k, v in params.items()}
    data = {k: tensor(v) for k, v in batch.items()}
    output = model.forward(leaves, data)
    loss = model.loss(output, data["y"])
    grads = torch.autograd.grad(loss, list(leaves.values()))
    named = {k: g.numpy() for k, g in zip(leaves, grads, strict=True)}
    return loss.detach().numpy(), output.detach().numpy(), named


def optimizer(spec: Mapping[str, Any] | None, lr: float, leaves: list[torch.Tensor]):
    """torch.optim's SGD (a task's bare `lr`, or `type = "sgd"`) or Adam for a task."""
    if spec is None or spec["type"] == "sgd":
        return torch.optim.SGD(leaves, lr=spec["lr"] if spec else lr)
    betas = (spec["beta1"], spec["beta2"])
    return torch.optim.Adam(leaves, lr=spec["lr"], betas=betas, eps=spec["eps"])


def train(model: Model, params, batches, **task):
    """(step losses, final parameters) after one torch.optim step per batch, in order."""
    leaves = {k: tensor(v).requires_grad_(True) for k, v in params.items()}
    update = optimizer(task.get("optimizer"), task.get("lr", 0.0), list(leaves.values()))
    losses = []
    for batch in batches:
        update.zero_grad()
        data = {k: tensor(v) for k, v in batch.items()}
        loss = model.loss(model.forward(leaves, data), data["y"])
        loss.backward()
        update.step()
        losses.append(loss.item())
    return np.array(losses), {k: v.detach().numpy() for k, v in leaves.items()}
