"""Isolation: importing the harness imports no array library, a broken plugin breaks only its
own cells, and a backend's numerics (JAX x64) do not outlive the cell that needed them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from harness import cli, plugins
from harness.matrix import Reference, run_cell, run_matrix
from harness.protocol import DTYPES, Backend

FRAMEWORKS = (
    "numpy",
    "torch",
    "jax",
    "jaxlib",
    "array_api_compat",
    "array_api_strict",
    "cupy",
)


def test_importing_harness_imports_no_array_library(tmp_path):
    """In a fresh interpreter: the package, its CLI module, the Protocol, plugin discovery."""
    script = textwrap.dedent(
        f"""
        import json, sys
        import harness, harness.cli, harness.protocol, harness.plugins
        points = harness.plugins.discover()
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS!r})
        print(json.dumps({{"loaded": loaded, "backends": sorted(points)}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["loaded"] == []
    assert {"numpy", "torch", "jax"} <= set(report["backends"])  # discovered, not imported


# ---- third-party plugins, registered for one test through a fake distribution ----

BROKEN = "raise RuntimeError('this plugin cannot load')\n"
RAISING = textwrap.dedent(
    """
    from harness.manual import ManualBackend

    class Raising(ManualBackend):
        def make_step(self, network, dtype, *, trace=False):
            raise ZeroDivisionError("the step blew up")

    backend = Raising(name="raising", module="numpy", library="numpy")
    """
)
NOT_A_BACKEND = "backend = object()\n"


@pytest.fixture
def fake_plugins(tmp_path, monkeypatch) -> dict[str, str]:
    """A fake installed distribution with three bad plugins, visible on sys.path for one test."""
    modules = {"broken": BROKEN, "raising": RAISING, "shapeless": NOT_A_BACKEND}
    dist = tmp_path / "fake_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 0.1\n")
    lines = [f"{name} = fake_{name}_mod:backend" for name in modules]
    (dist / "entry_points.txt").write_text("[harness.backends]\n" + "\n".join(lines) + "\n")
    for name, source in modules.items():
        (tmp_path / f"fake_{name}_mod.py").write_text(source)
    assert not set(modules) & set(plugins.discover())  # not there before the path changes
    monkeypatch.syspath_prepend(tmp_path)
    for name in modules:
        monkeypatch.delitem(sys.modules, f"fake_{name}_mod", raising=False)
    return modules


def test_plugin_that_fails_to_import_is_unavailable(fake_plugins):
    points = plugins.discover()  # not cached: the fake distribution shows up
    assert set(fake_plugins) <= set(points)
    broken = plugins.load("broken", points)
    status = plugins.availability(broken)
    assert not status.available
    assert status.reason.startswith("plugin failed to import: RuntimeError")
    assert "this plugin cannot load" in status.reason
    shapeless = plugins.availability(plugins.load("shapeless", points))
    assert not shapeless.available and "not a Backend" in shapeless.reason
    numpy_backend = plugins.load("numpy", points)
    assert isinstance(numpy_backend, Backend)
    assert plugins.availability(numpy_backend).available


def test_bad_plugins_mark_only_their_own_cells(fake_plugins, registry):
    case = registry["task1-forward"]
    backends = [plugins.load(name) for name in ("broken", "raising", "shapeless", "numpy")]
    cells = run_matrix([case], backends, DTYPES)
    status = {(c.backend, c.dtype): c for c in cells}
    for dtype in DTYPES:
        assert status["broken", dtype].status == "skip"
        assert status["broken", dtype].message.startswith("unavailable: plugin failed to import")
        assert status["shapeless", dtype].status == "skip"
        raising = status["raising", dtype]
        assert raising.status == "error"
        assert raising.message == "ZeroDivisionError: the step blew up"
        assert status["numpy", dtype].status == "pass", status["numpy", dtype].message


def test_backends_command_reports_a_broken_plugin(fake_plugins, capsys):
    assert cli.main(["backends"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "unavailable: plugin failed to import: RuntimeError" in rows["broken"]
    assert rows["numpy"].rstrip().endswith(" available")


# ---- numerics stay scoped to the cell ----


def test_jax_float64_does_not_leave_x64_on(registry):
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp

    backend = plugins.load("jax")
    if not plugins.availability(backend).available:
        pytest.skip("jax backend unavailable")
    before = bool(jax.config.jax_enable_x64)
    assert not before, "x64 was already on: an earlier test or import leaked it"
    with backend.numerics("float64"):
        assert jax.config.jax_enable_x64
        assert backend.from_numpy(np.zeros(2), "float64").dtype == jnp.float64
    assert bool(jax.config.jax_enable_x64) == before
    assert jnp.asarray(1.0).dtype == jnp.float32

    cell = run_cell(registry["task2-grad-sample-mean"], backend, "float64", Reference())
    assert cell.status == "pass", cell.message
    assert bool(jax.config.jax_enable_x64) == before
    with pytest.raises(KeyError), backend.numerics("float64"):
        raise KeyError("a cell that fails half-way")
    assert bool(jax.config.jax_enable_x64) == before
    assert jnp.asarray(1.0).dtype == jnp.float32


def test_fake_plugin_is_gone_after_the_test():
    """monkeypatch undid the path: discovery sees the installed backends only."""
    assert not {"broken", "raising", "shapeless"} & set(plugins.discover())
