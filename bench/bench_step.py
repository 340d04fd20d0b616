"""The step: one forward plus the gradient of every parameter, on prepared arrays."""

from __future__ import annotations

import pytest

from . import steps
from .problem import SIZES
from .sync import device_unavailable
from .timing import interleaved_ratio, time_call


def bench_step(benchmark, step_cell, selection):
    size_name, dtype, variant = step_cell
    if reason := device_unavailable(variant.library, selection.device):
        pytest.skip(reason)
    size = SIZES[size_name]
    try:
        with steps.prepare(variant, size, dtype, selection.device) as call:
            info = _info("step", size_name, dtype, variant, selection.device)
            time_call(benchmark, call, {**info, "flops": size.step_flops})
            if native := steps.native_baseline(variant, size, dtype, selection.device):
                seconds = 0.05 if selection.quick else 1.0
                ratio = interleaved_ratio(call, native, seconds)
                benchmark.extra_info["interleaved_to_native"] = ratio
    except steps.Unavailable as exc:
        pytest.skip(str(exc))


def _info(kind, size_name, dtype, variant, device) -> dict:
    return {
        "kind": kind,
        "size": size_name,
        "dtype": dtype,
        "role": variant.role,
        "name": variant.name,
        "flavour": variant.flavour,
        "library": variant.library,
        "label": variant.label,
        "device": device,
    }
