"""The step: one forward plus the gradient of every parameter, on prepared arrays."""

from __future__ import annotations

import pytest

from . import steps
from .problem import SIZES
from .registry import SAME_MATHS, Variant
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
            if same := steps.same_maths_baseline(variant, size, dtype, selection.device):
                baseline = Variant("native", variant.library, variant.library, SAME_MATHS).id
                anchors = (fastest, FASTEST.get((baseline, size_name, dtype)))
                measured = interleaved(call, same, selection.interleave_s, anchors)
                benchmark.extra_info["interleaved_to_same_maths"] = measured.ratio
                benchmark.extra_info["interleaved_same_maths"] = measured.to_json()
    except steps.Unavailable as exc:
        pytest.skip(str(exc))
    if variant.flavour == SAME_MATHS:
        _check_against_reference(benchmark, variant, size, selection.device)


def _check_against_reference(benchmark, variant, size, device) -> None:
    """A same-maths native computes exactly the harness's maths: its float64 step lies within
    rounding of the float64 reference, or its times are no baseline at all."""
    error = steps.reference_error(variant, size, device)
    benchmark.extra_info["reference_error"] = error
    if not error <= steps.REFERENCE_BOUND:
        pytest.fail(
            f"{variant.label} at {size.name}: float64 step {error:.3g} from the reference "
            f"(relative to each tensor's largest entry), bound {steps.REFERENCE_BOUND:g}"
        )


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
