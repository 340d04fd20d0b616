"""The README's plugin examples, as printed, are working backends: a plugin author can copy them."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from harness import gradcheck
from harness.manual import REFERENCE
from harness.matrix import Reference, run_cell
from harness.protocol import DTYPES, Backend
from harness.tasks import batches

README = Path(__file__).parent.parent / "README.md"


def plugin_examples() -> dict[str, str]:
    """The section's Python blocks, by the file name their first line gives."""
    section = README.read_text().split("## Adding a backend plugin", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n# (\S+)\n(.*?)```", section, re.S)
    return dict(blocks)


def load_example(filename: str, monkeypatch, mylib: types.ModuleType | None = None):
    """The example's `backend` object, with `mylib` played by the module given."""
    if mylib is not None:
        monkeypatch.setitem(sys.modules, "mylib", mylib)
    module = types.ModuleType(filename.removesuffix(".py"))
    exec(compile(plugin_examples()[filename], str(README), "exec"), module.__dict__)
    return module.backend


def as_mylib(namespace) -> types.ModuleType:
    mylib = types.ModuleType("mylib")
    mylib.__dict__.update(vars(namespace), __version__="0.0-readme")
    return mylib


@pytest.fixture
def readme_backend(monkeypatch):
    """The manual example, with `mylib` played by NumPy's Array-API namespace."""
    from array_api_compat import numpy as xp

    return load_example("mylib_backend.py", monkeypatch, as_mylib(xp))


@pytest.fixture
def torchfunc_backend(monkeypatch):
    pytest.importorskip("torch")
    return load_example("torchfunc_backend.py", monkeypatch)


def test_the_section_prints_a_manual_and_an_autograd_plugin():
    assert list(plugin_examples()) == ["mylib_backend.py", "torchfunc_backend.py"]


def test_the_plugin_example_is_a_backend(readme_backend):
    assert isinstance(readme_backend, Backend)
    status = readme_backend.availability()
    assert (status.available, status.version) == (True, "0.0-readme")


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_plugin_example_passes_every_case(readme_backend, registry, dtype):
    reference = Reference()
    for case in registry.values():
        cell = run_cell(case, readme_backend, dtype, reference)
        assert cell.status == "pass", (case.name, cell.message)


def test_the_plugin_example_joins_the_gradient_check_as_manual(readme_backend):
    assert gradcheck.strategy(readme_backend) == "manual"


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_plugin_example_serves_a_module_that_is_not_its_namespace(
    monkeypatch, registry, reference, dtype
):
    """`dask.array` itself has no `astype`: the example must hand over the compat namespace."""
    da = pytest.importorskip("dask.array")
    assert not hasattr(da, "astype")
    backend = load_example("mylib_backend.py", monkeypatch, as_mylib(da))
    cell = run_cell(registry["task2-grad-batch-sum"], backend, dtype, reference)
    assert cell.status == "pass", cell.message


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_autograd_example_passes_every_case(torchfunc_backend, registry, reference, dtype):
    assert isinstance(torchfunc_backend, Backend)
    assert gradcheck.strategy(torchfunc_backend) == "autograd"
    for case in registry.values():
        cell = run_cell(case, torchfunc_backend, dtype, reference)
        assert cell.status == "pass", (case.name, cell.message)


@pytest.mark.parametrize("trace", [True, False])
def test_the_autograd_example_traces_what_the_manual_backward_names(
    torchfunc_backend, registry, trace
):
    case = registry["task3-train-dropout"]
    batch = next(batches(case.network, case.runs[0]))
    results = {}
    for backend in (torchfunc_backend, REFERENCE):
        step = backend.make_step(case.network, "float64", trace=trace)
        params = {k: backend.from_numpy(v, "float64") for k, v in case.params.items()}
        results[backend.name] = step(
            params, {k: backend.from_numpy(v, "float64") for k, v in batch.items()}
        )
    got, want = results["torch-func"].trace, results["reference"].trace
    assert list(got) == list(want)
    assert bool(got) is trace
    for name, value in want.items():
        np.testing.assert_allclose(torchfunc_backend.to_numpy(got[name]), value, atol=1e-12)
