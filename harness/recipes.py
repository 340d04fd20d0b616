"""Build a case's named arrays from its `[arrays]` table: inline values or seeded recipes.

Each entry is one of
- an inline number or nested list;
- `{ arange = [start, stop, step], shape = [...] }`, NumPy's arange, reshaped;
- `{ draw = "random" | "uniform" | "uniform_fan_in" | "integers", shape = [...], ... }`,
  drawn in file order from one `numpy.random.default_rng(seed)` (the case's `[random] seed`);
  "integers" draws whole numbers in [low, high) (`rng.integers`), token ids say;
- `{ compute = "half_sum_of_squares", of = NAME }`, seed 004's target (x0² + x1²)/2, as a
  column; `{ compute = "one_hot", of = NAME, classes = C }`, the one-hot rows (one more
  axis, of width C) of an array of class labels in [0, C).
Every recipe is written in the case file, so the data can be rebuilt without the harness.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from harness.network import SpecError, reject_unknown

DRAWS = ("random", "uniform", "uniform_fan_in", "integers")
COMPUTES = ("half_sum_of_squares", "one_hot")


def build_arrays(table: Any, seed: int | None) -> dict[str, np.ndarray]:
    """Evaluate every entry of `[arrays]` in order, sharing one generator between draws."""
    if not isinstance(table, Mapping) or not table:
        raise SpecError("arrays", "must be a non-empty table of named arrays")
    rng = np.random.default_rng(seed) if seed is not None else None
    arrays: dict[str, np.ndarray] = {}
    for name, entry in table.items():
        where = f"arrays.{name}"
        if isinstance(entry, Mapping):
            arrays[name] = _recipe(entry, where, rng, arrays)
        else:
            arrays[name] = _inline(entry, where)
    return arrays


def declared_shape(entry: Any) -> tuple[int, ...] | None:
    """The shape an `[arrays]` entry will have, read without building it; None when the
    entry does not say (or is malformed: building it then names the problem)."""
    try:
        if isinstance(entry, Mapping) and "shape" in entry:
            return tuple(int(n) for n in entry["shape"])
        if isinstance(entry, Mapping) and "arange" in entry:
            start, stop, step = (float(v) for v in entry["arange"])
            return (max(0, math.ceil((stop - start) / step)),)
        if isinstance(entry, list):
            shape = []
            while isinstance(entry, list):
                shape.append(len(entry))
                entry = entry[0] if entry else None
            return tuple(shape)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return None


def _inline(entry: Any, where: str) -> np.ndarray:
    try:
        array = np.asarray(entry, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecError(where, f"is not a rectangular array of numbers ({exc})") from None
    if not np.all(np.isfinite(array)):
        raise SpecError(where, "holds a non-finite number")
    return array


RECIPE_FIELDS = {
    "arange": ("arange", "shape"),
    "random": ("draw", "shape"),
    "uniform": ("draw", "shape", "low", "high"),
    "uniform_fan_in": ("draw", "shape", "fan_in"),
    "integers": ("draw", "shape", "low", "high"),
    "half_sum_of_squares": ("compute", "of"),
    "one_hot": ("compute", "of", "classes"),
}


def _recipe(entry: Mapping[str, Any], where: str, rng, arrays) -> np.ndarray:
    kind = "arange" if "arange" in entry else entry.get("compute", entry.get("draw"))
    if isinstance(kind, str) and kind in RECIPE_FIELDS:
        reject_unknown(entry, RECIPE_FIELDS[kind], where)
    if "arange" in entry:
        start, stop, step = _numbers(entry["arange"], 3, f"{where}.arange")
        if step == 0:
            raise SpecError(f"{where}.arange", "step must not be zero")
        try:
            values = np.arange(start, stop, step)
        except (ValueError, MemoryError) as exc:
            raise SpecError(f"{where}.arange", f"cannot be built: {exc}") from None
        return _reshape(values, entry, where)
    if "draw" in entry:
        if rng is None:
            raise SpecError(where, "draws from the generator but the case has no [random] seed")
        return _draw(entry, where, rng)
    if "compute" in entry:
        return _compute(entry, where, arrays)
    raise SpecError(where, "needs one of: a list of numbers, arange, draw, compute")


def _draw(entry: Mapping[str, Any], where: str, rng) -> np.ndarray:
    kind = entry["draw"]
    shape = _shape(entry, where)
    if kind == "random":
        return rng.random(shape)
    if kind == "uniform":
        low, high = _numbers([entry.get("low"), entry.get("high")], 2, f"{where}.low/high")
        return rng.uniform(low, high, shape)
    if kind == "integers":
        low, high = _numbers([entry.get("low"), entry.get("high")], 2, f"{where}.low/high")
        if not (low.is_integer() and high.is_integer() and low < high):
            raise SpecError(
                f"{where}.low/high", f"need whole numbers low < high, got {low}, {high}"
            )
        return rng.integers(int(low), int(high), shape)
    if kind == "uniform_fan_in":
        (fan_in,) = _numbers([entry.get("fan_in")], 1, f"{where}.fan_in")
        if fan_in <= 0:
            raise SpecError(f"{where}.fan_in", f"must be positive, got {fan_in}")
        bound = 1.0 / math.sqrt(fan_in)
        return rng.uniform(-bound, bound, shape)
    raise SpecError(f"{where}.draw", f"unknown draw {kind!r} (known: {', '.join(DRAWS)})")


def _compute(entry: Mapping[str, Any], where: str, arrays) -> np.ndarray:
    kind, source = entry["compute"], entry.get("of")
    if kind not in COMPUTES:
        raise SpecError(f"{where}.compute", f"unknown {kind!r} (known: {', '.join(COMPUTES)})")
    if not isinstance(source, str) or source not in arrays:
        raise SpecError(f"{where}.of", f"names no earlier array: {source!r}")
    x = arrays[source]
    if kind == "one_hot":
        return _one_hot(x, entry.get("classes"), where)
    return np.sum(x * x, axis=1, keepdims=True) / 2.0


def _one_hot(labels: np.ndarray, classes: Any, where: str) -> np.ndarray:
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise SpecError(f"{where}.classes", f"must be a positive integer, got {classes!r}")
    if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < classes)):
        raise SpecError(f"{where}.of", f"labels must be whole numbers in [0, {classes})")
    return np.eye(classes)[labels.astype(np.int64)]


def _reshape(array: np.ndarray, entry, where: str) -> np.ndarray:
    if "shape" not in entry:
        return array
    shape = _shape(entry, where)
    if math.prod(shape) != array.size:
        raise SpecError(f"{where}.shape", f"{list(shape)} does not fit {array.size} values")
    return array.reshape(shape)


def _shape(entry, where: str) -> tuple[int, ...]:
    shape = entry.get("shape")
    if not isinstance(shape, list) or not all(isinstance(n, int) and n > 0 for n in shape):
        raise SpecError(f"{where}.shape", f"must be a list of positive integers, got {shape!r}")
    return tuple(shape)


def _numbers(values, count: int, where: str) -> list[float]:
    ok = isinstance(values, list) and len(values) == count
    if not ok or not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
        raise SpecError(where, f"needs {count} finite number(s), got {values!r}")
    return [float(v) for v in values]
