"""Compile time, reported apart from the steady state: the first call of a fresh step."""

from __future__ import annotations

import pytest

from . import compiling, steps
from .bench_step import _info
from .problem import SIZES
from .sync import device_unavailable, placed
from .timing import time_first_calls


def bench_compile(benchmark, compile_cell, selection):
    size_name, dtype, variant = compile_cell
    if reason := device_unavailable(variant.library, selection.device):
        pytest.skip(reason)
    rounds = 1 if selection.quick or variant.library == "torch" else 3
    try:
        compiling.check(variant)
        with placed(variant.library, selection.device, dtype):
            setup = compiling.first_call_setup(variant, SIZES[size_name], dtype, selection.device)
            info = _info("compile", size_name, dtype, variant, selection)
            time_first_calls(benchmark, setup, rounds, info)
    except steps.Unavailable as exc:
        pytest.skip(str(exc))
