"""The rival: Keras 3 `train_on_batch` on the same MLP, one Keras backend per process."""

from __future__ import annotations

import pytest

from . import rival_keras
from .bench_step import _info
from .problem import SIZES
from .sync import placed
from .timing import time_call


def bench_rival(benchmark, rival_cell, selection):
    size_name, dtype, variant = rival_cell
    if selection.device != "cpu":
        pytest.skip("Keras is timed on the CPU only")
    if reason := rival_keras.unavailable(variant.name):
        pytest.skip(reason)
    size = SIZES[size_name]
    with placed(variant.name.removeprefix("keras-"), "cpu", dtype):
        try:
            call = rival_keras.train_on_batch_call(size, dtype)
        except rival_keras.WrongDtype as exc:
            pytest.skip(str(exc))
        info = _info("step", size_name, dtype, variant, "cpu")
        time_call(benchmark, call, {**info, "flops": size.step_flops})
