"""How results look: the run table, the JSON file, and seed-style printouts."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

import numpy as np

from harness.matrix import STATUSES, Cell

COLUMNS = (
    "case",
    "backend",
    "dtype",
    "status",
    "ref abs",
    "ref rel",
    "gold abs",
    "gold rel",
    "time",
)
WIDTHS = (24, 16, 8, 7, 8, 8, 8, 8, 6)
GRADCHECK_COLUMNS = ("case", "manual", "autograd", "dtype", "status", "m~a", "m~fd", "a~fd")
GRADCHECK_WIDTHS = (24, 16, 16, 8, 8, 8, 8, 8)


def header() -> str:
    """Errors against the float64 reference (full precision) and the seeds' golden values
    (at their printed precision) are kept apart: the second is mostly printing rounding."""
    return _row(COLUMNS) + "\n" + _row(["-" * w for w in WIDTHS])


def table_row(cell: Cell) -> str:
    values = (
        cell.case,
        cell.backend,
        cell.dtype,
        cell.status,
        *map(_err, cell.worst("reference")),
        *map(_err, cell.worst("golden")),
        f"{cell.seconds:.2f}s" if cell.status != "skip" else "",
    )
    line = _row(values)
    return f"{line}  {cell.message}" if cell.message else line


def divergences(cells: Iterable[Cell]) -> str:
    """Each failing cell's first divergence from the reference, with both values' excerpts."""
    blocks = [
        f"{cell.case} / {cell.backend} / {cell.dtype}\n{cell.diagnosis.describe()}"
        for cell in cells
        if cell.diagnosis is not None
    ]
    return "\n\n".join(blocks)


def gradcheck_header() -> str:
    """Max abs differences between manual (m), autograd (a) and float64 central differences
    of the reference loss (fd), at each run's first step, worst over runs and parameters."""
    title = "three-way gradient check: manual (m) vs autograd (a) vs finite differences (fd)"
    rule = _row(["-" * w for w in GRADCHECK_WIDTHS], GRADCHECK_WIDTHS)
    return f"{title}\n{_row(GRADCHECK_COLUMNS, GRADCHECK_WIDTHS)}\n{rule}"


def gradcheck_row(check) -> str:
    pairs = [check.pairs.get(key) for key in ("manual~autograd", "manual~fd", "autograd~fd")]
    errors = ["" if c is None else (_err(c.max_abs) or "nan") for c in pairs]
    values = (check.case, check.manual, check.autograd, check.dtype, check.status, *errors)
    line = f"{_row(values, GRADCHECK_WIDTHS):<{sum(GRADCHECK_WIDTHS) + 14}}  {check.verdict}"
    sampled = {m.group(1) for c in pairs if c and (m := _SAMPLED.search(c.name))}
    return f"{line} ({'; '.join(sorted(sampled))})" if sampled else line


_SAMPLED = re.compile(r"\((fd sampled \d+ of [\d,]+ coordinates \(seed \d+\))\)")
"""The note harness.gradcheck puts in a compared tensor's name when fd took a sample."""


GRADCHECK_STATUSES = ("agree", "disagree", "error", "skip")


def gradcheck_summary(checks: Iterable) -> str:
    """`12 checks: 11 agree, 1 disagree, 0 error, 0 skip`, as the cell table ends."""
    checks = list(checks)
    counts = ", ".join(f"{sum(c.status == s for c in checks)} {s}" for s in GRADCHECK_STATUSES)
    return f"{len(checks)} gradient check{'' if len(checks) == 1 else 's'}: {counts}"


def summary(cells: Iterable[Cell]) -> str:
    cells = list(cells)
    counts = {s: sum(c.status == s for c in cells) for s in STATUSES}
    parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in STATUSES[:4])
    return f"{len(cells)} cell{'' if len(cells) == 1 else 's'}: {parts}"


def seed_style(name: str, value: np.ndarray) -> str:
    """Print a tensor as the homework's NumPy cells did: `name : value` or `name : \\n[...]`."""
    if value.ndim == 0:
        return f"{name} : {value.item()!r}"
    return f"{name} : \n{np.array2string(value, precision=8)}"


def _err(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.1e}"


def _row(values, widths=WIDTHS) -> str:
    return "  ".join(f"{v!s:<{w}}" for v, w in zip(values, widths, strict=True)).rstrip()
