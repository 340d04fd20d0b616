"""Backends that misbehave at run time, one way each, for the containment tests."""

import numpy as np

from broken_backends import Bugged
from harness.protocol import StepResult


def _replace_grad(change):
    """A step bug: the first parameter's gradient goes through `change`."""

    def bug(step):
        def changed(params, batch):
            result = step(params, batch)
            name = next(iter(result.grads))
            grads = {**result.grads, name: change(result.grads[name])}
            return StepResult(result.loss, grads, result.output, result.trace)

        return changed

    return bug


def _raise(step):
    def raising(params, batch):
        raise RuntimeError("device lost in the middle of a step")

    return raising


raises_in_step = Bugged("raises-in-step", step_bug=_raise)
returns_nan = Bugged("returns-nan", step_bug=_replace_grad(lambda g: g * np.nan))
wrong_shape = Bugged("wrong-shape", step_bug=_replace_grad(lambda g: g.T))
wrong_dtype = Bugged("wrong-dtype", step_bug=_replace_grad(lambda g: g.astype(np.float16)))


def _extra_gradient(step):
    """An autograd plugin that also differentiates the input and hands that back too."""

    def extra(params, batch):
        result = step(params, batch)
        grads = {**result.grads, "x": batch["x"] * 0.0}
        return StepResult(result.loss, grads, result.output, result.trace)

    return extra


extra_gradient = Bugged("extra-gradient", step_bug=_extra_gradient)


def _untraced_and_doubled(step):
    def untraced(params, batch):
        result = step(params, batch)
        grads = {k: 2 * v for k, v in result.grads.items()}
        return StepResult(result.loss, grads, result.output)  # trace=True ignored

    return untraced


ignores_trace = Bugged("ignores-trace", step_bug=_untraced_and_doubled)
