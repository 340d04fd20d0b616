"""Run cases x backends x dtypes and judge each cell against the goldens and the reference."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from harness import driver
from harness.cases import Case
from harness.channel import BackendError, Channel, local
from harness.compare import Comparison, compare
from harness.diagnose import Diagnosis, diagnose
from harness.manual import REFERENCE
from harness.protocol import Backend
from harness.tasks import Outcome
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
    output: str = ""
    """What the backend printed while the cell ran (stdout and stderr, capped, escaped)."""

    def worst(self, against: str) -> tuple[float, float]:
        """Max abs and max rel error over the comparisons against "reference" or "golden"."""
        mine = [c for c in self.comparisons if c.against == against]
        if not mine:
            return float("nan"), float("nan")
        # np.max propagates NaN: a non-finite comparison must not hide behind a finite one
        return float(np.max([c.max_abs for c in mine])), float(np.max([c.max_rel for c in mine]))


class Reference:
    """The float64 NumPy manual-backward result of each case run, computed once, here in the
    coordinator: no plugin's process can change how it is computed."""

    def __init__(self) -> None:
        self._cache: dict[tuple[int, str], tuple[Case, Outcome]] = {}
        self._lock = threading.Lock()

    def get(self, case: Case, run_name: str) -> Outcome:
        key = (id(case), run_name)  # the case is kept with its result: the id stays its own
        with self._lock:
            if key not in self._cache:
                run = next(r for r in case.runs if r.name == run_name)
                single = dataclasses.replace(case, runs=(run,))
                tensors = driver.run_case(REFERENCE, single, "float64")[run_name]
                self._cache[key] = case, Outcome(tensors)
            return self._cache[key][1]


def run_cell(case: Case, backend, dtype: str, reference: Reference) -> Cell:
    """One case on one backend in one dtype, judged here; never raises for a backend's fault
    but a `BackendFault` (its worker died or ran out of time), which the runner reports.

    `backend` is a `Channel` to wherever the backend runs, or a backend object, which is then
    run in this process (tests; `--no-isolate`)."""
    channel = backend if isinstance(backend, Channel) else local(backend)
    info = channel.info()
    cell = Cell(case.name, channel.name, dtype, "skip")
    if info.fault:
        cell.status, cell.message = info.fault, f"while loading the backend: {info.reason}"
        return cell
    if info.error:
        cell.status, cell.message = "error", info.error
        return cell
    if not info.available:
        cell.message = info.skip_reason()
        return cell
    if dtype not in info.dtypes:
        cell.message = f"{channel.name} does not support {dtype}"
        return cell
    start = time.perf_counter()
    try:
        computed = channel.run(case, dtype)
    except BackendError as exc:
        cell.status, cell.message = _failure(exc)
        return cell
    finally:
        cell.seconds = time.perf_counter() - start
        cell.output = "".join(channel.output)
    for run in case.runs:
        tensors = computed.get(run.name, {})
        wrong = [f"{k}: dtype {v.dtype}, expected {dtype}" for k, v in tensors.items()
                 if v.dtype != np.dtype(dtype)]  # fmt: skip
        cell.outcomes[run.name] = Outcome(tensors, wrong)
    _judge(cell, case, dtype, reference)
    if any(not c.ok and c.against == "reference" for c in cell.comparisons):
        cell.diagnosis = diagnose(case, channel, dtype)
        cell.message = f"{cell.message}; {cell.diagnosis.summary()}"
        cell.output = "".join(channel.output)
    return cell


def _failure(exc: BackendError) -> tuple[str, str]:
    """(status, message) of a cell whose backend raised: a wrong tensor, or a write into an
    input, is a failed comparison; anything else the backend's error."""
    where = f"{exc.run}/" if exc.run else ""
    if exc.kind == "bad-result":
        return "fail", f"{where}{exc.message}"
    if exc.kind == "wrote-input":
        return "fail", f"{where}the step wrote to an input it was handed: {exc}"
    return "error", str(exc)


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
        "output": cell.output,
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
