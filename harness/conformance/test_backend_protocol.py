"""The Backend protocol's promises: observed in the backend's worker, judged here, per dtype.

This module's name sorts before test_cases.py, and its numerics check comes first, so that
the check sees each worker before any cell has entered `numerics`: a setting that leaks on
the first use cannot hide behind an earlier leak.
"""

from harness.conformance.verdicts import assert_protocol, assert_trace


def test_numerics_scopes_what_it_sets(request, harness_protocol):
    assert_protocol(request, harness_protocol, "numerics")


def test_from_numpy_copies_and_gives_the_dtype_asked_for(request, harness_protocol):
    assert_protocol(request, harness_protocol, "from_numpy")


def test_from_numpy_keeps_token_ids_exact(request, harness_protocol):
    assert_protocol(request, harness_protocol, "token_ids")


def test_to_numpy_returns_a_host_numpy_array(request, harness_protocol):
    assert_protocol(request, harness_protocol, "to_numpy")


def test_trace_names_every_tensor_and_agrees(request, harness_protocol):
    assert_trace(request, harness_protocol)
