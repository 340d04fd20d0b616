"""The README's plugin example, as printed, is a working backend: a plugin author can copy it."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from harness import gradcheck
from harness.matrix import Reference, run_cell
from harness.protocol import DTYPES, Backend

README = Path(__file__).parent.parent / "README.md"


def plugin_example() -> str:
    section = README.read_text().split("## Adding a backend plugin", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    return code


@pytest.fixture
def readme_backend(monkeypatch):
    """The example's object, with `mylib` played by NumPy's Array-API namespace."""
    from array_api_compat import numpy as xp

    mylib = types.ModuleType("mylib")
    mylib.__dict__.update(vars(xp), __version__="0.0-readme")
    monkeypatch.setitem(sys.modules, "mylib", mylib)
    module = types.ModuleType("mylib_backend")
    exec(compile(plugin_example(), str(README), "exec"), module.__dict__)
    return module.backend


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
