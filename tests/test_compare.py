"""The one comparison helper: NaN/inf never pass, shapes must match, the isclose rule holds."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from harness.compare import compare
from harness.protocol import DTYPES
from harness.tolerance import DEFAULT, Tolerance, printed_slack

F64 = DEFAULT["float64"]
# The whole finite range, subnormals and values whose difference overflows included.
FINITE = st.floats(allow_nan=False, allow_infinity=False)
TOLERANCES = st.builds(Tolerance, rtol=st.floats(0, 1), atol=st.floats(0, 1))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_actual_never_passes(bad, dtype):
    actual = np.array([1.0, bad, 3.0], dtype=dtype)
    expected = np.array([1.0, 2.0, 3.0])
    # Even a tolerance that accepts any finite difference must not let it through.
    result = compare("t", "golden", actual, expected, Tolerance(math.inf, math.inf))
    assert not result.ok
    assert "non-finite" in result.problem
    assert "1 non-finite" in result.describe()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_against_the_same_non_finite_never_passes(bad):
    """NaN == NaN (as `equal_nan` would say) and inf == inf are not agreement."""
    same = np.array([bad, 1.0])
    result = compare("t", "reference", same, same.copy(), F64)
    assert not result.ok
    assert result.problem


def test_non_finite_expected_never_passes():
    result = compare("t", "golden", np.array([1.0, 2.0]), np.array([1.0, math.nan]), F64)
    assert not result.ok
    assert "not finite" in result.problem


@pytest.mark.parametrize(
    ("actual_shape", "expected_shape"),
    [((2,), (1, 2)), ((1, 2), (2, 1)), ((), (1,)), ((3, 4), (4, 3))],
)
def test_shape_mismatch_fails_with_both_shapes_in_the_message(actual_shape, expected_shape):
    actual = np.zeros(actual_shape)
    expected = np.zeros(expected_shape)
    result = compare("run/grad.w1", "golden", actual, expected, F64)
    assert not result.ok
    assert str(actual_shape) in result.problem
    assert str(expected_shape) in result.problem
    assert result.describe().startswith("run/grad.w1 vs golden: shape")
    assert "\n" not in result.describe()


def test_shape_check_comes_before_values():
    """Broadcastable shapes must not be compared by broadcasting."""
    result = compare("t", "golden", np.ones((2, 2)), np.ones(2), F64)
    assert not result.ok
    assert "shape" in result.problem


def test_isclose_rule_boundary_is_inclusive():
    """|a - b| <= atol + rtol * |b|: exactly on the bound passes, just beyond it fails."""
    tol = Tolerance(rtol=0.5, atol=0.25)  # powers of two: the bound is exact in binary
    expected = np.array([0.0, 1.0, -2.0])
    bound = tol.atol + tol.rtol * np.abs(expected)
    on_bound = compare("t", "golden", expected + bound, expected, tol)
    assert on_bound.ok, on_bound.describe()
    beyond = compare("t", "golden", expected + np.nextafter(bound, np.inf), expected, tol)
    assert not beyond.ok
    assert "beyond tolerance" in beyond.describe()


def test_rtol_scales_with_expected_not_actual():
    """The rule is asymmetric: the tolerance scales with the expected value, as in isclose."""
    tol = Tolerance(rtol=0.5, atol=0.0)
    # |10 - 6| = 4 > 0.5 * 6 = 3 but < 0.5 * 10 = 5.
    assert not compare("t", "golden", 10.0, 6.0, tol).ok
    assert compare("t", "golden", 6.0, 10.0, tol).ok


@settings(max_examples=200, deadline=None)
@given(data=st.data(), tol=TOLERANCES)
def test_pass_rule_is_numpy_isclose(data, tol):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4))
    expected = data.draw(hnp.arrays(np.float64, shape, elements=FINITE))
    actual = data.draw(hnp.arrays(np.float64, shape, elements=FINITE))
    result = compare("t", "golden", actual, expected, tol)
    with np.errstate(over="ignore"):  # the oracle's own a - b may overflow
        close = np.isclose(actual, expected, rtol=tol.rtol, atol=tol.atol)
    assert result.ok == bool(np.all(close))


def test_extreme_magnitudes_give_no_warning():
    """Overflowing differences and subnormal expected values: a verdict, never a warning."""
    huge = compare("t", "golden", np.array([1e308]), np.array([-1e308]), F64)
    assert not huge.ok
    assert huge.max_abs == math.inf
    noise = F64.atol / 10
    tiny = compare("t", "golden", np.array([noise]), np.array([5e-324]), F64)
    assert tiny.ok  # within atol: a value that should be zero, off by rounding noise
    assert tiny.max_rel > 1e300  # reported as it is: huge, relative to a subnormal


def test_max_abs_and_max_rel():
    actual = np.array([[1.0, 2.5], [-4.0, 0.75]])
    expected = np.array([[1.0, 2.0], [-5.0, 1.0]])
    result = compare("t", "golden", actual, expected, F64)
    assert result.max_abs == 1.0  # |-4 - -5|
    assert result.max_rel == 0.25  # 0.5 / 2 and 0.25 / 1 tie; 1 / 5 is smaller


def test_rel_error_ignores_zero_expected_entries():
    """A zero expected value has no relative error; its miss still shows in max_abs."""
    actual = np.array([3.0, 1.01, -0.0])
    expected = np.array([0.0, 1.0, 0.0])
    result = compare("t", "golden", actual, expected, F64)
    assert result.max_abs == 3.0
    assert math.isfinite(result.max_rel)
    assert result.max_rel == pytest.approx(0.01, rel=F64.rtol)
    assert not result.ok


def test_all_zero_expected_has_zero_rel_error():
    noise = F64.atol / 10
    result = compare("t", "golden", np.array([0.0, noise]), np.zeros(2), F64)
    assert result.max_rel == 0.0
    assert result.max_abs == noise
    assert result.ok  # within atol: a ReLU-blocked gradient with rounding noise


def test_empty_and_scalar_inputs():
    assert compare("t", "golden", np.zeros((0, 3)), np.zeros((0, 3)), F64).ok
    scalar = compare("loss", "golden", np.float32(0.5), 0.5, DEFAULT["float32"])
    assert scalar.ok
    assert (scalar.max_abs, scalar.max_rel) == (0.0, 0.0)


def test_float32_actual_is_compared_in_float64():
    """A float32 result against a float64 golden: the rounding to float32 is the only error."""
    expected = 0.1  # not representable: float32 rounds it differently from float64
    actual = np.float32(expected)
    result = compare("loss", "golden", actual, expected, DEFAULT["float32"])
    assert result.ok
    assert result.max_abs == abs(float(actual) - expected) > 0


def test_widened_adds_slack_to_atol_only():
    base = DEFAULT["float32"]
    wide = base.widened(printed_slack(4))
    assert wide == Tolerance(base.rtol, base.atol + 0.5e-4)
    assert base == DEFAULT["float32"]  # a new object; the default is untouched
    assert base.widened(printed_slack(None)) == base


@pytest.mark.parametrize(("decimals", "slack"), [(None, 0.0), (0, 0.5), (4, 5e-5), (8, 5e-9)])
def test_printed_slack_is_half_a_unit_in_the_last_place(decimals, slack):
    assert printed_slack(decimals) == pytest.approx(slack, rel=F64.rtol, abs=0.0)


@settings(max_examples=200, deadline=None)
@given(value=st.floats(-100, 100), decimals=st.integers(0, 10), dtype=st.sampled_from(DTYPES))
def test_a_value_rounded_for_printing_passes_with_its_slack(value, decimals, dtype):
    """What a seed printed at `decimals` places must pass against the exact value."""
    printed = round(value, decimals)
    tol = DEFAULT[dtype].widened(printed_slack(decimals))
    assert compare("t", "golden", value, printed, tol).ok


def test_printed_slack_is_not_more_than_half_a_unit():
    """One unit in the last printed place off is a real disagreement."""
    tol = DEFAULT["float64"].widened(printed_slack(4))
    assert compare("t", "golden", 0.10314999, 0.1031, tol).ok
    assert not compare("t", "golden", 0.10315001, 0.1031, tol).ok
