"""The issues' targets (2-core CPU), checked against one run's results, row by row.

Each row states the figure, the limit and the verdict: met, missed (by how much), or
`unstable` when the measurement behind the figure failed its stability checks
(harness.bench.stability), which no verdict of met or missed may rest on. Overhead ratios
are interleaved in one process; cross-process figures (the GEMM floor, Keras) are checked
on the spread of each side's fastest samples instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.bench.results import SIZE_ORDER, Record, Results, sample_spread
from harness.bench.stability import SPREAD_LIMIT

OVERHEAD_LIMITS = {
    "numpy": {"homework": 1.3, "medium": 1.10, "large": 1.05},
    "torch": {"homework": 1.3, "medium": 1.10, "large": 1.05},
    "jax": {"homework": 1.15, "medium": 1.05, "large": 1.05},
}
"""Issue 11: harness <backend> step / idiomatic native step of its library, at most."""
SAME_MATHS_LIMITS = {
    "numpy": {"homework": 1.10, "medium": 1.05},
    "torch": {"homework": 1.15, "medium": 1.05},
    "jax": {"homework": 1.20, "medium": 1.05},
}
"""Issue 17: harness <backend> step / same-maths native step of its library (the seeds' loss
with eps inside the log, the exact gradient), float32, at most. JAX's homework limit is looser
because the harness's contract returns the softmax output, which the native does not."""
SAME_MATHS_DTYPES = ("float32",)
GRID_LIMIT, GRID_LIBRARIES = 1.15, ("numpy", "jax")
"""Issue 11: no shape of the batch x width grid beyond this, on these libraries."""
FLOOR_LIMIT = 1.25
"""Issue 11: fastest harness float32 step at large size, as a multiple of the GEMM floor."""
KERAS_SPEEDUP = {"homework": 20.0, "medium": 1.5, "large": 1.0}
"""Issue 4: fastest Keras 3 step / fastest harness step, at least ("faster at every size")."""
FUSED_STEP_LIMIT_S = 2e-6
"""Issue 4: fused JAX training loop, seconds per step at homework size, at most."""
DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class Row:
    target: str
    size: str
    dtype: str
    figure: float | None
    limit: float
    at_most: bool
    unit: str = "x"
    problems: tuple[str, ...] = ()
    """Why the figure's measurement is unstable; empty when it passed its checks."""
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.figure is None:
            return "not measured"
        if math.isnan(self.figure):
            return "missed (the figure is NaN)"
        if self.problems:
            return "unstable"
        met = self.figure <= self.limit if self.at_most else self.figure >= self.limit
        if met:
            return "met"
        by = self.figure / self.limit - 1 if self.at_most else 1 - self.figure / self.limit
        return f"missed by {by:.1%}"


def rows(results: Results) -> list[Row]:
    found = _same_maths(results) + _overheads(results) + _grid(results) + _floor(results)
    return found + _keras(results) + _fused(results)


def _overheads(results: Results) -> list[Row]:
    found = []
    for backend, limits in OVERHEAD_LIMITS.items():
        for size in SIZE_ORDER:
            for dtype in DTYPES:
                mine = results.of("step", role="harness", name=backend, size=size, dtype=dtype)
                figure, problems = _interleaved_or_min(results, mine[0]) if mine else (None, ())
                what = f"harness {backend} step / native {backend} (interleaved)"
                row = Row(what, size, dtype, figure, limits[size], True, problems=problems)
                found.append(row)
    return found


def _same_maths(results: Results) -> list[Row]:
    found = []
    for backend, limits in SAME_MATHS_LIMITS.items():
        for size, limit in limits.items():
            for dtype in SAME_MATHS_DTYPES:
                mine = results.of("step", role="harness", name=backend, size=size, dtype=dtype)
                figure, problems = None, ()
                if mine and mine[0].interleaved_to_same_maths is not None:
                    figure = mine[0].interleaved_to_same_maths
                    problems = tuple(mine[0].same_maths_problems)
                what = f"harness {backend} step / native {backend} same-maths (interleaved)"
                found.append(Row(what, size, dtype, figure, limit, True, problems=problems))
    return found


def _interleaved_or_min(results: Results, record: Record) -> tuple[float | None, tuple]:
    if record.interleaved_to_native is not None:
        return record.interleaved_to_native, tuple(record.problems)
    return results.to_native(record), ()


def _grid(results: Results) -> list[Row]:
    """One row per library and dtype: the worst stable cell decides met or missed; any
    unstable cell, with no stable cell over the line, makes the row unstable."""
    found = []
    for library in GRID_LIBRARIES:
        for dtype in DTYPES:
            cells = results.of("grid", name=library, dtype=dtype)
            what = f"every grid shape, harness {library} / native {library} (interleaved)"
            if not cells:
                found.append(Row(what, "grid", dtype, None, GRID_LIMIT, True))
                continue
            stable = [c for c in cells if not c.problems]
            worst = max(stable or cells, key=lambda c: c.interleaved_to_native)
            shaky = [c.size for c in cells if c.problems]
            over = worst.interleaved_to_native > GRID_LIMIT and stable
            problems = () if over or not shaky else tuple(f"{s} unstable" for s in shaky)
            note = f"worst {worst.size}" + (f"; unstable: {', '.join(shaky)}" if shaky else "")
            figure = worst.interleaved_to_native
            found.append(Row(what, "grid", dtype, figure, GRID_LIMIT, True, "x", problems, note))
    return found


def spread_problems(*records: Record) -> tuple[str, ...]:
    """For figures taken across processes: each record's fastest tenth of rounds within
    SPREAD_LIMIT of its fastest round (results.sample_spread)."""
    found = []
    for r in records:
        spread = sample_spread(r)
        if spread > SPREAD_LIMIT:
            found.append(f"{r.label} spread {spread:.0%} > {SPREAD_LIMIT:.0%}")
    return tuple(found)


def _floor(results: Results) -> list[Row]:
    steps = results.of("step", role="harness", size="large", dtype="float32")
    figure, problems = None, ()
    if steps and (floor := results.floor(steps[0])):
        fastest = min(steps, key=lambda r: r.min)
        gemm = max(results.of("gemm", dtype="float32"), key=lambda r: r.flops / r.min)
        figure, problems = fastest.min / floor, spread_problems(fastest, gemm)
    what = "fastest harness step / GEMM floor"
    return [Row(what, "large", "float32", figure, FLOOR_LIMIT, True, problems=problems)]


def _keras(results: Results) -> list[Row]:
    found = []
    for size, limit in KERAS_SPEEDUP.items():
        for dtype in DTYPES:
            ours = results.of("step", role="harness", size=size, dtype=dtype)
            keras = results.of("step", role="rival", size=size, dtype=dtype)
            figure, problems = None, ()
            if ours and keras:
                fast_k, fast_h = (min(rs, key=lambda r: r.min) for rs in (keras, ours))
                figure, problems = fast_k.min / fast_h.min, spread_problems(fast_k, fast_h)
            what = "fastest Keras 3 step / fastest harness step (issue 4)"
            found.append(Row(what, size, dtype, figure, limit, False, problems=problems))
    return found


def _fused(results: Results) -> list[Row]:
    found = []
    for dtype in DTYPES:
        loops = results.of("train", role="harness", name="jax", flavour="fused", dtype=dtype)
        figure = loops[0].min / loops[0].steps if loops else None
        what = "fused JAX training loop (harness network), time per step (issue 4)"
        found.append(Row(what, "homework", dtype, figure, FUSED_STEP_LIMIT_S, True, unit="s"))
    return found
