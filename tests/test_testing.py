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
