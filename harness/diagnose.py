"""Where a failing backend first parts from the reference, named tensor by named tensor.

The failing run is made again with `trace=True` on the backend and on the float64 reference,
and the two traces are compared in the order the network computes them: each layer's output,
the loss, then the gradients flowing backwards (see `Network.trace`). The first tensor beyond
the cell's tolerance is the report, with a small excerpt of both values.

Train tasks are replayed step by step, both sides starting every step from the reference's
parameters with the same batch (and dropout masks). The first step whose trace diverges is
diagnosed; drift from earlier steps can neither hide nor fake a divergence. A backend that
keeps state between steps (a gradient buffer never zeroed) still shows it, because its step
is called in order. If no step diverges, the difference only builds up over many steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.cases import Case, Run
from harness.compare import Comparison, compare
from harness.manual import REFERENCE
from harness.tasks import batches

EXCERPT_WIDTH = 6
"""How many neighbouring values of the worst element an excerpt shows."""


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

    @property
    def tensor(self) -> str:
        return self.comparison.name

    def headline(self) -> str:
        """`layer 2 (ReLU) output: max abs err 1.3e+00`, or the problem (NaN, shape...)."""
        c = self.comparison
        return f"{c.name}: {c.problem or f'max abs err {c.max_abs:.1e}'}"

    def where(self) -> str:
        return f"run {self.run}, step {self.step + 1} of {self.steps}"

    def describe(self) -> str:
        """The headline, then the worst element's neighbourhood on both sides."""
        lines = [f"first divergence: {self.where()}: {self.headline()}"]
        lines += excerpt(self.backend_value, self.reference_value)
        if not self.traced:
            lines.append(_UNTRACED)
        return "\n".join(lines)

    def as_record(self) -> dict:
        c = self.comparison
        return {
            "run": self.run,
            "step": self.step + 1,
            "steps": self.steps,
            "tensor": c.name,
            "max_abs": c.max_abs if np.isfinite(c.max_abs) else None,
            "max_rel": c.max_rel if np.isfinite(c.max_rel) else None,
            "problem": c.problem,
            "traced": self.traced,
            "excerpt": excerpt(self.backend_value, self.reference_value),
        }


_UNTRACED = (
    "  (the backend returned no trace for trace=True: only its output, loss and gradients "
    "were compared, so an earlier intermediate may be the real first divergence)"
)


@dataclass(frozen=True)
class Diagnosis:
    """A divergence, or a note on why none was found."""

    divergence: Divergence | None
    note: str = ""

    def summary(self) -> str:
        """One line for the table: where the backend first parts, or the note."""
        if self.divergence is None:
            return self.note
        d = self.divergence
        return f"first divergence: {d.where()}: {d.headline()}"

    def describe(self) -> str:
        return self.divergence.describe() if self.divergence else self.note

    def as_record(self) -> dict:
        record = self.divergence.as_record() if self.divergence else {}
        return {**record, "summary": self.summary()}


def diagnose(case: Case, backend, dtype: str) -> Diagnosis:
    """Replay each run of the case with traces on; report the first divergence found."""
    for run in case.runs:
        try:
            found = first_divergence(case, run, backend, dtype)
        except Exception as exc:  # the diagnosis must never turn a fail into a crash
            return Diagnosis(None, f"diagnosis failed: {type(exc).__name__}: {exc}")
        if found is not None:
            return Diagnosis(found)
    return Diagnosis(None, _NO_DIVERGENCE)


_NO_DIVERGENCE = (
    "no tensor diverges when each step is replayed from the reference's parameters: "
    "the difference builds up over steps"
)


def first_divergence(case: Case, run: Run, backend, dtype: str) -> Divergence | None:
    """The first step of `run`, and its first tensor, beyond the cell's tolerance."""
    network, tolerance = case.network, case.tolerance_for(dtype)
    reference_step = REFERENCE.make_step(network, "float64", trace=True)
    params = dict(case.params)
    with backend.numerics(dtype):
        step = backend.make_step(network, dtype, trace=True)
        for index, batch in enumerate(batches(network, run)):
            expected = reference_step(params, batch)
            got = step(_to(backend, params, dtype), _to(backend, batch, dtype))
            if found := _first_beyond(expected, got, case, run, backend, tolerance):
                steps = _step_count(network, run)
                return Divergence(run.name, index, steps, *found, traced=bool(got.trace))
            if run.task.kind == "train":
                params = {k: p - run.task.lr * expected.grads[k] for k, p in params.items()}
    return None


def _first_beyond(expected, got, case: Case, run: Run, backend, tolerance):
    """(comparison, backend value, reference value) of the first tensor beyond tolerance."""
    actual = _named_results(got, case.network, backend)
    for name in _compared_names(expected.trace, run.task.kind):
        if name not in actual and not got.trace:
            continue  # a backend without a trace: only what it returned is compared
        comparison = _compare(name, actual.get(name), expected.trace[name], tolerance)
        if not comparison.ok:
            return comparison, actual.get(name), expected.trace[name]
    return None


def _named_results(got, network, backend) -> dict[str, np.ndarray]:
    """The backend's trace, overridden by what it returned (output, loss, gradients):
    the harness trains and judges with those, whatever the trace says."""
    named = dict(got.trace)
    named[f"{network.label(len(network.layers) - 1)} output"] = got.output
    named["loss"] = got.loss
    named.update({f"grad.{k}": v for k, v in got.grads.items()})
    return {k: backend.to_numpy(v) for k, v in named.items()}


def _compared_names(trace: dict, kind: str) -> list[str]:
    """Every traced name in order; a forward task stops before the loss (it has no target)."""
    names = list(trace)
    return names[: names.index("loss")] if kind == "forward" else names


def _compare(name: str, actual, expected, tolerance) -> Comparison:
    if actual is None:
        nan = float("nan")
        return Comparison(name, "reference", False, nan, nan, "missing from the backend's trace")
    return compare(name, "reference", actual, expected, tolerance)


def _to(backend, arrays: dict, dtype: str) -> dict:
    return {k: backend.from_numpy(np.asarray(v), dtype) for k, v in arrays.items()}


def _step_count(network, run: Run) -> int:
    return sum(1 for _ in batches(network, run))


def excerpt(actual, expected) -> list[str]:
    """Both sides around the worst element: the row that holds it, a few values wide."""
    if actual is None or expected is None:
        return []
    a, b = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape or a.ndim == 0:
        shown = _aligned(a.ravel()[:EXCERPT_WIDTH], b.ravel()[:EXCERPT_WIDTH])
        return [f"  backend    {shown[0]}", f"  reference  {shown[1]}"]
    at = _worst_index(a, b)
    row_a, row_b = a[at[:-1]], b[at[:-1]]
    start = max(0, min(at[-1] - EXCERPT_WIDTH // 2, row_a.size - EXCERPT_WIDTH))
    stop = min(start + EXCERPT_WIDTH, row_a.size)
    shown = _aligned(row_a[start:stop], row_b[start:stop])
    where = ", ".join([*map(str, at[:-1]), f"{start}:{stop}"])
    return [
        f"  [{where}] (worst at [{', '.join(map(str, at))}])",
        f"  backend    {shown[0]}",
        f"  reference  {shown[1]}",
    ]


def _worst_index(a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    """Index of the largest difference; a non-finite value counts as the largest."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - b)
    diff[~np.isfinite(diff)] = np.inf
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), a.shape))


def _aligned(*rows: np.ndarray) -> list[str]:
    """Each row as `[v, v, ...]` with 7 significant digits, columns aligned across rows."""
    texts = [[f"{v + 0.0:.7g}" for v in row.ravel()] for row in rows]  # + 0.0: no "-0"
    widths = [max(len(t[i]) for t in texts if i < len(t)) for i in range(max(map(len, texts)))]
    return [
        "[" + ", ".join(v.rjust(w) for v, w in zip(t, widths, strict=False)) + "]" for t in texts
    ]
