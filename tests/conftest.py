"""Shared fixtures: the case registry and the backends, loaded once per session."""

from __future__ import annotations

import pytest

from harness import cases, plugins
from harness.matrix import Reference


@pytest.fixture(scope="session")
def registry() -> dict[str, cases.Case]:
    loaded, errors = cases.load_dir()
    assert not errors, errors
    return {case.name: case for case in loaded}


@pytest.fixture(scope="session")
def reference() -> Reference:
    return Reference()


@pytest.fixture(scope="session")
def load_backend():
    loaded: dict[str, object] = {}

    def load(name: str):
        if name not in loaded:
            loaded[name] = plugins.load(name)
        return loaded[name]

    return load
