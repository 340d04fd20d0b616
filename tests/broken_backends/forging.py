"""A plugin module that tries to forge its verdicts from inside its worker, at import.

It replaces what used to judge a cell in the backend's process (`matrix.run_cell`,
`gradcheck.backend_gradient`) and widens the tolerance policy in place; then its steps
return zeros, or a bias gradient 1.5 times too large. A judge that runs where plugin code
runs would pass both; the harness must fail every one of their cells.
"""

from __future__ import annotations

from broken_backends import Bugged
from harness.protocol import StepResult


def _zeros(step):
    """A step that returns zeros of the right shapes and dtypes: wrong, unless judged blind."""

    def zeros(params, batch):
        result = step(params, batch)
        grads = {k: v * 0 for k, v in result.grads.items()}
        return StepResult(result.loss * 0, grads, result.output * 0, result.trace)

    return zeros


def _forge() -> None:
    """Replace, in this process, everything that used to judge a cell here."""
    import harness.gradcheck
    import harness.matrix
    from harness import tolerance

    def forged_cell(case, backend, dtype, reference):
        return harness.matrix.Cell(case.name, "forges-verdicts", dtype, "pass")

    harness.matrix.run_cell = forged_cell
    harness.gradcheck.backend_gradient = lambda *args: {}
    for dtype in list(tolerance.DEFAULT):
        tolerance.DEFAULT[dtype] = tolerance.Tolerance(rtol=1e9, atol=1e9)


_forge()
forges_verdicts = Bugged("forges-verdicts", step_bug=_zeros)


def _bias_bug(step):
    def wrong(params, batch):
        result = step(params, batch)
        grads = {k: (v * 1.5 if k.startswith("b") else v) for k, v in result.grads.items()}
        return StepResult(result.loss, grads, result.output, result.trace)

    return wrong


widens_tolerance = Bugged("widens-tolerance", step_bug=_bias_bug)
"""Its module (this one) widened harness.tolerance.DEFAULT in place at import (`_forge`)."""
