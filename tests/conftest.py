"""Shared fixtures: the case registry and the backends, loaded once per session.

Hypothesis runs the "ci" profile (few examples) unless HYPOTHESIS_PROFILE names another:
`HYPOTHESIS_PROFILE=long pytest tests/test_properties.py` for a long search.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

from harness import cases, plugins
from harness.matrix import Reference

TESTS = Path(__file__).parent

settings.register_profile("ci", max_examples=8, deadline=None)
settings.register_profile("long", max_examples=500, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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


@pytest.fixture
def install_plugins(tmp_path, monkeypatch):
    """Register backends for one test the way an installed distribution does: a dist-info
    with `[harness.backends]` entry points, found by importlib.metadata on sys.path."""

    def install(points: dict[str, str]) -> None:
        dist = tmp_path / "xp_broken_backends-0.1.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: xp-broken-backends\nVersion: 0.1\n"
        )
        lines = [f"{name} = {target}" for name, target in points.items()]
        (dist / "entry_points.txt").write_text("[harness.backends]\n" + "\n".join(lines) + "\n")
        monkeypatch.syspath_prepend(str(TESTS))  # where the broken_backends package lives
        monkeypatch.syspath_prepend(str(tmp_path))

    return install
