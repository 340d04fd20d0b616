"""The GEMM rate of each library in this run: the floor that every step is a multiple of."""

from __future__ import annotations

import pytest

from . import gemm
from .sync import device_unavailable, placed
from .timing import time_call


def bench_gemm(benchmark, gemm_cell, selection):
    library, dtype, when = gemm_cell
    if reason := device_unavailable(library, selection.device):
        pytest.skip(reason)
    n = gemm.QUICK_N if selection.quick else gemm.FULL_N
    with placed(library, selection.device, dtype):
        call = gemm.matmul_call(library, n, dtype, selection.device)
        info = {
            "kind": "gemm",
            "library": library,
            "dtype": dtype,
            "n": n,
            "flops": 2 * n**3,
            "device": selection.device,
            "label": f"matmul {library}",
            "when": when,
        }
        time_call(benchmark, call, info)
