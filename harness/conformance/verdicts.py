"""Run one conformance check through the session's runner, record it, and judge it.

A failing cell shows its message, every comparison beyond tolerance and, where the backend
parts from the float64 reference, the first-divergence report (`harness.diagnose`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from harness import gradcheck
from harness.channel import BackendError
from harness.conformance.scoreboard import record
from harness.conformance.session import CellSpec, state
from harness.conformance.trace import trace_problems
from harness.processes import BackendFault


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


def assert_protocol(request: pytest.FixtureRequest, spec: CellSpec, check: str) -> None:
    """One protocol promise: observed in the backend's worker, judged here; its problems, one
    a line, fail the test."""
    from harness.conformance import checks

    info = _protocol_info(request, spec, check)
    try:
        seen = state(request.config).runner().channel(spec.backend).probe(check, spec.dtype)
        problems = checks.JUDGES[check](seen, spec.dtype)
    except (BackendError, BackendFault) as exc:
        problems = [f"{type(exc).__name__}: {exc}"]
    except Exception as exc:  # what the worker sent is not what the probe reports
        problems = [f"the worker's observation is malformed: {type(exc).__name__}: {exc}"]
    if problems:
        pytest.fail(f"{info.name} {spec.dtype}: " + "\n".join(problems), pytrace=False)


def assert_trace(request: pytest.FixtureRequest, spec: CellSpec) -> None:
    """With trace=True the step runs, its trace has every tensor the network names, with its
    shape, and each agrees with the float64 reference: the first-divergence report of a
    failing cell depends on it."""
    info = _protocol_info(request, spec, "trace")
    session = state(request.config)
    channel = session.runner().channel(spec.backend)
    try:
        problems = [
            p for case in session.cases()[0] for p in trace_problems(case, channel, spec.dtype)
        ]
    except (BackendError, BackendFault) as exc:
        problems = [f"the traced step failed: {exc}"]
    if problems:
        pytest.fail(f"{info.name} {spec.dtype}: " + "\n".join(problems), pytrace=False)


def _protocol_info(request: pytest.FixtureRequest, spec: CellSpec, check: str):
    """Record the check on the scoreboard; skip it where the backend cannot run the dtype."""
    info = state(request.config).runner().describe(spec.backend)
    record(request.node, "protocol", check, spec.backend, spec.dtype)
    if info.fault or info.error:
        pytest.fail(f"{spec.backend}: {info.fault or 'error'}: {info.error or info.reason}",
                    pytrace=False)  # fmt: skip
    if not info.available:
        pytest.skip(f"{spec.backend} unavailable: {info.reason}")
    if spec.dtype not in info.dtypes:
        pytest.skip(f"{spec.backend} does not support {spec.dtype}")
    return info


def _worst(errors: list[float]) -> float | None:
    """The largest finite error; None when nothing was compared (or only shapes were)."""
    finite = [e for e in errors if np.isfinite(e)]
    return max(finite) if finite else None
