"""Every case on every registered backend in every dtype, against goldens and the reference."""

from __future__ import annotations

import pytest

from harness import cases, plugins
from harness.matrix import run_cell
from harness.protocol import DTYPES

CASES = [case.name for case in cases.load_dir()[0]]
BACKENDS = list(plugins.discover())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend_name", BACKENDS)
@pytest.mark.parametrize("case_name", CASES)
def test_case(case_name, backend_name, dtype, registry, reference, load_backend):
    backend = load_backend(backend_name)
    cell = run_cell(registry[case_name], backend, dtype, reference)
    if cell.status == "skip":
        pytest.skip(cell.message)
    details = "\n".join(c.describe() for c in cell.comparisons if not c.ok)
    assert cell.status == "pass", f"{cell.message}\n{details}"
