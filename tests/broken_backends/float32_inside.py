"""Computes in float32 and returns float64 arrays: every value agrees with the reference to
about 1e-7, never to float64's 1e-10. The report must say it computes below its dtype."""

import numpy as np

from broken_backends import Bugged
from harness.protocol import StepResult


def _in_float32(step):
    def narrowed(params, batch):
        def down(arrays):
            return {k: np.asarray(v, dtype=np.float32) for k, v in arrays.items()}

        def up(arrays):
            return {k: np.asarray(v, dtype=np.float64) for k, v in arrays.items()}

        result = step(down(params), down(batch))
        (loss, output) = (np.asarray(v, dtype=np.float64) for v in (result.loss, result.output))
        return StepResult(loss, up(result.grads), output, up(result.trace))

    return narrowed


backend = Bugged("float32-inside", step_bug=_in_float32)
