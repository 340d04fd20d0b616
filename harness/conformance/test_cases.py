"""Each case on the backend in each dtype, against its goldens and the float64 reference.

Test ids read `case-dtype` (`case-backend-dtype` when the session runs several backends);
a gradient check's id ends with the case's run: `case-dtype-run`.
"""

from harness.conformance.verdicts import assert_cell, assert_gradient


def test_case(request, harness_cell):
    assert_cell(request, harness_cell)


def test_gradient(request, harness_gradient):
    assert_gradient(request, harness_gradient)
