"""The Backend protocol's promises, checked in the backend's worker for each dtype.

This module's name sorts before test_cases.py, and its numerics check comes first, so that
the check sees each worker before any cell has entered `numerics`: a setting that leaks on
the first use cannot hide behind an earlier leak.
"""

from harness.conformance import checks
from harness.conformance.verdicts import assert_protocol


def test_numerics_scopes_what_it_sets(request, harness_protocol):
    assert_protocol(request, harness_protocol, checks.numerics_problems)


def test_from_numpy_copies_and_gives_the_dtype_asked_for(request, harness_protocol):
    assert_protocol(request, harness_protocol, checks.from_numpy_problems)


def test_to_numpy_returns_a_host_numpy_array(request, harness_protocol):
    assert_protocol(request, harness_protocol, checks.to_numpy_problems)
