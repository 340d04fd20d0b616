"""The trace protocol: with `trace=True` a step names every tensor, and each one is right.

A failing cell is explained by comparing the backend's trace with the reference's, tensor by
tensor; a backend that ignores `trace=True`, or names its tensors otherwise, passes every
cell and then explains nothing when one fails. So the conformance suite checks the trace of
each case's first step against the float64 reference: every name the network lists is there,
with its shape, and within the case's tolerance.
"""

from __future__ import annotations

from harness.compare import compare
from harness.manual import REFERENCE
from harness.tasks import batches


def trace_problems(case, channel, dtype: str) -> list[str]:
    """One line per problem with the traced first step of each run of `case`."""
    problems = []
    reference_step = REFERENCE.make_step(case.network, "float64", trace=True)
    for run in case.runs:
        batch = next(iter(batches(case.network, run)))
        expected = reference_step(case.params, batch).trace
        (got,) = channel.steps(case, dtype, True, [(case.params, batch)])
        names = list(expected)
        if run.task.kind == "forward":
            names = names[: names.index("loss")]  # no target: the loss is not part of it
        where = f"{case.name}/{run.name}"
        if missing := [name for name in names if name not in got["trace"]]:
            problems.append(
                f"{where}: the trace lacks {len(missing)} of {len(names)} tensors "
                f"(first: {missing[0]!r}); trace=True must name each (Network.trace)"
            )
        for name in (n for n in names if n in got["trace"]):
            comparison = compare(
                name, "reference", got["trace"][name], expected[name], case.tolerance_for(dtype)
            )
            if not comparison.ok:
                problems.append(f"{where}: traced {comparison.describe()}")
                break
    return problems
