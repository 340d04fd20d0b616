"""The pytest plugin: registered as `pytest11`, inert in an unrelated session, and its `xp`
fixture and markers as another project sees them (pytester, in a subprocess: an array library
imported by an in-process run would be dropped from sys.modules, and NumPy cannot load twice)."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import textwrap

import pytest

from harness import plugins

pytest_plugins = ["pytester"]

FRAMEWORKS = ("numpy", "torch", "jax", "jaxlib", "array_api_compat", "array_api_strict", "dask")


def test_the_plugin_is_registered_under_pytest11():
    (point,) = [p for p in importlib.metadata.entry_points(group="pytest11") if p.name == "harness"]
    assert point.value == "harness.pytest_plugin"


def test_an_unrelated_session_imports_no_array_library(tmp_path):
    """A fresh interpreter runs pytest on a plain test; the plugin is loaded, no library is."""
    (tmp_path / "test_plain.py").write_text(
        textwrap.dedent(
            f"""
            import json, sys

            def test_plain():
                loaded = sorted(m for m in sys.modules if m.split(".")[0] in {FRAMEWORKS!r})
                plugin = "harness.pytest_plugin" in sys.modules
                print("REPORT", json.dumps({{"loaded": loaded, "plugin": plugin}}))
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_plain.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [x for x in result.stdout.splitlines() if x.startswith("REPORT")]
    assert json.loads(line.removeprefix("REPORT")) == {"loaded": [], "plugin": True}


# ---- the xp fixture, as another project's tests use it ----

XP_TESTS = """
import pytest
from harness.testing import assert_close


def test_sum(xp, xp_dtype):
    x = xp.asarray([1.0, 2.0, 3.5], dtype=xp_dtype)
    assert x.dtype == xp_dtype
    assert_close(xp.sum(x), xp.asarray(6.5, dtype=xp_dtype))


def test_namespace_only(xp):
    assert hasattr(xp, "asarray") and hasattr(xp, "float32")


@pytest.mark.skip_xp("numpy", reason="shown skipped")
@pytest.mark.xfail_xp("array_api_strict", reason="shown failing", strict=True)
def test_marked(xp):
    assert xp.__name__ != "array_api_strict"
"""


def _outcomes(result) -> dict[str, str]:
    """{test id: PASSED/SKIPPED/XFAIL/...} from the lines `pytest -v` prints."""
    lines = [line.split() for line in result.outlines if line.startswith("test_theirs.py::")]
    return {words[0].split("::", 1)[1]: words[1] for words in lines}


def test_xp_runs_once_per_selected_library_and_dtype(pytester, monkeypatch):
    monkeypatch.setenv("HARNESS_BACKENDS", "numpy,array-api-strict")
    pytester.makepyfile(test_theirs=XP_TESTS)
    result = pytester.runpytest_subprocess("-v", "--strict-markers", "-p", "no:cacheprovider")
    outcomes = _outcomes(result)
    assert outcomes == {
        "test_sum[array-api-strict-float32]": "PASSED",
        "test_sum[array-api-strict-float64]": "PASSED",
        "test_sum[numpy-float32]": "PASSED",
        "test_sum[numpy-float64]": "PASSED",
        "test_namespace_only[array-api-strict]": "PASSED",
        "test_namespace_only[numpy]": "PASSED",
        "test_marked[array-api-strict]": "XFAIL",
        "test_marked[numpy]": "SKIPPED",
    }, result.stdout.str()
    assert "numpy: shown skipped" in result.stdout.str()


def test_the_option_wins_over_the_environment(pytester, monkeypatch):
    monkeypatch.setenv("HARNESS_BACKENDS", "numpy")
    pytester.makepyfile(test_theirs="def test_one(xp):\n    pass\n")
    result = pytester.runpytest_subprocess(
        "--collect-only", "-q", "--harness-backend", "array_api_strict"
    )
    assert "test_theirs.py::test_one[array-api-strict]" in result.stdout.lines


def _collected_ids(result) -> list[str]:
    return sorted(line.split("[", 1)[1][:-1] for line in result.stdout.lines if "[" in line)


def _builtin_libraries() -> set[str]:
    points = plugins.discover()
    ours = [name for name, point in points.items() if point.dist.name == "xp-harness"]
    return {plugins.load(name).library for name in ours}


def test_xp_takes_one_backend_per_library(pytester, monkeypatch):
    """Nine built-in backends come from five libraries: one parameter each, by library name."""
    monkeypatch.delenv("HARNESS_BACKENDS", raising=False)
    pytester.makepyfile(test_theirs="def test_one(xp):\n    pass\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    libraries = _builtin_libraries()
    assert _collected_ids(result) == sorted(libraries)
    assert len(plugins.discover()) > len(libraries)  # torch, torch-manual, torch-compile: one


FAKELIB = """
import types
from contextlib import nullcontext

from array_api_compat import numpy as compat

from harness.protocol import Availability


class Tensor:
    \"\"\"An array type array_api_compat does not know, as paddle's tensors are.\"\"\"

    def __init__(self, value):
        self.value = value


NAMESPACE = types.SimpleNamespace(**vars(compat))
NAMESPACE.__name__, NAMESPACE.made_by_the_plugin = "fakelib", True


class FakeLib:
    name = library = "fakelib"
    dtypes = ("float32", "float64")

    def availability(self):
        return Availability(True, version="0.1")

    def numerics(self, dtype):
        return nullcontext()

    def namespace(self):
        return NAMESPACE

    def from_numpy(self, array, dtype):
        return Tensor(array.astype(dtype))

    def to_numpy(self, array):
        return array.value

    def make_step(self, network, dtype, *, trace=False):
        raise NotImplementedError


backend = FakeLib()
"""


@pytest.fixture
def fakelib(install_plugins, tmp_path, monkeypatch):
    """A plugin of a library of its own, whose arrays array_api_compat cannot place."""
    (tmp_path / "fakelib_backend.py").write_text(FAKELIB)
    install_plugins({"fakelib": "fakelib_backend:backend"})
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.delenv("HARNESS_BACKENDS", raising=False)


def test_an_installed_plugin_does_not_change_the_default_libraries(fakelib, pytester):
    pytester.makepyfile(test_theirs="def test_one(xp):\n    pass\n")
    result = pytester.runpytest_subprocess("--collect-only", "-q")
    assert _collected_ids(result) == sorted(_builtin_libraries())
    named = pytester.runpytest_subprocess("--collect-only", "-q", "--harness-backend", "fakelib")
    assert _collected_ids(named) == ["fakelib"]


def test_xp_is_the_plugins_own_namespace_where_it_has_one(fakelib, pytester):
    pytester.makepyfile(
        test_theirs="""
        def test_one(xp, xp_dtype):
            assert xp.made_by_the_plugin
            assert xp_dtype == xp.float64 or xp_dtype == xp.float32
        """
    )
    result = pytester.runpytest_subprocess("--harness-backend", "fakelib")
    result.assert_outcomes(passed=2)


def test_a_misspelt_library_names_the_closest_and_every_library(pytester, monkeypatch):
    monkeypatch.setenv("HARNESS_BACKENDS", "nump")
    pytester.makepyfile(test_theirs="def test_one(xp):\n    pass\n")
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    (line,) = [x for x in result.stderr.lines if "no backend or library named 'nump'" in x]
    assert "did you mean 'numpy'?" in line
    assert "(libraries: none" not in line
    for library in _builtin_libraries():
        assert library in line


def test_jax_float64_is_scoped_to_the_test(pytester):
    pytest.importorskip("jax")
    pytester.makepyfile(
        test_theirs="""
        import jax

        def test_float64(xp, xp_dtype):
            assert xp.asarray([1.0], dtype=xp_dtype).dtype == xp_dtype
            assert (xp_dtype == xp.float64) == jax.config.jax_enable_x64

        def test_after():
            assert not jax.config.jax_enable_x64
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "--harness-backend", "jax")
    result.assert_outcomes(passed=3)


def test_a_marker_without_a_reason_is_a_usage_error(pytester):
    pytester.makepyfile(
        test_theirs="""
        import pytest

        @pytest.mark.skip_xp("numpy")
        def test_one(xp):
            pass
        """
    )
    result = pytester.runpytest_subprocess("--harness-backend", "numpy")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "test_one[numpy]: @skip_xp(...) needs reason=" in result.stderr.str()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--harness-backend", "nosuch"], "no backend or library named 'nosuch'"),
        (["--harness-dtype", "float16"], "--harness-dtype: unknown dtype 'float16'"),
    ],
)
def test_a_bad_selection_is_a_one_line_usage_error(pytester, option, message):
    pytester.makepyfile(test_theirs="def test_one(xp, xp_dtype):\n    pass\n")
    result = pytester.runpytest_subprocess(*option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert message in result.stderr.str()


def test_an_unavailable_library_is_skipped_with_its_reason(
    install_plugins, tmp_path, pytester, monkeypatch
):
    (tmp_path / "absent_library.py").write_text(
        "from harness.manual import ManualBackend\n"
        'backend = ManualBackend(name="absent", module="no_such_module", library="absent")\n'
    )
    install_plugins({"absent": "absent_library:backend"})
    pytester.makepyfile(test_theirs="def test_one(xp):\n    pass\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = pytester.runpytest_subprocess("-rs", "--harness-backend", "absent,numpy")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*absent unavailable (absent: cannot import no_such_module*"])


def test_a_plugin_that_fails_to_import_is_skipped_with_its_reason_not_dropped(
    install_plugins, tmp_path, pytester, monkeypatch
):
    (tmp_path / "broken_import.py").write_text("raise RuntimeError('no such build')\n")
    install_plugins({"broken-import": "broken_import:backend"})
    pytester.makepyfile(test_theirs="def test_one(xp):\n    pass\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    result = pytester.runpytest_subprocess("-rs", "--harness-backend", "broken-import,numpy")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*plugin failed to import: RuntimeError: no such build*"])


def test_the_session_runner_is_a_fixture(pytester):
    pytester.makepyfile(
        test_theirs="""
        def test_describe(harness_runner):
            info = harness_runner.describe("numpy")
            assert (info.name, info.library, info.available) == ("numpy", "numpy", True)
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_a_project_with_an_xp_of_its_own_keeps_it(pytester):
    """SciPy and array-api-extra define `xp` themselves: the plugin must leave theirs alone,
    and a test that parametrizes `xp` by hand keeps its own values."""
    pytester.makepyfile(
        test_fixture="""
        import pytest

        @pytest.fixture(params=["mine"])
        def xp(request):
            return request.param

        def test_fixture(xp):
            assert xp == "mine"
        """,
        test_mark="""
        import pytest

        @pytest.mark.parametrize("xp", ["given"])
        def test_parametrized(xp):
            assert xp == "given"
        """,
    )
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_fixture[[]mine[]] PASSED*"])
