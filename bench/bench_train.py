"""The homework's training loop, task3-train's run x1: 100 epochs of SGD, one sample."""

from __future__ import annotations

import pytest

from . import loops, steps
from .bench_step import _info
from .sync import device_unavailable
from .timing import time_call


def bench_train(benchmark, train_cell, selection):
    size_name, dtype, variant = train_cell
    if reason := device_unavailable(variant.library, selection.device):
        pytest.skip(reason)
    try:
        with loops.prepare(variant, dtype, selection.device) as call:
            _, _, _, epochs = loops.train_case()
            info = _info("train", size_name, dtype, variant, selection)
            time_call(benchmark, call, {**info, "steps": epochs, "case": loops.CASE})
    except steps.Unavailable as exc:
        pytest.skip(str(exc))
