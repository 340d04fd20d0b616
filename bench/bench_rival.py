"""The rival: Keras 3 `train_on_batch` on the same MLP, one Keras backend per process."""

from __future__ import annotations

import pytest

from . import rival_keras, steps
from .bench_step import _info
from .problem import SIZES
from .registry import Variant
from .sync import placed
from .timing import interleaved, time_call


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
        info = _info("step", size_name, dtype, variant, selection)
        time_call(benchmark, call, {**info, "flops": size.step_flops})
        library = variant.name.removeprefix("keras-")
        ours = Variant("harness", library, library)  # the harness backend named like its library
        try:
            with steps.prepare(ours, size, dtype, "cpu") as harness_call:
                measured = interleaved(call, harness_call, selection.interleave_s)
                benchmark.extra_info["interleaved_vs_harness"] = measured.ratio
                benchmark.extra_info["interleaved"] = measured.to_json()
        except steps.Unavailable:
            pass  # no harness backend of that library: the cross-process ratio stands alone
