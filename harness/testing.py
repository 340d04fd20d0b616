"""`assert_close` for other projects' Array-API code, with the harness's tolerance per dtype.

It wraps array-api-extra's `assert_close` (`array_api_extra.testing`), which checks the
namespace, shape, dtype and device of the two arrays before their values, on any library
array_api_compat knows. What the harness adds: the default rtol and atol of float32 and
float64 are `harness.tolerance.DEFAULT`'s, the ones every case is judged by, and NaN never
passes, not even against NaN (matching infinities do).
"""

from __future__ import annotations

from typing import Any

from harness.tolerance import DEFAULT

__all__ = ["assert_close"]


def assert_close(
    actual: Any, desired: Any, *, rtol: float | None = None, atol: float | None = None
) -> None:
    """Fail unless `actual` matches `desired` in namespace, shape, dtype and device, then in
    value: |actual - desired| <= atol + rtol * |desired| elementwise.

    `desired` may be a Python number or nested list; it is then made an array of `actual`'s
    namespace, dtype and device. rtol and atol default to the harness's policy for the dtype
    (float64: 1e-10 and 1e-15, float32: 2e-5 and 1e-6); other dtypes get array-api-extra's.
    """
    __tracebackhide__ = True
    from array_api_compat import array_namespace, device
    from array_api_extra.testing import assert_close as xp_assert_close

    xp = array_namespace(actual)
    if isinstance(desired, int | float | list | tuple):
        desired = xp.asarray(desired, dtype=actual.dtype, device=device(actual))
    policy = _policy(xp, actual.dtype)
    rtol = policy.rtol if rtol is None and policy else rtol
    atol = (policy.atol if policy else 0.0) if atol is None else atol
    xp_assert_close(actual, desired, rtol=rtol, atol=atol, equal_nan=False)


def _policy(xp: Any, dtype: Any):
    """The harness tolerance for this dtype, or None for one the harness has no policy for."""
    for name, tolerance in DEFAULT.items():
        if dtype == getattr(xp, name, None):
            return tolerance
    return None
