"""Two tensors side by side around their worst element, with enough digits to tell them apart.

A backend that is off in the 9th digit would print the same 7 digits as the reference, and the
reader would see two equal rows under a "max abs err 3e-09" headline. So the excerpt prints as
many significant digits as the worst element needs for its two values to read differently
(at least `MIN_DIGITS`, at most 17, which identifies any float64).
"""

from __future__ import annotations

import numpy as np

EXCERPT_WIDTH = 6
"""How many neighbouring values of the worst element an excerpt shows."""

MIN_DIGITS = 7
MAX_DIGITS = 17


def excerpt(actual, expected) -> list[str]:
    """Both sides around the worst element: the row that holds it, a few values wide."""
    if actual is None or expected is None:
        return []
    a, b = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape or a.ndim == 0:
        shown = aligned(a.ravel()[:EXCERPT_WIDTH], b.ravel()[:EXCERPT_WIDTH])
        return [f"  backend    {shown[0]}", f"  reference  {shown[1]}"]
    at = worst_index(a, b)
    row_a, row_b = a[at[:-1]], b[at[:-1]]
    start = max(0, min(at[-1] - EXCERPT_WIDTH // 2, row_a.size - EXCERPT_WIDTH))
    stop = min(start + EXCERPT_WIDTH, row_a.size)
    digits = digits_to_tell_apart(a[at], b[at])
    shown = aligned(row_a[start:stop], row_b[start:stop], digits=digits)
    where = ", ".join([*map(str, at[:-1]), f"{start}:{stop}"])
    return [
        f"  [{where}] (worst at [{', '.join(map(str, at))}])",
        f"  backend    {shown[0]}",
        f"  reference  {shown[1]}",
    ]


def worst_index(a: np.ndarray, b: np.ndarray) -> tuple[int, ...]:
    """Index of the largest difference; a non-finite value counts as the largest."""
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - b)
    diff[~np.isfinite(diff)] = np.inf
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), a.shape))


def digits_to_tell_apart(a: float, b: float) -> int:
    """The fewest significant digits (>= MIN_DIGITS) at which `a` and `b` print differently."""
    for digits in range(MIN_DIGITS, MAX_DIGITS + 1):
        if _text(a, digits) != _text(b, digits):
            return digits
    return MIN_DIGITS  # equal values: nothing to tell apart


def aligned(*rows: np.ndarray, digits: int = MIN_DIGITS) -> list[str]:
    """Each row as `[v, v, ...]` with `digits` significant digits, columns aligned."""
    texts = [[_text(v, digits) for v in row.ravel()] for row in rows]
    widths = [max(len(t[i]) for t in texts if i < len(t)) for i in range(max(map(len, texts)))]
    return [
        "[" + ", ".join(v.rjust(w) for v, w in zip(t, widths, strict=False)) + "]" for t in texts
    ]


def _text(value: float, digits: int) -> str:
    return f"{value + 0.0:.{digits}g}"  # + 0.0: no "-0"
