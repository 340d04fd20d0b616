"""A bug only in the fast step: with trace=False (what the harness trains with) every gradient
comes back doubled, as from a fused or compiled path the traced step does not take.

The traced replay agrees everywhere; the report must say that the fast step diverges, not
that "the difference builds up over steps" (a one-step gradient task has no steps to build up).
"""

from broken_backends import Bugged
from harness.protocol import StepResult


def _doubled(step):
    def fast(params, batch):
        result = step(params, batch)
        grads = {k: 2 * v for k, v in result.grads.items()}
        return StepResult(result.loss, grads, result.output, result.trace)

    return fast


class FastStepOnly(Bugged):
    def make_step(self, network, dtype: str, *, trace: bool = False):
        step = self.base.make_step(network, dtype, trace=trace)
        return step if trace else _doubled(step)


backend = FastStepOnly("fast-step-only")
