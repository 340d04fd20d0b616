"""Every case on every registered backend in every dtype, against goldens and the reference.

The parametrisation (`harness_cell`: ids `case-backend-dtype`, `slow` backends marked) and the
verdict are the conformance suite's (harness.conformance), and each cell runs in its backend's
worker through the session's CellRunner. `--harness-backend NAME` narrows it to one backend.
"""

from harness.conformance.verdicts import assert_cell


def test_case(request, harness_cell):
    assert_cell(request, harness_cell)
