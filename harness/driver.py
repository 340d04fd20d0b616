"""The one step driver: convert in, step, convert out, for every backend call of every path.

`harness run`, `harness show`, the gradient check, the first-divergence diagnosis, the pytest
matrix, the conformance suite, `harness fuzz` and Dask all step a backend through these two
functions, in the backend's worker:
- `run_case` runs every run of a case as its task says (forward, gradient, or training with
  the update on the backend's arrays), and returns the tensors the task names;
- `run_steps` runs one step per (params, batch) it is handed, fresh each time, and returns
  everything the step gave: loss, output, gradients and, when traced, the named trace.

What goes in is a fresh, read-only NumPy copy of the case's arrays, converted once (a run's x
and y once per run). What comes out is a base `numpy.ndarray` of a numeric dtype, copied: a
`to_numpy` that returns anything else is the backend's error, named with the tensor. A step
that writes into what it was handed fails, naming the tensor: checked on the first step of a
run (the params the harness converted; later steps get params the update made) and at the end
of the run (x and y), and on every replayed step of `run_steps`: one host copy after the step,
compared with the NumPy value the tensor was converted from. For a lazy library each host copy
is a compute, so none is taken before. Nothing here judges a result: that is the coordinator's
work.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from harness import optimizers
from harness.tasks import batches, data_dtype


class BadStepResult(ValueError):
    """A step returned a tensor of the wrong shape or dtype, or none; the message names it."""


class InRun(Exception):
    """What went wrong in one run of a case: the run's name and the error itself."""

    def __init__(self, run: str, error: Exception) -> None:
        super().__init__(run, error)
        self.run, self.error = run, error


class PluginError(TypeError):
    """A plugin call returned the wrong type: the message names the call and what was expected."""


def numerics(backend, dtype: str):
    """The backend's numerics scope for `dtype`, checked to be a context manager."""
    scope = backend.numerics(dtype)
    if not (hasattr(scope, "__enter__") and hasattr(scope, "__exit__")):
        kind = type(scope).__name__
        raise PluginError(f"numerics({dtype!r}) returned {kind}, expected a context manager")
    return scope


def run_case(backend, case, dtype: str) -> dict[str, dict[str, np.ndarray]]:
    """{run name: {tensor name: array}} for every run of the case."""
    results = {}
    with numerics(backend, dtype):
        step = backend.make_step(case.network, dtype)
        for run in case.runs:
            try:
                results[run.name] = _run(backend, case, run, dtype, step)
            except MemoryError:
                raise  # the worker's crash, not this run's error
            except Exception as exc:  # which run it was is the coordinator's to say
                raise InRun(run.name, exc) from exc
    return results


def execute(backend, case, run, dtype: str, step) -> dict[str, np.ndarray]:
    """One run with a step already made (benchmarks and tests time or count this path)."""
    with numerics(backend, dtype):
        return _run(backend, case, run, dtype, step)


def _run(backend, case, run, dtype: str, step) -> dict[str, np.ndarray]:
    convert = _Converter(backend, dtype)
    state = {name: convert(value) for name, value in case.params.items()}
    handed = convert.handed(state)
    losses, last, memory = [], None, None
    for index, batch in enumerate(batches(case.network, run)):
        inputs = {k: convert(v, k if k in ("x", "y") else "") for k, v in batch.items()}
        last = _checked(step(state, inputs), state, index, backend, dtype)
        if index == 0:
            _check_unchanged(backend, handed, "step 1", "param")
        if run.task.kind == "train":
            losses.append(last.loss)
            state, memory = optimizers.step(backend, run.task.rule, state, last.grads, memory)
    _check_unchanged(backend, convert.kept(), "by the end of the run", "batch input")
    if run.task.kind == "train":
        tensors = {"step_losses": np.array([host(backend, v, "step loss") for v in losses])}
        tensors.update({f"final.{k}": host(backend, v, f"final.{k}") for k, v in state.items()})
        return tensors
    tensors = {"output": host(backend, last.output, "output")}
    if run.task.kind == "gradient":
        tensors["loss"] = host(backend, last.loss, "loss")
        tensors.update({f"grad.{k}": host(backend, v, f"grad.{k}") for k, v in last.grads.items()})
    return tensors


def run_steps(backend, network, dtype: str, trace: bool, items) -> list[dict]:
    """One fresh step per (params, batch), in order, from one `make_step`: what each gave."""
    results = []
    with numerics(backend, dtype):
        step = backend.make_step(network, dtype, trace=trace)
        for index, (params, batch) in enumerate(items):
            convert = _Converter(backend, dtype)
            handed = {name: convert(value) for name, value in params.items()}
            inputs = {name: convert(value) for name, value in batch.items()}
            result = _checked(step(handed, inputs), handed, 0, backend, dtype, dtypes=False)
            when = f"step {index + 1}"
            _check_unchanged(backend, convert.handed(handed), when, "param")
            _check_unchanged(backend, convert.handed(inputs), when, "batch input")
            results.append(_plain(backend, result))
    return results


def _plain(backend, result) -> dict:
    traced = result.trace if isinstance(result.trace, Mapping) else None
    if traced is None:
        raise BadStepResult(f"trace is a {type(result.trace).__name__}, expected a dict")
    return {
        "loss": host(backend, result.loss, "loss"),
        "output": host(backend, result.output, "output"),
        "grads": {k: host(backend, v, f"grad.{k}") for k, v in result.grads.items()},
        "trace": {str(k): host(backend, v, str(k)) for k, v in traced.items()},
    }


def host(backend, value, what: str) -> np.ndarray:
    """`to_numpy(value)` as a base ndarray of a numeric dtype, copied; else the backend's error."""
    result = backend.to_numpy(value)
    if not isinstance(result, np.ndarray | np.generic):
        kind = f"{type(result).__module__}.{type(result).__qualname__}"
        raise PluginError(f"to_numpy({what}) returned {kind}, expected numpy.ndarray")
    array = np.array(result, copy=True, subok=False)
    if array.dtype.kind not in "biufc":
        raise PluginError(f"to_numpy({what}) returned an array of dtype {array.dtype}")
    return array


class _Handed(NamedTuple):
    """A tensor handed to a step, the read-only NumPy copy it was made from, and its dtype."""

    converted: object
    source: np.ndarray
    dtype: str


class _Converter:
    """NumPy to backend arrays, each remembered with its source; the slices of a run's x and
    y are converted once per run."""

    def __init__(self, backend, dtype: str) -> None:
        self.backend, self.dtype = backend, dtype
        self._sources: dict[int, _Handed] = {}
        self._kept: dict[tuple, tuple[str, object]] = {}

    def __call__(self, value: np.ndarray, keep: str = ""):
        """`keep` names a slice of x or y to convert once and check at the end of the run."""
        if not keep:
            return self._convert(value)
        # x and y batches are views of the run's arrays, alive for the whole run
        key = (value.__array_interface__["data"][0], value.shape, value.strides)
        if key not in self._kept:
            slices = sum(name.startswith(keep) for name, _ in self._kept.values())
            name = f"{keep} (batch {slices + 1})" if slices else keep
            self._kept[key] = name, self._convert(value)
        return self._kept[key][1]

    def _convert(self, value: np.ndarray):
        source, dtype = fresh(value), data_dtype(value, self.dtype)
        converted = self.backend.from_numpy(source, dtype)
        self._sources[id(converted)] = _Handed(converted, source, dtype)
        return converted

    def handed(self, arrays: Mapping[str, object]) -> dict[str, _Handed]:
        """Tensors this converter made, by name, each with its source."""
        return {name: self._sources[id(value)] for name, value in arrays.items()}

    def kept(self) -> dict[str, _Handed]:
        """The converted x and y slices by name, each with its source."""
        return {name: self._sources[id(value)] for name, value in self._kept.values()}


def fresh(value: np.ndarray) -> np.ndarray:
    """A read-only copy: a backend that keeps it without copying cannot write through it."""
    copy = np.array(value, copy=True)
    copy.flags.writeable = False
    return copy


def _check_unchanged(backend, handed: Mapping[str, _Handed], when: str, what: str) -> None:
    """A step must not write to its inputs: the harness trains and judges with them. One host
    copy of each, compared with its source in the dtype asked for; where the backend's own
    conversion differs from NumPy's cast, the source is converted again to tell the two apart."""
    for name, tensor in handed.items():
        now = host(backend, tensor.converted, name)
        if _same(now, tensor.source.astype(tensor.dtype, copy=False)):
            continue
        again = host(backend, backend.from_numpy(tensor.source, tensor.dtype), name)
        if not _same(now, again):
            raise BadStepResult(f"{when}: the step changed its {what} {name} in place")


def _same(now: np.ndarray, before: np.ndarray) -> bool:
    """Bit for bit, in one dtype (a backend may hold int64 token ids as int32, say)."""
    if now.shape != before.shape:
        return False
    if now.dtype != before.dtype:
        before = before.astype(now.dtype)
    return now.tobytes() == before.tobytes()


def _checked(result, params: Mapping, index: int, backend, dtype: str, dtypes: bool = True):
    """Each parameter's gradient is there with its shape, before the update mixes them up; on
    the first step every tensor has the cell's dtype (later steps would hide it by promotion)."""
    for field in ("loss", "grads", "output", "trace"):
        if not hasattr(result, field):
            raise BadStepResult(f"step {index + 1}: the step returned no {field}")
    if not isinstance(result.grads, Mapping):
        raise BadStepResult(f"step {index + 1}: grads is a {type(result.grads).__name__}")
    if missing := sorted(set(params) - set(result.grads)):
        raise BadStepResult(f"step {index + 1}: no gradient for {', '.join(missing)}")
    if extra := sorted(set(result.grads) - set(params), key=str):
        raise BadStepResult(f"step {index + 1}: gradient for unknown {', '.join(map(str, extra))}")
    for name, param in params.items():
        shape, expected = tuple(result.grads[name].shape), tuple(param.shape)
        if shape != expected:
            problem = f"has shape {shape}, expected {expected}"
            raise BadStepResult(f"step {index + 1}: grad.{name} {problem}")
    if index == 0 and dtypes:
        grads = {f"grad.{k}": v for k, v in result.grads.items()}
        for name, value in {"loss": result.loss, "output": result.output, **grads}.items():
            if (got := host(backend, value, name).dtype) != np.dtype(dtype):
                raise BadStepResult(f"step 1: {name} has dtype {got}, expected {dtype}")
    return result
