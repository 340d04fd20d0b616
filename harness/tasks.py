"""Run one case run on one backend: convert in, step (and train), convert out.

Dropout masks are drawn here, never by a backend: `numpy.random.default_rng(seed)`, then for
each step in order and each dropout layer in order, `keep = rng.random((batch, width)) >= p`.
Every backend gets the same masks as data, so every backend must follow the same path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from harness.cases import Case, Run
from harness.network import Network
from harness.protocol import StepFn


@dataclass
class Outcome:
    """Named tensors a run computed, as NumPy arrays, plus anything wrong with their form."""

    tensors: dict[str, np.ndarray]
    problems: list[str] = field(default_factory=list)
    trace: dict[str, np.ndarray] = field(default_factory=dict)


def batches(network: Network, run: Run) -> Iterator[dict[str, np.ndarray]]:
    """Every step's batch, in order: x, y and the dropout keep-masks, all as NumPy."""
    task = run.task
    rows = run.x.shape[0]
    size = task.batch_size or rows
    rng = np.random.default_rng(task.dropout_seed)
    epochs = task.epochs if task.kind == "train" else 1
    for _ in range(epochs):
        for start in range(0, rows, size):
            batch = {"x": run.x[start : start + size], "y": run.y[start : start + size]}
            for name, width, rate in network.mask_layers:
                keep = rng.random((batch["x"].shape[0], width)) >= rate
                batch[name] = keep.astype(np.float64)
            yield batch


def execute(backend, case: Case, run: Run, dtype: str, step: StepFn) -> Outcome:
    """Compute every tensor the run's task names, inside the backend's numerics scope."""
    with backend.numerics(dtype):
        state = {name: backend.from_numpy(value, dtype) for name, value in case.params.items()}
        losses, last = [], None
        for batch in batches(case.network, run):
            last = step(state, {k: backend.from_numpy(v, dtype) for k, v in batch.items()})
            _check_grads(last.grads, state)
            if run.task.kind == "train":
                losses.append(last.loss)
                state = {k: p - run.task.lr * last.grads[k] for k, p in state.items()}
        return _collect(backend, run, last, state, losses, dtype)


def _collect(backend, run: Run, last, state, losses, dtype) -> Outcome:
    out = backend.to_numpy
    if run.task.kind == "train":
        tensors = {"step_losses": np.array([out(v) for v in losses])}
        tensors.update({f"final.{k}": out(v) for k, v in state.items()})
    else:
        tensors = {"output": out(last.output)}
        if run.task.kind == "gradient":
            tensors["loss"] = out(last.loss)
            tensors.update({f"grad.{k}": out(v) for k, v in last.grads.items()})
    problems = [
        f"{name}: dtype {value.dtype}, expected {dtype}"
        for name, value in tensors.items()
        if value.dtype != np.dtype(dtype)
    ]
    trace = {name: out(value) for name, value in last.trace.items()}
    return Outcome(tensors, problems, trace)


def _check_grads(grads, params) -> None:
    if missing := sorted(set(params) - set(grads)):
        raise ValueError(f"the step returned no gradient for {', '.join(missing)}")
