"""harness.testing.assert_close: form before values, then the harness tolerance for the dtype."""

from __future__ import annotations

import numpy as np
import pytest

from harness.testing import assert_close
from harness.tolerance import DEFAULT

strict = pytest.importorskip("array_api_strict")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_default_tolerance_is_the_harness_policy_for_the_dtype(dtype):
    rtol = DEFAULT[dtype].rtol
    desired = strict.asarray([1.0, -3.0, 200.0], dtype=getattr(strict, dtype))
    assert_close(desired * (1 + rtol / 4), desired)
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        assert_close(desired * (1 + rtol * 4), desired)


def test_the_default_atol_is_the_harness_policy_too():
    zero = strict.zeros(2, dtype=strict.float32)
    assert_close(zero + DEFAULT["float32"].atol / 2, zero)
    with pytest.raises(AssertionError):
        assert_close(zero + DEFAULT["float32"].atol * 2, zero)


def test_explicit_tolerances_win():
    desired = strict.asarray([1.0], dtype=strict.float64)
    assert_close(desired * 1.01, desired, rtol=0.02)
    with pytest.raises(AssertionError):
        assert_close(desired + 0.5, desired, rtol=0.0, atol=0.1)


@pytest.mark.parametrize(
    ("actual", "desired", "message"),
    [
        (np.asarray([1.0]), strict.asarray([1.0]), "Namespaces of actual and desired"),
        (strict.asarray([1.0, 2.0]), strict.asarray([1.0]), "shapes do not match"),
        (
            strict.asarray([1.0], dtype=strict.float32),
            strict.asarray([1.0], dtype=strict.float64),
            "dtypes do not match",
        ),
        (
            strict.asarray([1.0], device=strict.Device("device1")),
            strict.asarray([1.0]),
            "Devices do not match",
        ),
    ],
    ids=["namespace", "shape", "dtype", "device"],
)
def test_form_is_checked_before_values(actual, desired, message):
    with pytest.raises(AssertionError, match=message):
        assert_close(actual, desired)


def test_nan_never_passes_not_even_against_nan():
    nan = strict.asarray([float("nan")])
    with pytest.raises(AssertionError):
        assert_close(nan, nan)
    inf = strict.asarray([float("inf")])
    assert_close(inf, inf)


def test_a_python_number_or_list_takes_the_actual_arrays_form():
    actual = strict.asarray([0.5, 1.5], dtype=strict.float32, device=strict.Device("device1"))
    assert_close(actual, [0.5, 1.5])
    assert_close(strict.sum(actual), 2.0)
    with pytest.raises(AssertionError):
        assert_close(actual, [0.5, 1.6])


def _ndonnx(values, dtype):
    ndx = pytest.importorskip("ndonnx")
    return ndx.asarray(np.asarray(values, dtype=dtype))


def _namespace_of(module: str):
    """The Array-API namespace of a library's arrays (dask.array's is array_api_compat's)."""

    def make(values, dtype):
        library = pytest.importorskip(module)
        from array_api_compat import array_namespace

        xp = array_namespace(library.asarray(np.zeros(1)))
        return xp.asarray(np.asarray(values, dtype=dtype))

    return make


LIBRARIES = {
    "ndonnx": _ndonnx,
    "sparse": _namespace_of("sparse"),
    "dask": _namespace_of("dask.array"),
    "cubed": _namespace_of("cubed.array_api"),
}
"""Arrays that `np.asarray` cannot read as numbers (ndonnx), has no buffer for (sparse), or
must compute first (dask, cubed): `harness.host.to_numpy` reads them all."""


@pytest.mark.filterwarnings("ignore:onnxruntime is not installed:UserWarning")
@pytest.mark.parametrize("library", list(LIBRARIES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_any_array_the_harness_can_read_is_compared_by_value(library, dtype):
    make = LIBRARIES[library]
    rtol = DEFAULT[dtype].rtol
    actual = make([1.0, -3.0, 200.0], dtype)
    assert_close(actual, make([1.0, -3.0, 200.0 * (1 + rtol / 4)], dtype))
    assert_close(actual, [1.0, -3.0, 200.0])
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        assert_close(actual, make([1.0, -3.0, 200.0 * (1 + rtol * 4)], dtype))
    with pytest.raises(AssertionError, match="shapes do not match"):
        assert_close(actual, make([1.0, -3.0], dtype))
    nan = make([float("nan")], dtype)
    with pytest.raises(AssertionError):
        assert_close(nan, nan)


def test_a_masked_array_compares_its_mask_and_only_the_values_it_does_not_mask():
    marray = pytest.importorskip("marray")
    xp = marray.masked_namespace(np)
    actual = xp.asarray([1.0, 2.0, 3.0], mask=[False, True, False])
    assert_close(actual, xp.asarray([1.0, 99.0, 3.0], mask=[False, True, False]))
    with pytest.raises(AssertionError, match="masks do not match"):
        assert_close(actual, xp.asarray([1.0, 2.0, 3.0], mask=[False, False, False]))
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        assert_close(actual, xp.asarray([1.0, 2.0, 3.5], mask=[False, True, False]))
    nan = xp.asarray([float("nan"), 0.0], mask=[False, True])
    with pytest.raises(AssertionError):
        assert_close(nan, nan)
