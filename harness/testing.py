"""`assert_close` for other projects' Array-API code, with the harness's tolerance per dtype.

It checks what array-api-extra's `assert_close` checks, in its order and words: the namespace,
shape, dtype and device of the two arrays, then their values. The values are copied to NumPy
through `harness.host.to_numpy`, the route every backend's results take, so any array the
harness can read works: ndonnx (whose `np.asarray` gives an object array), pydata/sparse,
dask and cubed (computed), and masked arrays (marray), whose masks must be equal and whose
values are compared where they are not masked. The default rtol and atol of float32 and
float64 are `harness.tolerance.DEFAULT`'s, the ones every case is judged by; other dtypes get
array-api-extra's defaults. NaN never passes, not even against NaN (matching infinities do).
"""

from __future__ import annotations

import math
from typing import Any

from harness.tolerance import DEFAULT

__all__ = ["assert_close"]


def assert_close(
    actual: Any, desired: Any, *, rtol: float | None = None, atol: float | None = None
) -> None:
    """Fail unless `actual` matches `desired` in namespace, shape, dtype and device, then in
    value: |actual - desired| <= atol + rtol * |desired| elementwise, where neither is masked.

    `desired` may be a Python number or nested list; it is then made an array of `actual`'s
    namespace, dtype and device (unmasked). rtol and atol default to the harness's policy for
    the dtype (float64: 1e-10 and 1e-15, float32: 2e-5 and 1e-6); other dtypes get
    array-api-extra's (4 sqrt(eps) for other floating dtypes, 1e-7 otherwise; atol 0).
    """
    __tracebackhide__ = True
    import numpy as np
    from array_api_compat import array_namespace

    xp = array_namespace(actual)
    if isinstance(desired, int | float | list | tuple):
        desired = _like(xp, desired, actual)
    _check_form(xp, actual, desired)
    (got, got_mask), (want, want_mask) = _host(xp, actual), _host(xp, desired)
    if got_mask is not None or want_mask is not None:
        got_mask, want_mask = (np.broadcast_to(m, got.shape) for m in (got_mask, want_mask))
        np.testing.assert_array_equal(got_mask, want_mask, err_msg="masks do not match")
        got, want = got[~got_mask], want[~want_mask]
    rtol, atol = _tolerance(xp, actual.dtype, got.dtype, rtol, atol)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=False)


def _like(xp: Any, values: Any, actual: Any) -> Any:
    """A Python value as an array of `actual`'s namespace, dtype and device."""
    from array_api_compat import device

    try:
        return xp.asarray(values, dtype=actual.dtype, device=device(actual))
    except TypeError:  # a namespace whose asarray takes no device (one device only)
        return xp.asarray(values, dtype=actual.dtype)


def _check_form(xp: Any, actual: Any, desired: Any) -> None:
    """Namespace, shape, dtype and device, in array-api-extra's order and words."""
    __tracebackhide__ = True
    from array_api_compat import array_namespace

    other = array_namespace(desired)
    assert xp == other, (
        "Namespaces of actual and desired arrays do not match.\n"
        f"Actual: {_name(xp)}\nDesired: {_name(other)}."
    )
    shapes = _shape(actual), _shape(desired)
    assert shapes[0] == shapes[1], f"shapes do not match: {shapes[0]} != {shapes[1]}"
    assert actual.dtype == desired.dtype, f"dtypes do not match: {actual.dtype} != {desired.dtype}"
    devices = _device(actual), _device(desired)
    assert devices[0] == devices[1], (
        f"Devices do not match.\nActual: {devices[0]}\nDesired: {devices[1]}"
    )


def _shape(array: Any) -> tuple:
    """The shape, with dask's unknown (NaN) chunk sizes computed first."""
    shape = tuple(array.shape)
    if any(isinstance(n, float) and math.isnan(n) for n in shape) and hasattr(
        array, "compute_chunk_sizes"
    ):
        shape = tuple(array.compute_chunk_sizes().shape)
    return shape


def _device(array: Any) -> Any:
    from array_api_compat import device

    try:
        return device(array)
    except Exception:  # a library with no notion of a device: one place for every array
        return None


def _host(xp: Any, array: Any) -> tuple[Any, Any]:
    """(values, mask or None) as NumPy arrays on the host."""
    from harness.host import to_numpy

    def home() -> Any:
        return xp.asarray(0.0).device

    mask = getattr(array, "mask", None)
    data = getattr(array, "data", None)
    if mask is not None and data is not None and not callable(mask):  # marray's MArray
        return to_numpy(data, home), to_numpy(mask, home).astype(bool)
    return to_numpy(array, home), None


def _tolerance(xp: Any, dtype: Any, host_dtype: Any, rtol, atol) -> tuple[float, float]:
    """The harness policy for float32 and float64; array-api-extra's defaults otherwise."""
    policy = next((t for name, t in DEFAULT.items() if dtype == getattr(xp, name, None)), None)
    if rtol is None:
        rtol = policy.rtol if policy else _extra_rtol(host_dtype)
    if atol is None:
        atol = policy.atol if policy else 0.0
    return float(rtol), float(atol)


def _extra_rtol(host_dtype: Any) -> float:
    import numpy as np

    if np.issubdtype(host_dtype, np.inexact):
        return 4 * float(np.finfo(host_dtype).eps) ** 0.5
    return 1e-7


def _name(xp: Any) -> str:
    return getattr(xp, "__name__", type(xp).__name__)
