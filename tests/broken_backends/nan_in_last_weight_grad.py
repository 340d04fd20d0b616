"""One NaN planted in the last weight's gradient (grad.w3 in mlp-regression).

With mlp-regression's old float32 atol (1e-9) every float32 report, this one included, named
"layer 2 (Linear) output" first; the NaN must be reported where it is, at grad.w3.
"""

import numpy as np

from broken_backends import Bugged
from harness.protocol import StepResult


def _plant_nan(step):
    def planted(params, batch):
        result = step(params, batch)
        last = max((n for n in result.grads if n.startswith("w")), key=lambda n: int(n[1:]))
        grad = np.array(result.grads[last], copy=True)
        grad[0, 0] = np.nan
        grads = {**result.grads, last: grad}
        return StepResult(result.loss, grads, result.output, result.trace)

    return planted


backend = Bugged("nan-in-last-weight-grad", step_bug=_plant_nan)
