"""Seed 003's bug class: backward runs twice into the same parameter-gradient buffers.

(Seed 003 ran `loss.backward(retain_graph=True)` in a notebook cell that could be re-run; its
gradient came out 1.5x its own NumPy one.) The activations' gradients are taken fresh and are
right, so the first wrong tensor is the first parameter gradient the backward reaches.
"""

from broken_backends import Bugged
from harness.protocol import StepResult


def accumulate_twice(step):
    def twice(params, batch):
        first, again = step(params, batch), step(params, batch)
        grads = {k: first.grads[k] + again.grads[k] for k in first.grads}
        trace = {**first.trace, **{f"grad.{k}": v for k, v in grads.items()}}
        return StepResult(first.loss, grads, first.output, trace if first.trace else {})

    return twice


backend = Bugged("grads-accumulated-twice", step_bug=accumulate_twice)
