"""Every case on every registered backend in every dtype, against goldens and the reference."""

from __future__ import annotations

import pytest

from harness import cases, plugins
from harness.matrix import run_cell
from harness.protocol import DTYPES

CASES = [case.name for case in cases.load_dir()[0]]
SLOW = pytest.mark.slow
# torch.compile's first call warns from inside torch; the warning is torch's, not ours.
TORCH_JIT_DEPRECATION = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)


def _param(name: str):
    """A backend that declares itself `slow` (torch-compile) runs only with `-m slow`."""
    slow = getattr(plugins.load(name), "slow", False)
    return pytest.param(name, marks=[SLOW, TORCH_JIT_DEPRECATION] if slow else [])


BACKENDS = [_param(name) for name in plugins.discover()]


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
