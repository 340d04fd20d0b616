"""Run cases x backends x dtypes and judge each cell against the goldens and the reference."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from harness import plugins
from harness.cases import Case
from harness.compare import Comparison, compare
from harness.diagnose import Diagnosis, diagnose
from harness.manual import REFERENCE
from harness.protocol import Backend
from harness.tasks import BadStepResult, Outcome, execute
from harness.tolerance import printed_slack

STATUSES = ("pass", "fail", "error", "skip", "crashed", "timeout")
"""crashed: the worker died or the backend ended it; timeout: the cell ran past its limit."""


@dataclass
class Cell:
    case: str
    backend: str
    dtype: str
    status: str
    message: str = ""
    comparisons: list[Comparison] = field(default_factory=list)
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    seconds: float = 0.0
    diagnosis: Diagnosis | None = None
    """For a cell that disagrees with the reference: where it first parts from it."""

    def worst(self, against: str) -> tuple[float, float]:
        """Max abs and max rel error over the comparisons against "reference" or "golden"."""
        mine = [c for c in self.comparisons if c.against == against]
        if not mine:
            return float("nan"), float("nan")
        # np.max propagates NaN: a non-finite comparison must not hide behind a finite one
        return float(np.max([c.max_abs for c in mine])), float(np.max([c.max_rel for c in mine]))


class Reference:
    """The float64 NumPy manual-backward result of each case run, computed once."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], Outcome] = {}

    def get(self, case: Case, run_name: str) -> Outcome:
        key = (case.name, run_name)
        if key not in self._cache:
            run = next(r for r in case.runs if r.name == run_name)
            step = REFERENCE.make_step(case.network, "float64")
            self._cache[key] = execute(REFERENCE, case, run, "float64", step)
        return self._cache[key]


def run_cell(case: Case, backend: Backend, dtype: str, reference: Reference) -> Cell:
    """One case on one backend in one dtype; never raises for a backend's fault."""
    cell = Cell(case.name, backend.name, dtype, "skip")
    status = plugins.availability(backend)
    if not status.available:
        cell.message = f"unavailable: {status.reason}"
        return cell
    if dtype not in backend.dtypes:
        cell.message = f"{backend.name} does not support {dtype}"
        return cell
    start = time.perf_counter()
    try:
        with backend.numerics(dtype):
            step = backend.make_step(case.network, dtype)
        for run in case.runs:
            cell.outcomes[run.name] = execute(backend, case, run, dtype, step)
    except BadStepResult as exc:  # a wrong tensor is a failed comparison, not a crash
        cell.status, cell.message = "fail", f"{run.name}/{exc}"
        return cell
    except MemoryError:
        raise  # the worker's crash, not this cell's error
    except ValueError as exc:
        if "read-only" not in str(exc):
            cell.status, cell.message = "error", f"ValueError: {_one_line(exc)}"
            return cell
        cell.status = "fail"  # numpy's "assignment destination is read-only", and the like
        cell.message = f"{run.name}/the step wrote to an input it was handed: {_one_line(exc)}"
        return cell
    except Exception as exc:  # a backend that raises marks its own cell, nothing else
        cell.status, cell.message = "error", f"{type(exc).__name__}: {_one_line(exc)}"
        return cell
    finally:
        cell.seconds = time.perf_counter() - start
    try:
        _judge(cell, case, dtype, reference)
        if any(not c.ok and c.against == "reference" for c in cell.comparisons):
            cell.diagnosis = diagnose(case, backend, dtype)
            cell.message = f"{cell.message}; {cell.diagnosis.summary()}"
    except Exception as exc:  # whatever the backend returned, only this cell is affected
        cell.status = "error"
        cell.message = f"while judging: {type(exc).__name__}: {_one_line(exc)}"
    return cell


def _judge(cell: Cell, case: Case, dtype: str, reference: Reference) -> None:
    problems = []
    for run in case.runs:
        outcome = cell.outcomes[run.name]
        problems += [f"{run.name}/{p}" for p in outcome.problems]
        expected = reference.get(case, run.name).tensors
        for name, value in outcome.tensors.items():
            tag = f"{run.name}/{name}"
            if name in run.golden:
                golden = run.golden[name]
                tol = case.tolerance_for(dtype, golden).widened(printed_slack(golden.decimals))
                cell.comparisons.append(compare(tag, "golden", value, golden.value, tol))
            tol = case.tolerance_for(dtype)
            cell.comparisons.append(compare(tag, "reference", value, expected[name], tol))
        if missing := sorted(set(run.golden) - set(outcome.tensors)):
            problems.append(f"{run.name}: no value for golden tensor(s) {', '.join(missing)}")
    failed = [c.describe() for c in cell.comparisons if not c.ok]
    cell.status = "fail" if problems or failed else "pass"
    cell.message = "; ".join(problems + failed[:1])


def run_matrix(
    cases: Iterable[Case],
    backends: Iterable[Backend],
    dtypes: Iterable[str],
    on_cell: Callable[[Cell], None] | None = None,
) -> list[Cell]:
    reference = Reference()
    cells = []
    backends, dtypes = list(backends), list(dtypes)
    for case in cases:
        for backend in backends:
            for dtype in dtypes:
                cell = run_cell(case, backend, dtype, reference)
                cells.append(cell)
                if on_cell:
                    on_cell(cell)
    return cells


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else repr(exc)


def as_record(cell: Cell) -> dict:
    """The JSON record of a cell: status, errors, and every computed tensor by name."""
    return {
        "case": cell.case,
        "backend": cell.backend,
        "dtype": cell.dtype,
        "status": cell.status,
        "message": cell.message,
        "max_abs_err": {k: _finite_or_none(cell.worst(k)[0]) for k in ("reference", "golden")},
        "max_rel_err": {k: _finite_or_none(cell.worst(k)[1]) for k in ("reference", "golden")},
        "seconds": cell.seconds,
        "diagnosis": cell.diagnosis.as_record() if cell.diagnosis else None,
        "errors": [
            {
                "tensor": c.name,
                "against": c.against,
                "ok": c.ok,
                "max_abs": _finite_or_none(c.max_abs),
                "max_rel": _finite_or_none(c.max_rel),
                "problem": c.problem,
            }
            for c in cell.comparisons
        ],
        "tensors": {
            run: {name: np.asarray(v).tolist() for name, v in outcome.tensors.items()}
            for run, outcome in cell.outcomes.items()
        },
    }


def _finite_or_none(value: float) -> float | None:
    return value if np.isfinite(value) else None
