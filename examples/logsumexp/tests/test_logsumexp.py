"""logsumexp on every installed array library, in float32 and float64.

`xp` and `xp_dtype` come from xp-harness's pytest plugin, which pip installed with it: one test
per library and dtype, with the library's numerics set for the dtype (JAX x64 for float64).
"""

import math

import pytest
from harness.testing import assert_close

from xp_logsumexp import logsumexp


def test_known_value(xp, xp_dtype):
    x = xp.log(xp.asarray([1.0, 2.0, 3.0], dtype=xp_dtype))
    result = logsumexp(x)
    assert result.dtype == xp_dtype
    assert_close(result, math.log(6.0))


def test_large_values_do_not_overflow(xp, xp_dtype):
    x = xp.asarray([1000.0, 1000.0], dtype=xp_dtype)
    assert_close(logsumexp(x), 1000.0 + math.log(2.0))


def test_an_all_minus_infinity_slice_gives_minus_infinity(xp, xp_dtype):
    x = xp.asarray([[-math.inf, -math.inf], [0.0, 0.0]], dtype=xp_dtype)
    assert_close(logsumexp(x, axis=1), [-math.inf, math.log(2.0)])


@pytest.mark.parametrize("keepdims", [False, True])
def test_each_row_along_an_axis(xp, xp_dtype, keepdims):
    x = xp.asarray([[0.5, -1.0, 2.0], [3.0, 3.0, -4.0]], dtype=xp_dtype)
    rows = [logsumexp(x[i, :]) for i in range(2)]
    expected = xp.stack(rows)
    if keepdims:
        expected = xp.reshape(expected, (2, 1))
    assert_close(logsumexp(x, axis=1, keepdims=keepdims), expected)


@pytest.mark.skip_xp("jax", reason="JAX arrays are immutable: there is nothing to overwrite")
def test_the_input_is_left_alone(xp, xp_dtype):
    x = xp.asarray([0.25, -2.0], dtype=xp_dtype)
    before = xp.asarray(x, copy=True)
    logsumexp(x)
    assert_close(x, before)
