"""The shape grid: the harness step against the library's idiomatic step, batch x width.

Each cell is one interleaved measurement (its ratio, checked for stability) and a few rounds
of the harness step for the JSON; widths are D_in and H, D_out stays 10.
"""

from __future__ import annotations

import pytest

from . import steps
from .problem import Size
from .registry import GRID_D_OUT, Variant
from .sync import device_unavailable
from .timing import fastest_alone, interleaved, warm_up

GRID_ROUNDS = ANCHOR_CALLS = 3


def bench_grid(benchmark, grid_cell, selection):
    batch, width, dtype, library = grid_cell
    if reason := device_unavailable(library, selection.device):
        pytest.skip(reason)
    size = Size(f"b{batch}-w{width}", batch, width, width, GRID_D_OUT)
    ours = Variant("harness", library, library)
    try:
        with steps.prepare(ours, size, dtype, selection.device) as call:
            native = steps.native_baseline(ours, size, dtype, selection.device)
            warm_up(call)
            warm_up(native)
            anchors = (fastest_alone(call, ANCHOR_CALLS), fastest_alone(native, ANCHOR_CALLS))
            measured = interleaved(call, native, selection.interleave_s, anchors)
            benchmark.extra_info.update(
                {
                    "kind": "grid",
                    "size": size.name,
                    "batch": batch,
                    "width": width,
                    "dtype": dtype,
                    "role": "harness",
                    "name": library,
                    "library": library,
                    "label": f"harness {library}",
                    "device": selection.device,
                    "threads": selection.threads,
                    "flops": size.step_flops,
                    "interleaved_to_native": measured.ratio,
                    "interleaved": measured.to_json(),
                }
            )
            benchmark.pedantic(call, rounds=GRID_ROUNDS, iterations=1, warmup_rounds=0)
    except steps.Unavailable as exc:
        pytest.skip(str(exc))
