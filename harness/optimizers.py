"""Parameter updates, written once against the Array API: SGD and Adam as pure functions.

An optimizer is data, its settings (`SGD(lr)`, `Adam(lr, beta1, beta2, eps)`), with a pure
`rule(xp, params, grads, state) -> (params, state)`; the state is a dict, empty before the
first step, that the caller carries from one step to the next. The update belongs to the
backend's side: `step` calls a backend's own `optimizer_update(optimizer, params, grads,
state)` when it has one (dask settles the new arrays there, so that no step drags the graphs
of the steps before it), and `update`, the rule on the arrays' own namespace, when not. The
float64 reference trains with the same functions on NumPy. Nothing here imports an array
library at import time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

Array = Any
State = dict[str, Any]


class SGD(NamedTuple):
    """p - lr * g: the homework's update, and the default of a task that gives only `lr`."""

    lr: float

    def rule(self, xp, params: Mapping[str, Array], grads: Mapping[str, Array], state: State):
        return {name: p - self.lr * grads[name] for name, p in params.items()}, state


class Adam(NamedTuple):
    """Adam with bias correction (Kingma and Ba, Algorithm 1), arranged as torch.optim.Adam:
    m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2 (both 0 before step 1), and at step t
    p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). eps is added to the
    corrected sqrt(v), as the paper and torch do; Keras and TF1 add it before the
    correction, which differs while v is small."""

    lr: float
    beta1: float
    beta2: float
    eps: float

    def rule(self, xp, params: Mapping[str, Array], grads: Mapping[str, Array], state: State):
        t = state.get("step", 0) + 1
        first, second = state.get("m"), state.get("v")
        m, v, new = {}, {}, {}
        for name, g in grads.items():
            m[name] = (1.0 - self.beta1) * g
            v[name] = (1.0 - self.beta2) * (g * g)
            if first is not None:  # step 1 starts from m = v = 0, which adds nothing
                m[name] = self.beta1 * first[name] + m[name]
                v[name] = self.beta2 * second[name] + v[name]
        size = self.lr / (1.0 - self.beta1**t)
        root = math.sqrt(1.0 - self.beta2**t)
        for name, p in params.items():
            new[name] = p - size * m[name] / (xp.sqrt(v[name]) / root + self.eps)
        return new, {"step": t, "m": m, "v": v}


Optimizer = SGD | Adam


def update(optimizer: Optimizer, params, grads, state: State | None = None):
    """The optimizer's rule on the arrays' own Array-API namespace: the default update."""
    from array_api_compat import array_namespace

    xp = array_namespace(*grads.values())  # every network has a parameter
    return optimizer.rule(xp, params, grads, {} if state is None else state)


def step(backend, optimizer: Optimizer, params, grads, state: State | None = None):
    """One update of a backend's arrays, (params, state): the backend's own
    `optimizer_update` if it has one, else `update`. `state` None: the first step."""
    state = {} if state is None else state
    own = getattr(backend, "optimizer_update", None)
    if own is not None:
        return own(optimizer, params, grads, state)
    return update(optimizer, params, grads, state)


def arrays(state: State) -> dict[str, Array]:
    """Every array an optimizer state holds, by `m.w1`-style name (for a lazy backend to
    settle)."""
    return {
        f"{key}.{name}": array
        for key, value in state.items()
        if isinstance(value, Mapping)
        for name, array in value.items()
    }
