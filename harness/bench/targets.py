"""The issue's targets (2-core CPU), checked against one run's results, row by row.

Each row states the figure, the limit and the verdict; a miss also says by how much. Ratios
are of fastest samples taken side by side in one process (see results.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.bench.results import SIZE_ORDER, Results

OVERHEAD_LIMITS = {
    "numpy": {"homework": 1.5, "medium": 1.15, "large": 1.10},
    "torch": {"homework": 1.3, "medium": 1.10, "large": 1.10},
    "jax": {"homework": 1.10, "medium": 1.10, "large": 1.10},
}
"""harness <backend> step / native step of its library, at most."""
FLOOR_LIMIT = 1.3
"""Fastest harness float32 step at large size, as a multiple of the GEMM floor, at most."""
KERAS_SPEEDUP = {"homework": 20.0, "medium": 1.5, "large": 1.0}
"""Fastest Keras 3 step / fastest harness step, at least ("faster at every size")."""
FUSED_STEP_LIMIT_S = 2e-6
"""Fused JAX training loop, seconds per step at homework size, at most."""


@dataclass(frozen=True)
class Row:
    target: str
    size: str
    dtype: str
    figure: float | None
    limit: float
    at_most: bool
    unit: str = "x"

    @property
    def verdict(self) -> str:
        if self.figure is None:
            return "not measured"
        if math.isnan(self.figure):
            return "missed (the figure is NaN)"
        met = self.figure <= self.limit if self.at_most else self.figure >= self.limit
        if met:
            return "met"
        by = self.figure / self.limit - 1 if self.at_most else 1 - self.figure / self.limit
        return f"missed by {by:.1%}"


def rows(results: Results) -> list[Row]:
    return _overheads(results) + _floor(results) + _keras(results) + _fused(results)


def _overheads(results: Results) -> list[Row]:
    found = []
    for backend, limits in OVERHEAD_LIMITS.items():
        for size in SIZE_ORDER:
            for dtype in ("float32", "float64"):
                mine = results.of("step", role="harness", name=backend, size=size, dtype=dtype)
                figure = _interleaved_or_min(results, mine[0]) if mine else None
                what = f"harness {backend} step / native {backend} (interleaved)"
                found.append(Row(what, size, dtype, figure, limits[size], at_most=True))
    return found


def _interleaved_or_min(results: Results, record) -> float | None:
    if record.interleaved_to_native is not None:
        return record.interleaved_to_native
    return results.to_native(record)


def _floor(results: Results) -> list[Row]:
    steps = results.of("step", role="harness", size="large", dtype="float32")
    figure = None
    if steps and (floor := results.floor(steps[0])):
        figure = min(r.min for r in steps) / floor
    return [Row("fastest harness step / GEMM floor", "large", "float32", figure, FLOOR_LIMIT, True)]


def _keras(results: Results) -> list[Row]:
    found = []
    for size, limit in KERAS_SPEEDUP.items():
        for dtype in ("float32", "float64"):
            ours = results.of("step", role="harness", size=size, dtype=dtype)
            keras = results.of("step", role="rival", size=size, dtype=dtype)
            figure = None
            if ours and keras:
                figure = min(r.min for r in keras) / min(r.min for r in ours)
            what = "fastest Keras 3 step / fastest harness step"
            found.append(Row(what, size, dtype, figure, limit, at_most=False))
    return found


def _fused(results: Results) -> list[Row]:
    found = []
    for dtype in ("float32", "float64"):
        loops = results.of("train", role="harness", name="jax", flavour="fused", dtype=dtype)
        figure = loops[0].min / loops[0].steps if loops else None
        what = "fused JAX training loop (harness network), time per step"
        found.append(Row(what, "homework", dtype, figure, FUSED_STEP_LIMIT_S, True, unit="s"))
    return found
