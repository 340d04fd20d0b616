"""Options, parametrisation, progress lines and machine info for the benchmark suite.

Only the standard library and the harness are imported here: this file is also loaded when
someone runs `pytest .` from the repository root, where it must cost nothing.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys

import pytest

from . import compiling, loops, registry
from .problem import SIZES

PROGRESS_ENV = "HARNESS_BENCH_PROGRESS"
"""When set, one line per finished benchmark goes to stdout for `harness bench`'s progress bar."""
PROGRESS_MARK = "@@harness-bench"


def pytest_addoption(parser):
    group = parser.getgroup("harness-bench", "xp-harness benchmarks")
    group.addoption(
        "--bench-library",
        action="append",
        default=[],
        metavar="LIB",
        help="time only variants run in LIB's process (numpy, torch, jax, keras-jax, ...)",
    )
    group.addoption(
        "--bench-backend",
        action="append",
        default=[],
        metavar="B",
        help="harness backends and rivals to time (default: all available)",
    )
    group.addoption("--bench-size", action="append", default=[], choices=list(SIZES))
    group.addoption("--bench-dtype", action="append", default=[], choices=list(registry.DTYPES))
    group.addoption("--bench-quick", action="store_true", help="smaller sizes, fewer rounds")
    group.addoption("--bench-device", default="cpu", help="cpu or cuda")
    group.addoption(
        "--bench-threads",
        type=int,
        default=0,
        metavar="N",
        help="threads for torch (set_num_threads); the runner also sets OMP/BLAS/XLA env",
    )
    group.addoption("--bench-series", default="", help='a label for the records, e.g. "1-thread"')


def pytest_configure(config):
    """torch reads no environment variable for its intra-op threads: tell it, if it is used."""
    threads = config.getoption("--bench-threads", 0)
    if threads and "torch" in config.getoption("--bench-library", []):
        import torch

        torch.set_num_threads(threads)


def pytest_generate_tests(metafunc):
    sel = registry.selection(metafunc.config)
    steps = sel.step_variants()
    for name, roles in (("step_cell", ("harness", "native")), ("rival_cell", ("rival",))):
        if name in metafunc.fixturenames:
            chosen = [v for v in steps if v.role in roles]
            _parametrize(
                metafunc, name, [(s, d, v) for s in sel.sizes for d in sel.dtypes for v in chosen]
            )
    if "train_cell" in metafunc.fixturenames:
        train = loops.variants([v for v in steps if v.role != "rival"])
        _parametrize(
            metafunc, "train_cell", [("homework", d, v) for d in sel.dtypes for v in train]
        )
    if "compile_cell" in metafunc.fixturenames:
        cells = [
            (s, "float32", v)
            for v in compiling.variants(sel)
            for s in compiling.sizes(v, sel.sizes)
        ]
        _parametrize(metafunc, "compile_cell", cells)
    if "grid_cell" in metafunc.fixturenames:
        cells = sel.grid_cells()
        ids = [f"b{b}-w{w}-{d}-{lib}" for b, w, d, lib in cells]
        metafunc.parametrize("grid_cell", cells, ids=ids)
    if "gemm_cell" in metafunc.fixturenames:
        libraries = [
            lib for lib in registry.NATIVE_LIBRARIES if not sel.libraries or lib in sel.libraries
        ]
        cells = [(lib, d, when) for when in GEMM_WHEN for lib in libraries for d in sel.dtypes]
        metafunc.parametrize("gemm_cell", cells, ids=["-".join(cell) for cell in cells])


def _parametrize(metafunc, name, cells):
    metafunc.parametrize(name, cells, ids=[f"{s}-{d}-{v.id}" for s, d, v in cells])


@pytest.fixture
def selection(request) -> registry.Selection:
    return registry.selection(request.config)


ORDER = ("bench_compile", "bench_gemm", "bench_step", "bench_grid", "bench_rival", "bench_train")
"""Compile time first, before any step of the process has filled a compiler's in-memory caches."""
GEMM_WHEN = ("start", "end")
"""The GEMM rate is taken near the start and again at the end of each process: the floor uses
the faster, so that a busy moment of the shared machine does not lower it."""


def pytest_collection_modifyitems(config, items):
    empty = [item for item in items if _empty_parametrisation(item)]
    if empty:  # a kind of benchmark this selection has no cell of: not a skip worth reporting
        config.hook.pytest_deselected(items=empty)
        items[:] = [item for item in items if item not in empty]
    rank = {name: i for i, name in enumerate(ORDER)}

    def position(item) -> tuple[int, int]:
        params = item.callspec.params if hasattr(item, "callspec") else {}
        cell = params.get("gemm_cell")
        if cell and cell[2] == "end":
            return len(ORDER), 0
        step = params.get("step_cell")
        baselines_first = 2
        if step and step[2].role == "native":  # the anchors of every later ratio
            baselines_first = 1 if step[2].flavour else 0
        return rank.get(item.module.__name__.rpartition(".")[2], len(ORDER)), baselines_first

    items.sort(key=position)


def _empty_parametrisation(item) -> bool:
    reasons = (m.kwargs.get("reason", "") for m in item.iter_markers("skip"))
    return any(r.startswith("got empty parameter set") for r in reasons)


def pytest_collection_finish(session):
    _progress(f"total {len(session.items)}")


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        why = report.longrepr[2] if report.skipped and isinstance(report.longrepr, tuple) else ""
        _progress(f"done {report.outcome} {report.nodeid} {why}".rstrip())


def _progress(line: str) -> None:
    if os.environ.get(PROGRESS_ENV):
        print(f"{PROGRESS_MARK} {line}", file=sys.__stdout__, flush=True)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_machine_info(config, machine_info):
    """Library versions and devices, so that a result says what it was measured on."""
    machine_info["xp_harness"] = {
        "versions": _versions(),
        "devices": _devices(),
        "threads_env": {
            k: v for k, v in os.environ.items() if k.endswith("_NUM_THREADS") or k == "XLA_FLAGS"
        },
        "cpu_count": os.cpu_count(),
        "selection": {
            k: list(v) if isinstance(v, tuple) else v
            for k, v in vars(registry.selection(config)).items()
        },
        "keras_backend": os.environ.get("KERAS_BACKEND", ""),
    }


def _versions() -> dict[str, str]:
    names = (
        "xp-harness",
        "numpy",
        "torch",
        "jax",
        "jaxlib",
        "keras",
        "array-api-compat",
        "array-api-strict",
        "pytest-benchmark",
    )
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def _devices() -> dict[str, object]:
    """Devices of the libraries this process imported (never imports one just to ask)."""
    devices: dict[str, object] = {}
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        devices["torch"] = {
            "threads": torch.get_num_threads(),
            "cuda": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
        }
    if "jax" in sys.modules:
        devices["jax"] = [str(d) for d in sys.modules["jax"].devices()]
    if "numpy" in sys.modules:
        config = sys.modules["numpy"].show_config(mode="dicts")
        devices["numpy_blas"] = config.get("Build Dependencies", {}).get("blas", {})
    return devices
