"""The mutation tester's killer (docs/mutation-testing.md): the float64 reference, that is the
hand-written backward on plain NumPy with the Array-API compositions, must meet every stored
golden, and its gradients must match central differences of its own loss.

The goldens judge the forward and the loss (they were printed by the seeds or generated once,
never recomputed here); the central differences judge every backward against its forward.
Together they are what a mutant of harness/layers.py, harness/losses.py,
harness/composites.py or the network's step must get past. Fast enough for the default run.

Each test loads its case itself, not through the session's `registry`: mutmut runs, for each
mutant, only the tests during which the mutated function was called, and a network is built
(its layer factories called) when its case is loaded.
"""

from __future__ import annotations

import pytest

from harness import cases, gradcheck
from harness.compare import compare
from harness.manual import REFERENCE
from harness.tasks import execute
from harness.tolerance import printed_slack

CASES = sorted(path.stem for path in cases.builtin_dir().glob("*.toml"))


@pytest.mark.parametrize("case_name", CASES)
def test_reference_meets_every_golden(case_name):
    case = cases.load(cases.builtin_dir() / f"{case_name}.toml")
    step = REFERENCE.make_step(case.network, "float64")
    for run in case.runs:
        tensors = execute(REFERENCE, case, run, "float64", step).tensors
        for name, golden in run.golden.items():
            tol = case.tolerance_for("float64", golden).widened(printed_slack(golden.decimals))
            comparison = compare(f"{run.name}/{name}", "golden", tensors[name], golden.value, tol)
            assert comparison.ok, comparison.describe()


@pytest.mark.parametrize("case_name", CASES)
def test_reference_backward_matches_central_differences(case_name):
    case = cases.load(cases.builtin_dir() / f"{case_name}.toml")
    for run in (r for r in case.runs if r.task.kind != "forward"):
        batch = gradcheck.first_batch(case, run)
        exact = REFERENCE.make_step(case.network, "float64")(case.params, batch)
        fd = gradcheck.central_difference(case.network, case.params, batch)
        tol = gradcheck.pair_tolerance(case, "float64", float(exact.loss), with_fd=True)
        for name, grad in exact.grads.items():
            comparison = compare(f"{run.name}/grad.{name}", "fd", grad, fd[name], tol)
            assert comparison.ok, comparison.describe()
