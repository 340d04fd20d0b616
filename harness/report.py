"""How results look: the run table, the JSON file, and seed-style printouts."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from harness.matrix import Cell, as_record

COLUMNS = ("case", "backend", "dtype", "status", "ref abs", "ref rel", "gold abs", "gold rel", "time")
WIDTHS = (24, 16, 8, 6, 8, 8, 8, 8, 6)


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


def summary(cells: Iterable[Cell]) -> str:
    cells = list(cells)
    counts = {s: sum(c.status == s for c in cells) for s in ("pass", "fail", "error", "skip")}
    parts = ", ".join(f"{n} {s}" for s, n in counts.items())
    return f"{len(cells)} cells: {parts}"


def write_json(path: Path, cells: Iterable[Cell], meta: dict) -> None:
    """One record per cell; non-finite numbers are written as the strings "nan", "inf"."""
    doc = {**meta, "cells": [as_record(c) for c in cells]}
    Path(path).write_text(json.dumps(_finite(doc), indent=1) + "\n")


def seed_style(name: str, value: np.ndarray) -> str:
    """Print a tensor as the homework's NumPy cells did: `name : value` or `name : \\n[...]`."""
    if value.ndim == 0:
        return f"{name} : {value.item()!r}"
    return f"{name} : \n{np.array2string(value, precision=8)}"


def _err(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.1e}"


def _row(values) -> str:
    return "  ".join(f"{str(v):<{w}}" for v, w in zip(values, WIDTHS, strict=True)).rstrip()


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
