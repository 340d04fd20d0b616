"""The step driver's integrity guard: one host copy of each input, and no false alarm.

For a lazy library every host copy is a compute, so the guard compares one copy taken after
the step with the NumPy value the tensor came from; a backend whose conversion differs from
NumPy's cast must not be taken for one that writes into its inputs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from harness.driver import BadStepResult, execute, run_steps
from harness.manual import ManualBackend


@dataclasses.dataclass
class Counting(ManualBackend):
    """The reference backend, counting host copies by the array's identity."""

    copies: Counter = dataclasses.field(default_factory=Counter)

    def to_numpy(self, array):
        self.copies[id(array)] += 1
        return super().to_numpy(array)


class Rounding(ManualBackend):
    """Converts float32 by truncating the mantissa's last bit: not NumPy's cast, no write."""

    def from_numpy(self, array, dtype):
        converted = np.array(array, dtype=dtype, copy=True)
        if dtype == "float32":
            converted.view(np.uint32)[...] &= np.uint32(0xFFFFFFFE)
        return converted


def counting() -> Counting:
    return Counting("counting", "numpy", "numpy")


def gradient_run(registry):
    case = registry["task2-grad-batch-sum"]
    return case, next(r for r in case.runs if r.task.kind == "gradient")


def test_each_param_and_batch_input_is_copied_to_the_host_once(registry):
    case, run = gradient_run(registry)
    backend = counting()
    handed = []

    def step(params, batch):
        handed.extend([*params.values(), batch["x"], batch["y"]])
        return backend.make_step(case.network, "float64")(params, batch)

    execute(backend, case, run, "float64", step)
    assert handed and [backend.copies[id(a)] for a in handed] == [1] * len(handed)


def test_a_conversion_unlike_numpys_cast_is_no_write(registry):
    case, run = gradient_run(registry)
    backend = Rounding("rounding", "numpy", "numpy")
    tensors = execute(backend, case, run, "float32", backend.make_step(case.network, "float32"))
    assert set(tensors) >= {"loss", "output"}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_write_is_still_caught_after_an_unusual_conversion(registry, dtype):
    case, run = gradient_run(registry)
    backend = Rounding("rounding", "numpy", "numpy")
    made = backend.make_step(case.network, dtype)

    def step(params, batch):
        name = next(iter(params))
        params[name][...] = params[name] + 1.0
        return made(params, batch)

    with pytest.raises(BadStepResult, match="step 1: the step changed its param"):
        execute(backend, case, run, dtype, step)


def test_replayed_steps_catch_a_write_into_the_batch(registry):
    case, run = gradient_run(registry)
    backend = counting()
    made = backend.make_step(case.network, "float64", trace=True)

    def make_step(network, dtype, *, trace=False):
        def step(params, batch):
            batch["x"][...] = 0.0
            return made(params, batch)

        return step

    backend.make_step = make_step
    items = [(case.params, {"x": run.x, "y": run.y})]
    with pytest.raises(BadStepResult, match="step 1: the step changed its batch input x"):
        run_steps(backend, case.network, "float64", True, items)
