"""The step: one forward plus the gradient of every parameter, on prepared arrays."""

from __future__ import annotations

import pytest

from . import steps
from .problem import SIZES
from .registry import Variant
from .sync import device_unavailable
from .timing import interleaved, time_call

FASTEST: dict[tuple[str, str, str], float | None] = {}
"""Fastest round of each step timed in this process: the anchors of its interleaved ratios
(the conftest runs each library's plain native step before the rest)."""


def bench_step(benchmark, step_cell, selection):
    size_name, dtype, variant = step_cell
    if reason := device_unavailable(variant.library, selection.device):
        pytest.skip(reason)
    size = SIZES[size_name]
    try:
        with steps.prepare(variant, size, dtype, selection.device) as call:
            info = _info("step", size_name, dtype, variant, selection)
            FASTEST[variant.id, size_name, dtype] = fastest = time_call(
                benchmark, call, {**info, "flops": size.step_flops}
            )
            if native := steps.native_baseline(variant, size, dtype, selection.device):
                baseline = Variant("native", variant.library, variant.library).id
                anchors = (fastest, FASTEST.get((baseline, size_name, dtype)))
                measured = interleaved(call, native, selection.interleave_s, anchors)
                benchmark.extra_info["interleaved_to_native"] = measured.ratio
                benchmark.extra_info["interleaved"] = measured.to_json()
    except steps.Unavailable as exc:
        pytest.skip(str(exc))


def _info(kind, size_name, dtype, variant, selection) -> dict:
    return {
        "kind": kind,
        "size": size_name,
        "dtype": dtype,
        "role": variant.role,
        "name": variant.name,
        "flavour": variant.flavour,
        "library": variant.library,
        "label": variant.label,
        "device": selection.device,
        "threads": selection.threads,
        "series": selection.series,
    }
