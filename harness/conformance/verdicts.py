"""Run one conformance check through the session's runner, record it, and judge it.

A failing cell shows its message, every comparison beyond tolerance and, where the backend
parts from the float64 reference, the first-divergence report (`harness.diagnose`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness import gradcheck
from harness.conformance.scoreboard import record
from harness.conformance.session import CellSpec, state


def assert_cell(request: pytest.FixtureRequest, spec: CellSpec) -> None:
    """The case on the backend in the dtype: goldens and the float64 reference, all runs."""
    if spec.error:
        pytest.fail(f"case file does not load: {spec.error}", pytrace=False)
    cell = state(request.config).runner().cell(spec.case_path, spec.backend, spec.dtype)
    reference, golden = (_worst([cell.worst(k)[0]]) for k in ("reference", "golden"))
    record(
        request.node, "case", cell.case, spec.backend, spec.dtype, worst=reference, golden=golden
    )
    if cell.status == "skip":
        pytest.skip(cell.message)
    if cell.status != "pass":
        pytest.fail(describe_cell(cell), pytrace=False)


def describe_cell(cell) -> str:
    lines = [f"{cell.case} on {cell.backend} in {cell.dtype}: {cell.status}: {cell.message}"]
    lines += [f"  {c.describe()}" for c in cell.comparisons if not c.ok]
    if cell.diagnosis is not None:
        lines.append(cell.diagnosis.describe())
    return "\n".join(lines)


def assert_gradient(request: pytest.FixtureRequest, spec: CellSpec) -> None:
    """Manual, autograd (where the library has both) and central differences agree.

    Paired as `harness run` pairs them; each backend's gradient comes from its own worker,
    and the comparison (with the float64 central differences) is made here.
    """
    if spec.error:
        pytest.fail(f"case file does not load: {spec.error}", pytrace=False)
    session = state(request.config)
    row = f"{spec.case_path.stem}/{spec.run}"
    pairing = session.pairing(spec.backend)
    if pairing is None:
        record(request.node, "gradient", row, spec.backend, spec.dtype)
        pytest.skip(f"{spec.backend} unavailable: {session.runner().describe(spec.backend).reason}")
    case = next(c for c in session.cases()[0] if c.path == spec.case_path)
    case = dataclasses.replace(case, runs=tuple(r for r in case.runs if r.name == spec.run))
    result = gradcheck.check(case, pairing, spec.dtype, session.gradients, session.gradient)
    worst = _worst([c.max_abs for c in result.pairs.values()])
    record(request.node, "gradient", row, spec.backend, spec.dtype, worst=worst)
    if result.status == "skip":
        pytest.skip(result.verdict)
    header = f"{row} {spec.dtype}: manual {result.manual}, autograd {result.autograd}"
    pairs = [f"  {key}: {c.describe()}" for key, c in result.pairs.items()]
    if result.status != "agree":
        pytest.fail("\n".join([f"{header}: {result.verdict}", *pairs]), pytrace=False)


def assert_protocol(request: pytest.FixtureRequest, spec: CellSpec, check) -> None:
    """One protocol check, in the backend's worker; its problems, one a line, fail the test."""
    runner = state(request.config).runner()
    info = runner.describe(spec.backend)
    name = check.__name__.removesuffix("_problems")
    record(request.node, "protocol", name, spec.backend, spec.dtype)
    if not info.available:
        pytest.skip(f"{spec.backend} unavailable: {info.reason}")
    if spec.dtype not in info.dtypes:
        pytest.skip(f"{spec.backend} does not support {spec.dtype}")
    problems = runner.call(spec.backend, check, spec.dtype)
    if problems:
        pytest.fail(f"{spec.backend} {spec.dtype}: " + "\n".join(problems), pytrace=False)


def _worst(errors: list[float]) -> float | None:
    """The largest finite error; None when nothing was compared (or only shapes were)."""
    finite = [e for e in errors if np.isfinite(e)]
    return max(finite) if finite else None
