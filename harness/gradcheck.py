"""The three-way gradient check: manual backward, autograd, and central differences agree?

For one library (torch, JAX, ...) and each case run that has gradients, at its first step
(initial parameters, first batch, its dropout masks) the harness takes:
- the manual gradient, from a backend that runs the hand-written backward on that library;
- the autograd gradient, from a backend that differentiates the same forward on that library;
- a float64 central-difference gradient of the reference loss, computed here on NumPy.
Two sources that agree outvote the third, so a mismatch names the odd one out. A backend
says which kind it is with a `strategy` attribute ("manual" or "autograd"); without one, a
`ManualBackend` is manual and anything else autograd.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import plugins
from harness.case_text import printable
from harness.cases import Case, Run
from harness.channel import BackendError, BackendInfo, Channel, local
from harness.compare import Comparison, compare
from harness.finite_differences import central_difference
from harness.manual import REFERENCE
from harness.processes import BackendFault
from harness.tasks import batches
from harness.tolerance import Tolerance

FD_TOLERANCE = Tolerance(rtol=1e-6, atol=1e-7)
"""How close a gradient must be to the central differences. Their own error is about
eps * |loss| / step (rounding, 2e-10 * |loss|) plus step**2 * |third derivative| (truncation),
so atol is scaled by max(1, |loss|); any real bug is orders of magnitude larger."""

SOURCES = ("manual", "autograd", "fd")
PAIRS = (("manual", "autograd"), ("manual", "fd"), ("autograd", "fd"))


strategy = plugins.strategy


@dataclass(frozen=True)
class Pairing:
    """A manual and an autograd backend on the same library; either may be missing."""

    library: str
    manual: object | None
    autograd: object | None

    def names(self) -> tuple[str, str]:
        return tuple(b.name if b else "-" for b in (self.manual, self.autograd))


@dataclass
class GradCheck:
    """One case, one pairing, one dtype: each pair's worst comparison and the verdict."""

    case: str
    library: str
    manual: str
    autograd: str
    dtype: str
    status: str = "agree"
    """agree, disagree, error or skip."""
    verdict: str = ""
    pairs: dict[str, Comparison] = field(default_factory=dict)
    """Keyed "manual~autograd", "manual~fd", "autograd~fd"; the worst tensor of each."""

    def as_record(self) -> dict:
        pairs = {
            key: {"tensor": c.name, "ok": c.ok, "max_abs": _finite(c.max_abs), "problem": c.problem}
            for key, c in self.pairs.items()
        }
        return {
            **{k: getattr(self, k) for k in ("case", "library", "manual", "autograd", "dtype")},
            **{"status": self.status, "verdict": self.verdict, "pairs": pairs},
        }


def pairings(selected: Sequence, registered: Sequence) -> list[Pairing]:
    """For each selected backend, the counterpart of the other strategy on its library.

    Counterparts come from the selection first, then from every registered backend, so
    `--backend torch` is still checked against `torch-manual`. Unavailable ones are left out.
    """
    candidates = _first_of_each_name([*selected, *registered])
    found: dict[tuple[str, str], Pairing] = {}
    for backend in selected:
        if _available(backend):
            pairing = _pair(backend, candidates)
            found.setdefault(pairing.names(), pairing)
    return list(found.values())


def _first_of_each_name(backends: Sequence) -> list:
    named: dict[str, object] = {}
    for backend in backends:
        named.setdefault(backend.name, backend)
    return list(named.values())


def _pair(backend, candidates: Sequence) -> Pairing:
    kind = strategy(backend)
    other = [b for b in candidates if b.library == backend.library and strategy(b) != kind]
    other = next((b for b in other if _available(b)), None)  # imports the library: last
    manual, autograd = (backend, other) if kind == "manual" else (other, backend)
    return Pairing(backend.library, manual, autograd)


Gradient = Callable[[Any, Case, Run, str], dict[str, np.ndarray]]
"""`gradient(backend, case, run, dtype)`: a backend's gradient at a run's first step."""


def check(
    case: Case,
    pairing: Pairing,
    dtype: str,
    cache: dict | None = None,
    gradient: Gradient | None = None,
) -> GradCheck:
    """Compare the three sources on every gradient-bearing run of the case.

    `cache` keeps each backend's gradient (and the central differences) across pairings and
    dtypes, so a backend in two pairings is stepped once. `gradient` computes a backend's
    gradient (default: `backend_gradient`, in this process; the CLI sends it to the backend's
    worker).
    """
    cache = {} if cache is None else cache
    result = GradCheck(case.name, pairing.library, *pairing.names(), dtype)
    runs = [run for run in case.runs if run.task.kind != "forward"]
    backends = (pairing.manual, pairing.autograd, "harness")
    present = [s for s, b in zip(SOURCES, backends, strict=True) if b is not None]
    if not runs or dtype not in _dtypes(pairing):
        result.status = "skip"
        result.verdict = "no gradient to check" if not runs else f"no {dtype} on both backends"
        return result
    compared: dict[str, list[Comparison]] = {}
    for run in runs:
        try:
            grads = _three_gradients(case, run, pairing, dtype, cache, gradient)
        except Exception as exc:  # a backend that raises marks its own check only
            result.status, result.verdict = "error", _one_line(exc)
            return result
        for key, comparisons in _compare_pairs(case, run, grads, present, dtype).items():
            compared.setdefault(key, []).extend(comparisons)
    result.pairs = {key: _worst(comparisons) for key, comparisons in compared.items()}
    result.status, result.verdict = odd_one_out(
        {key: c.ok for key, c in result.pairs.items()}, present
    )
    return result


def odd_one_out(agrees: dict[str, bool], present: Sequence[str]) -> tuple[str, str]:
    """(status, verdict) from which pairs agree: two sources that agree outvote the third."""
    if all(agrees.values()):
        return "agree", "all three agree" if len(present) == 3 else f"{present[0]} agrees with fd"
    if len(present) == 2:
        return "disagree", f"{present[0]} disagrees with fd"
    agreeing = [key for key, ok in agrees.items() if ok]
    if not agreeing:
        return "disagree", "all three disagree"
    if len(agreeing) == 2:
        failed = [key for key, ok in agrees.items() if not ok]
        return "disagree", "inconclusive: " + ", ".join(failed) + _INCONCLUSIVE.get(failed[0], "")
    (odd,) = set(SOURCES) - set(agreeing[0].split("~"))
    return "disagree", _ODD[odd]


_INCONCLUSIVE = {
    "manual~autograd": " differ at the dtype's tolerance, yet each agrees with fd, whose "
    "tolerance is looser: one of them computes below the dtype it returns (see its cells' "
    "diagnosis), or they part by less than fd can resolve",
}

_ODD = {
    "manual": "manual is the odd one out",
    "autograd": "autograd is the odd one out",
    "fd": "finite differences are the odd one out: the backend differentiates another "
    "function than the reference loss (or a ReLU input sits within a step of 0)",
}


def run_checks(
    cases: Iterable[Case],
    pairs: Sequence[Pairing],
    dtypes: Sequence[str],
    on_check: Callable[[GradCheck], None] | None = None,
    gradient: Gradient | None = None,
) -> list[GradCheck]:
    """Every case, pairing and dtype, as GradCheck rows (cases with no gradients give none)."""
    rows: list[GradCheck] = []
    cache: dict = {}
    for case in cases:
        if all(run.task.kind == "forward" for run in case.runs):
            continue
        for pairing in pairs:
            for dtype in dtypes:
                rows.append(check(case, pairing, dtype, cache, gradient))
                if on_check:
                    on_check(rows[-1])
    return rows


def first_batch(case: Case, run: Run) -> dict[str, np.ndarray]:
    return next(iter(batches(case.network, run)))


def backend_gradient(backend, case: Case, run: Run, dtype: str) -> dict[str, np.ndarray]:
    """The backend's gradient at the run's first step, as float64 NumPy arrays. `backend` is
    a Channel (the backend's worker) or a backend object (run in this process)."""
    channel = backend if isinstance(backend, Channel) else local(backend)
    (result,) = channel.steps(case, dtype, False, [(case.params, first_batch(case, run))])
    return {k: np.asarray(v, dtype=np.float64) for k, v in result["grads"].items()}


def _three_gradients(
    case: Case, run: Run, pairing: Pairing, dtype: str, cache: dict, gradient: Gradient | None
) -> dict:
    batch = first_batch(case, run)
    if (key := (case.name, run.name)) not in cache:
        loss = case.network.objective(REFERENCE.namespace(), case.params, batch)[0]
        cache[key] = central_difference(case.network, case.params, batch), float(loss)
    grads = dict(zip(("fd", "loss"), cache[key], strict=True))
    for source, backend in (("manual", pairing.manual), ("autograd", pairing.autograd)):
        if backend is not None:
            if (key := (backend.name, case.name, run.name, dtype)) not in cache:
                cache[key] = (gradient or backend_gradient)(backend, case, run, dtype)
            grads[source] = cache[key]
    return grads


def pair_tolerance(case: Case, dtype: str, loss: float, with_fd: bool) -> Tolerance:
    """The looser of the two sources' tolerances: the dtype's, and fd's if it is one."""
    own = case.tolerance_for(dtype)
    if not with_fd:
        return own
    fd_atol = FD_TOLERANCE.atol * max(1.0, abs(loss))
    return Tolerance(max(own.rtol, FD_TOLERANCE.rtol), max(own.atol, fd_atol))


def _compare_pairs(case: Case, run: Run, grads: dict, present, dtype: str) -> dict:
    """Each pair of present sources: one comparison per parameter gradient."""
    compared = {}
    for first, second in PAIRS:
        if first in present and second in present:
            tol = pair_tolerance(case, dtype, grads["loss"], "fd" in (first, second))
            compared[f"{first}~{second}"] = _compare_all(run, grads, first, second, tol)
    return compared


def _compare_all(run: Run, grads: dict, first: str, second: str, tol: Tolerance):
    """One comparison per parameter; against sampled central differences, only at the
    coordinates they took, and the tag says so."""
    sampled = getattr(grads[second], "sampled", {})
    note = f" ({grads[second].note})" if sampled else ""
    comparisons = []
    for name, expected in grads[second].items():
        tag = f"{run.name}/grad.{name}{note}"
        if name not in grads[first]:
            nan = float("nan")
            comparisons.append(
                Comparison(tag, second, False, nan, nan, f"no gradient from {first}")
            )
            continue
        actual, mask = np.asarray(grads[first][name]), sampled.get(name)
        if mask is not None and actual.shape == mask.shape:
            actual, expected = actual[mask], expected[mask]
        comparisons.append(compare(tag, second, actual, expected, tol))
    return comparisons


def _worst(comparisons: list[Comparison]) -> Comparison:
    """A failing comparison first (the largest), else the largest error."""
    failing = [c for c in comparisons if not c.ok]
    pool = failing or comparisons
    return max(pool, key=lambda c: (bool(c.problem), np.nan_to_num(c.max_abs, nan=np.inf)))


def _dtypes(pairing: Pairing) -> set[str]:
    backends = [b for b in (pairing.manual, pairing.autograd) if b is not None]
    return set.intersection(*(set(b.dtypes) for b in backends))


def _available(backend) -> bool:
    """A BackendInfo says; a backend object in this process is asked."""
    if isinstance(backend, BackendInfo):
        return backend.available and not backend.error and not backend.fault
    return plugins.availability(backend).available


def _one_line(exc: Exception) -> str:
    """`Type: first line`, escaped; a backend's own error already says its type."""
    line = (str(exc).strip().splitlines() or [""])[0]
    known = isinstance(exc, BackendError | BackendFault)
    return printable(line if known else f"{type(exc).__name__}: {line}")


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None
