"""The training form of seed 003's bug: parameter gradients accumulate across steps, never zeroed.

The first step is right; from the second on, each gradient is the sum of all so far.
"""

from broken_backends import Bugged
from harness.protocol import StepResult


def never_zero(step):
    buffer = {}

    def accumulating(params, batch):
        result = step(params, batch)
        for name, grad in result.grads.items():
            buffer[name] = buffer[name] + grad if name in buffer else grad
        grads = dict(buffer)
        trace = {**result.trace, **{f"grad.{k}": v for k, v in grads.items()}}
        return StepResult(result.loss, grads, result.output, trace if result.trace else {})

    return accumulating


backend = Bugged("grads-never-zeroed", step_bug=never_zero)
