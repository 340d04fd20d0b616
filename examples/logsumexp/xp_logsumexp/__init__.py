"""log(sum(exp(x))) without overflow, on whatever Array-API library `x` comes from."""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import array_namespace

__all__ = ["logsumexp"]


def logsumexp(x: Any, /, *, axis: int | None = None, keepdims: bool = False) -> Any:
    """Shift by the maximum so that exp never overflows; an all -inf slice gives -inf."""
    xp = array_namespace(x)
    peak = xp.max(x, axis=axis, keepdims=True)
    peak = xp.where(xp.isfinite(peak), peak, xp.zeros_like(peak))  # -inf - -inf would be NaN
    summed = xp.sum(xp.exp(x - peak), axis=axis, keepdims=True)
    empty = summed == 0  # every term was exp(-inf): log(0) is -inf, without a warning
    logged = xp.log(xp.where(empty, xp.ones_like(summed), summed)) + peak
    total = xp.where(empty, xp.full_like(summed, -math.inf), logged)
    if keepdims:
        return total
    return xp.reshape(total, ()) if axis is None else xp.squeeze(total, axis=axis)
