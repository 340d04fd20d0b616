"""Where a failing backend first parts from the reference, named tensor by named tensor.

The failing run is made again with `trace=True` on the backend and on the float64 reference,
and the two traces are compared in the order the network computes them: each layer's output,
the loss, then the gradients flowing backwards (see `Network.trace`). The first tensor beyond
the cell's tolerance is the report, with the code that produced it (`layer 3 (Sigmoid)
backward`) and a small excerpt of both values.

Train tasks are replayed step by step, both sides starting every step from the reference's
parameters with the same batch (and dropout masks). The first step whose trace diverges is
diagnosed; drift from earlier steps can neither hide nor fake a divergence. A backend that
keeps state between steps (a gradient buffer never zeroed) still shows it, because its step
is called in order. If the traced step never diverges, the fast step (`trace=False`, the one
the harness trains with) is replayed the same way: a fault only there is named as such. If
neither diverges, the difference only builds up over many steps.

A float64 cell that agrees with the reference to float32 level at every tensor is said to
compute below the dtype it returns, whatever its first divergence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from harness import optimizers
from harness.case_text import printable
from harness.cases import Case, Run
from harness.channel import BackendError, Channel, local
from harness.compare import Comparison, compare
from harness.excerpt import excerpt
from harness.manual import REFERENCE
from harness.tasks import batches
from harness.tolerance import DEFAULT, Tolerance

__all__ = ["Diagnosis", "Divergence", "diagnose", "excerpt", "first_divergence", "producer"]


@dataclass(frozen=True)
class Divergence:
    """The first traced tensor of a run that is beyond tolerance, at one step."""

    run: str
    step: int
    """0-based index of the step within the run."""
    steps: int
    comparison: Comparison
    backend_value: np.ndarray | None
    reference_value: np.ndarray | None
    traced: bool = True
    """False when the backend gave no trace, so only its results could be compared."""
    producer: str = ""
    """The code that computed the tensor: `layer 3 (Sigmoid) backward`, `loss (...) forward`."""
    fast: bool = False
    """True when only the fast step (`trace=False`) diverges; the traced step agrees."""

    @property
    def tensor(self) -> str:
        return self.comparison.name

    def headline(self) -> str:
        """`layer 2 (ReLU) output: max abs err 1.3e+00; produced by layer 2 (ReLU) forward`."""
        c = self.comparison
        made = f"; produced by {self.producer}" if self.producer else ""
        return f"{c.name}: {c.problem or f'max abs err {c.max_abs:.1e}'}{made}"

    def where(self) -> str:
        path = ", fast (untraced) step only" if self.fast else ""
        return f"run {self.run}, step {self.step + 1} of {self.steps}{path}"

    def describe(self) -> str:
        """The headline, then the worst element's neighbourhood on both sides."""
        lines = [f"first divergence: {self.where()}: {self.headline()}"]
        lines += excerpt(self.backend_value, self.reference_value)
        if self.fast:
            lines.append(_FAST_ONLY)
        elif not self.traced:
            lines.append(_UNTRACED)
        return "\n".join(lines)

    def as_record(self) -> dict:
        c = self.comparison
        return {
            "run": self.run,
            "step": self.step + 1,
            "steps": self.steps,
            "tensor": c.name,
            "produced_by": self.producer,
            "max_abs": c.max_abs if np.isfinite(c.max_abs) else None,
            "max_rel": c.max_rel if np.isfinite(c.max_rel) else None,
            "problem": c.problem,
            "traced": self.traced,
            "fast_step_only": self.fast,
            "excerpt": excerpt(self.backend_value, self.reference_value),
        }


_UNTRACED = (
    "  (the backend returned no trace for trace=True: only its output, loss and gradients "
    "were compared, so an earlier intermediate may be the real first divergence)"
)
_FAST_ONLY = (
    "  (the traced step, trace=True, agrees with the reference at every tensor of every step; "
    "the fast step, trace=False, which the harness trains with, does not: the fault is in "
    "code that only the fast path runs)"
)


@dataclass(frozen=True)
class Diagnosis:
    """A divergence, or a note on why none was found; `precision` flags a float64 cell
    that computes in a lower precision."""

    divergence: Divergence | None
    note: str = ""
    precision: str = ""

    def summary(self) -> str:
        """One line for the table: where the backend first parts, or the note."""
        found = self.note
        if self.divergence is not None:
            found = f"first divergence: {self.divergence.where()}: {self.divergence.headline()}"
        return "; ".join(part for part in (self.precision, found) if part)

    def describe(self) -> str:
        found = self.divergence.describe() if self.divergence else self.note
        return "\n".join(part for part in (self.precision, found) if part)

    def as_record(self) -> dict:
        record = self.divergence.as_record() if self.divergence else {}
        return {**record, "precision": self.precision, "summary": self.summary()}


def diagnose(case: Case, backend, dtype: str) -> Diagnosis:
    """Replay each run traced, then fast; report the first divergence found. `backend` is a
    Channel (the backend's worker) or a backend object (run in this process)."""
    channel = backend if isinstance(backend, Channel) else local(backend)
    try:
        precision = below_dtype(case, channel) if dtype == "float64" else ""
        for trace in (True, False):
            for run in case.runs:
                if found := first_divergence(case, run, channel, dtype, trace=trace):
                    return Diagnosis(found, precision=precision)
    except Exception as exc:  # the diagnosis must never turn a fail into a crash
        return Diagnosis(None, f"diagnosis failed: {_one_line(exc)}")
    many_steps = any(_step_count(case.network, run) > 1 for run in case.runs)
    return Diagnosis(None, _NO_DIVERGENCE if many_steps else _NOT_REPRODUCED, precision)


def _one_line(exc: Exception) -> str:
    line = (str(exc).strip().splitlines() or [""])[0]
    kind = type(exc).__name__
    return printable(line if isinstance(exc, BackendError) else f"{kind}: {line}")


_NO_DIVERGENCE = (
    "no tensor diverges when each step is replayed from the reference's parameters, "
    "traced or fast: the difference builds up over steps"
)
_NOT_REPRODUCED = (
    "no tensor diverges when the run is replayed, traced or fast: the failure did not "
    "reproduce (the backend keeps state between calls, or is not deterministic)"
)


def first_divergence(
    case: Case,
    run: Run,
    backend,
    dtype: str,
    *,
    trace: bool = True,
    tolerance: Tolerance | None = None,
) -> Divergence | None:
    """The first step of `run`, and its first tensor, beyond the cell's tolerance (or
    `tolerance`); `trace=False` replays the fast step and compares what it returns.

    Every step starts from the reference's parameters at that step, with the same batch: the
    reference runs here, the backend in its worker (one call for all the run's steps)."""
    channel = backend if isinstance(backend, Channel) else local(backend)
    network = case.network
    tolerance = tolerance or case.tolerance_for(dtype)
    reference_step = REFERENCE.make_step(network, "float64", trace=True)
    params, items, expected, memory = dict(case.params), [], [], None
    for batch in batches(network, run):
        expected.append(reference_step(params, batch))
        items.append((params, batch))
        if run.task.kind == "train":
            params, memory = optimizers.update(run.task.rule, params, expected[-1].grads, memory)
    got = channel.steps(case, dtype, trace, items)
    for index, (reference, result) in enumerate(zip(expected, got, strict=True)):
        if found := _first_beyond(reference, result, case, run, tolerance):
            return Divergence(
                run.name,
                index,
                len(items),
                *found,
                traced=bool(result["trace"]),
                producer=producer(network, found[0].name),
                fast=not trace,
            )
    return None


_LAYER_TENSOR = re.compile(r"layer (\d+) \(\w+\) (output|branch)( grad)?")


def producer(network, tensor: str) -> str:
    """The forward or backward that computes a traced tensor: a layer's output comes from
    its forward; the gradient flowing into a layer's output (or a residual's branch), from
    the backward of what consumed it (`Network.gradient_source`: the next layer, a residual
    whose own layers start there, or the loss); a parameter's gradient, from its own
    layer's backward."""
    loss = f"loss ({network.loss.kind})"
    if tensor == "loss":
        return f"{loss} forward"
    if tensor.startswith("grad."):
        name = tensor.removeprefix("grad.")
        owners = [i for i, layer in enumerate(network.layers) if name in layer.param_names]
        return f"{network.label(owners[0])} backward" if owners else ""
    if not (match := _LAYER_TENSOR.fullmatch(tensor)):
        return ""
    index = int(match.group(1))
    if not match.group(3):
        return f"{network.label(index)} forward"
    source = network.gradient_source(index, branch=match.group(2) == "branch")
    return f"{loss} backward" if source is None else f"{network.label(source)} backward"


def below_dtype(case: Case, backend) -> str:
    """A float64 cell whose every tensor agrees with the reference to float32 level, and
    not to float64 level, computes in float32 (or lower) somewhere: say so, in one line."""
    channel = backend if isinstance(backend, Channel) else local(backend)
    loose, tight = case.tolerance_for("float32"), case.tolerance_for("float64")
    worst, beyond_float64, all_float32 = 0.0, False, True
    reference_step = REFERENCE.make_step(case.network, "float64", trace=True)
    for run in case.runs:
        batch = next(iter(batches(case.network, run)))
        expected = reference_step(case.params, batch)
        (got,) = channel.steps(case, "float64", True, [(case.params, batch)])
        actual = _named_results(got, case.network)
        for name in _compared_names(expected.trace, run.task.kind):
            if name not in actual:
                continue
            if not compare(name, "reference", actual[name], expected.trace[name], loose).ok:
                return ""
            close = compare(name, "reference", actual[name], expected.trace[name], tight)
            beyond_float64 |= not close.ok
            worst = max(worst, close.max_abs)
            all_float32 &= _float32_numbers(actual[name])
    if not beyond_float64:
        return ""
    numbers = "; every value it returns is a float32 number" if all_float32 else ""
    return (
        f"computes below the dtype it returns: every tensor agrees with the reference only "
        f"to float32 level (max abs err {worst:.1e}; float64 allows "
        f"{DEFAULT['float64'].rtol:.0e} relative){numbers}"
    )


def _float32_numbers(value) -> bool:
    value = np.asarray(value, dtype=np.float64)
    return bool(np.array_equal(value.astype(np.float32).astype(np.float64), value))


def _first_beyond(expected, got: dict, case: Case, run: Run, tolerance):
    """(comparison, backend value, reference value) of the first tensor beyond tolerance."""
    actual = _named_results(got, case.network)
    for name in _compared_names(expected.trace, run.task.kind):
        if name not in actual and not got["trace"]:
            continue  # a backend without a trace: only what it returned is compared
        comparison = _compare(name, actual.get(name), expected.trace[name], tolerance)
        if not comparison.ok:
            return comparison, actual.get(name), expected.trace[name]
    return None


def _named_results(got: dict, network) -> dict[str, np.ndarray]:
    """The backend's trace, overridden by what it returned (output, loss, gradients):
    the harness trains and judges with those, whatever the trace says."""
    named = dict(got["trace"])
    named[f"{network.label(len(network.layers) - 1)} output"] = got["output"]
    named["loss"] = got["loss"]
    named.update({f"grad.{k}": v for k, v in got["grads"].items()})
    return named


def _compared_names(trace: dict, kind: str) -> list[str]:
    """Every traced name in order; a forward task stops before the loss (it has no target)."""
    names = list(trace)
    return names[: names.index("loss")] if kind == "forward" else names


def _compare(name: str, actual, expected, tolerance) -> Comparison:
    if actual is None:
        nan = float("nan")
        return Comparison(name, "reference", False, nan, nan, "missing from the backend's trace")
    return compare(name, "reference", actual, expected, tolerance)


def _step_count(network, run: Run) -> int:
    return sum(1 for _ in batches(network, run))
