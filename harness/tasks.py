"""Run one case run on one backend: convert in, step (and train), convert out.

Dropout masks are drawn here, never by a backend: `numpy.random.default_rng(seed)`, then for
each step in order and each dropout layer in order, `keep = rng.random(shape) >= p`, `shape`
that of the layer's input ((batch, width), or (batch, sequence, width)).
Every backend gets the same masks as data, so every backend must follow the same path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from harness import optimizers
from harness.cases import Case, Run
from harness.network import Network
from harness.protocol import INDEX_DTYPE, StepFn


@dataclass
class Outcome:
    """Named tensors a run computed, as NumPy arrays, plus anything wrong with their form."""

    tensors: dict[str, np.ndarray]
    problems: list[str] = field(default_factory=list)


class BadStepResult(ValueError):
    """A step returned a tensor of the wrong shape or dtype, or none; the message names it."""


def batches(network: Network, run: Run) -> Iterator[dict[str, np.ndarray]]:
    """Every step's batch, in order: x, y and the dropout keep-masks, all as NumPy."""
    task = run.task
    rows = run.x.shape[0]
    # only training walks the data in minibatches; forward and gradient see every row at once
    size = (task.batch_size if task.kind == "train" else None) or rows
    rng = np.random.default_rng(task.dropout_seed)
    epochs = task.epochs if task.kind == "train" else 1
    for _ in range(epochs):
        for start in range(0, rows, size):
            batch = {"x": run.x[start : start + size], "y": run.y[start : start + size]}
            for name, shape, rate in network.masks(batch["x"].shape):
                keep = rng.random(shape) >= rate
                batch[name] = keep.astype(np.float64)
            yield batch


def data_dtype(value: np.ndarray, dtype: str) -> str:
    """The dtype a batch array is handed to `from_numpy` in: INDEX_DTYPE for integer data
    (token ids), else the cell's float dtype."""
    return INDEX_DTYPE if value.dtype.kind in "iu" else dtype


def execute(backend, case: Case, run: Run, dtype: str, step: StepFn, guard: bool = True) -> Outcome:
    """Compute every tensor the run's task names, inside the backend's numerics scope.

    The backend receives fresh, read-only copies of the case's arrays; a run's x and y are
    converted once, not at every step. With `guard`, every step is checked afterwards for
    having changed the params it was handed, and the run's x and y are checked at its end (a
    `BadStepResult` naming the tensor).
    """
    with backend.numerics(dtype):
        convert = _Converter(backend, dtype)
        state = {name: convert(value) for name, value in case.params.items()}
        losses, last, memory = [], None, None
        for index, batch in enumerate(batches(case.network, run)):
            inputs = {k: convert(v, k if k in ("x", "y") else "") for k, v in batch.items()}
            before = _snapshot(backend, state) if guard else {}
            last = step(state, inputs)
            _check_step(last, state, index, backend, dtype)
            if guard:
                _check_unchanged(backend, state, before, f"step {index + 1}")
            if run.task.kind == "train":
                losses.append(last.loss)
                state, memory = optimizers.step(backend, run.task.rule, state, last.grads, memory)
        if guard:
            _check_unchanged(backend, *convert.kept(), "by the end of the run")
        return _collect(backend, run, last, state, losses, dtype)


class _Converter:
    """NumPy to backend arrays; the slices of a run's x and y are converted once per run."""

    def __init__(self, backend, dtype: str) -> None:
        self.backend, self.dtype = backend, dtype
        self._kept: dict[tuple, tuple[str, object, np.ndarray]] = {}

    def __call__(self, value: np.ndarray, keep: str = ""):
        """`keep` names a slice of x or y to convert once and check at the end of the run."""
        if not keep:
            return self.backend.from_numpy(fresh(value), data_dtype(value, self.dtype))
        # x and y batches are views of the run's arrays, alive for the whole run
        key = (value.__array_interface__["data"][0], value.shape, value.strides)
        if key not in self._kept:
            converted = self.backend.from_numpy(fresh(value), data_dtype(value, self.dtype))
            held = np.array(self.backend.to_numpy(converted), copy=True)
            slices = sum(name.startswith(keep) for name, _, _ in self._kept.values())
            name = f"{keep} (batch {slices + 1})" if slices else keep
            self._kept[key] = name, converted, held
        return self._kept[key][1]

    def kept(self) -> tuple[dict[str, object], dict[str, np.ndarray]]:
        """The converted x and y slices by name, and what each held when converted."""
        converted = {name: value for name, value, _ in self._kept.values()}
        return converted, {name: held for name, _, held in self._kept.values()}


def fresh(value: np.ndarray) -> np.ndarray:
    """A read-only copy: a backend that keeps it without copying cannot write through it."""
    copy = np.array(value, copy=True)
    copy.flags.writeable = False
    return copy


def _snapshot(backend, arrays: dict) -> dict[str, np.ndarray]:
    return {name: np.array(backend.to_numpy(value), copy=True) for name, value in arrays.items()}


def _check_unchanged(backend, arrays: dict, before: dict[str, np.ndarray], when: str) -> None:
    """A step must not write to its inputs: the harness trains and judges with them."""
    for name, value in arrays.items():
        now = np.asarray(backend.to_numpy(value))
        if now.shape != before[name].shape or now.tobytes() != before[name].tobytes():
            what = "batch input" if name[0] in "xy" else "param"
            raise BadStepResult(f"{when}: the step changed its {what} {name} in place")


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
    return Outcome(tensors, problems)


def _check_step(result, params, index: int, backend, dtype: str) -> None:
    """Each parameter's gradient has its shape, before the update mixes them up; on the
    first step every tensor has the cell's dtype (later steps would hide it by promotion)."""
    if missing := sorted(set(params) - set(result.grads)):
        raise BadStepResult(f"step {index + 1}: no gradient for {', '.join(missing)}")
    if extra := sorted(set(result.grads) - set(params)):
        raise BadStepResult(f"step {index + 1}: gradient for unknown {', '.join(extra)}")
    for name, param in params.items():
        shape, expected = tuple(result.grads[name].shape), tuple(param.shape)
        if shape != expected:
            problem = f"has shape {shape}, expected {expected}"
            raise BadStepResult(f"step {index + 1}: grad.{name} {problem}")
    if index == 0:
        grads = {f"grad.{k}": v for k, v in result.grads.items()}
        for name, value in {"loss": result.loss, "output": result.output, **grads}.items():
            if (got := backend.to_numpy(value).dtype) != np.dtype(dtype):
                raise BadStepResult(f"step 1: {name} has dtype {got}, expected {dtype}")
