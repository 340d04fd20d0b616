"""Compare a computed tensor with an expected one: finiteness, shape, then values."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.tolerance import Tolerance


@dataclass(frozen=True)
class Comparison:
    name: str
    against: str
    ok: bool
    max_abs: float
    max_rel: float
    problem: str = ""

    def describe(self) -> str:
        if self.problem:
            return f"{self.name} vs {self.against}: {self.problem}"
        verdict = "ok" if self.ok else "beyond tolerance"
        return (
            f"{self.name} vs {self.against}: max abs err {self.max_abs:.1e}, "
            f"max rel err {self.max_rel:.1e} ({verdict})"
        )


def compare(name: str, against: str, actual, expected, tol: Tolerance) -> Comparison:
    """Check that `actual` is finite, has `expected`'s shape, and is close to it.

    The relative error is reported over elements whose expected value is non-zero; the
    pass rule is |a - b| <= atol + rtol * |b| for every element.
    """
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    nan = float("nan")
    if a.shape != b.shape:
        return Comparison(name, against, False, nan, nan, f"shape {a.shape}, expected {b.shape}")
    if not np.all(np.isfinite(a)):
        bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
        return Comparison(name, against, False, nan, nan, f"{bad} non-finite value(s)")
    if not np.all(np.isfinite(b)):
        return Comparison(name, against, False, nan, nan, "expected value is not finite")
    with np.errstate(over="ignore"):  # huge values or a tiny (subnormal) b: inf, not a warning
        diff = np.abs(a - b)
        scale = np.abs(b)
        max_abs = float(diff.max(initial=0.0))
        nonzero = scale > 0
        max_rel = float((diff[nonzero] / scale[nonzero]).max(initial=0.0))
        ok = bool(np.all(diff <= tol.atol + tol.rtol * scale))
    return Comparison(name, against, ok, max_abs, max_rel)
