"""Array-API libraries pip can install, through `ManualBackend` unchanged, and the dask plugin.

ndonnx and sparse are optional (the `test` extra installs them); their tests skip, with the
reason, where they are missing. Their cells are one gradient step each: numba (under sparse)
and ONNX's reference evaluator (under ndonnx) are slow. Training is left to the dask plugin,
whose point is that a hundred lazy steps stay fast.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from harness import plugins
from harness.host import NoHostCopy, to_numpy
from harness.manual import REFERENCE, ManualBackend
from harness.matrix import run_cell
from harness.protocol import DTYPES
from harness.tasks import batches

GRADIENT_CASE = "task2-grad-batch-sum"
"""One step, forward and backward: enough to show the library computes the network."""


def plain(module: str) -> ManualBackend:
    """The library's backend as a plugin author first writes it: ManualBackend, nothing else."""
    return ManualBackend(name=f"plain-{module}", module=module, library=module.split(".")[0])


NUMBA_COMPILES = pytest.mark.slow  # sparse's kernels compile on first use, per dtype: ~10 s


@pytest.mark.parametrize(
    ("module", "dtype"),
    [
        *[(module, dtype) for module in ("dask.array", "ndonnx") for dtype in DTYPES],
        ("sparse", "float64"),
        pytest.param("sparse", "float32", marks=NUMBA_COMPILES),
    ],
)
def test_manual_backend_passes_a_gradient_case_unchanged(module, dtype, registry, reference):
    pytest.importorskip(module)
    cell = run_cell(registry[GRADIENT_CASE], plain(module), dtype, reference)
    assert cell.status == "pass", cell.message


def test_manual_backend_resolves_the_namespace_not_the_module():
    """`dask.array` has no `astype`; array_api_compat's dask namespace has."""
    da = pytest.importorskip("dask.array")
    xp = plain("dask.array").namespace()
    assert not hasattr(da, "astype")
    assert xp.astype(xp.asarray([1, 2]), xp.float32).dtype == xp.float32


FILL = "requires zero fill values"
"""sparse's matmul after a sigmoid (fill value 0.5) or attention's causal mask (1.0)."""
TAKE = "are valid indices"
"""sparse's `take` with an index array that is itself sparse (an embedding's token ids)."""
SPARSE_ERRORS = {
    "float64": {
        "batch-all-layers-ce-mean": FILL,
        "batch-bias-se-mean": FILL,
        "mlp-regression": FILL,
        "attention-causal": FILL,
        "embedding-repeated-tokens": TAKE,
        "transformer-block-adam": TAKE,
    },
}
SPARSE_ERRORS["float32"] = {
    **SPARSE_ERRORS["float64"],
    "batch-all-layers-se-sum": FILL,  # float32 rounding leaves a fill value of -2e-08
}
"""The cases whose cells error on sparse, and why, as the README's "Adding a backend plugin"
says."""


@pytest.mark.parametrize("dtype", ["float64", pytest.param("float32", marks=NUMBA_COMPILES)])
def test_sparse_matmul_limitation_is_one_line(registry, reference, dtype):
    """pydata/sparse multiplies matrices only with a zero fill value; after `sigmoid` the fill
    value is 0.5. Those cells say so in one line, every other cell passes, and the README names
    exactly these cases (if sparse lifts the limit, this test says so)."""
    pytest.importorskip("sparse")
    cells = [run_cell(case, plain("sparse"), dtype, reference) for case in registry.values()]
    errors = {cell.case for cell in cells if cell.status == "error"}
    assert errors == set(SPARSE_ERRORS[dtype])
    assert all(cell.status == "pass" for cell in cells if cell.case not in errors)
    for cell in cells:
        if cell.case in errors:
            assert SPARSE_ERRORS[dtype][cell.case] in cell.message
            assert "\n" not in cell.message
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    (sentence,) = [s for s in " ".join(readme.split()).split(". ") if "fill value" in s]
    assert all(f"`{case}`" in sentence for case in SPARSE_ERRORS["float32"]), sentence


@pytest.mark.parametrize("module", ["ndonnx", "sparse", "dask.array"])
def test_to_numpy_gives_numbers_not_objects(module):
    pytest.importorskip(module)
    backend = plain(module)
    array = backend.from_numpy(np.arange(6.0).reshape(2, 3), "float32")
    copied = backend.to_numpy(array)
    assert type(copied) is np.ndarray
    assert copied.dtype == np.float32
    np.testing.assert_array_equal(copied, np.arange(6.0).reshape(2, 3))


# ---- harness.host: the routes, on stand-ins that behave like each library ----


class RefusesExport:
    """Like ndonnx: DLPack raises, to_device raises, np.asarray gives an object array."""

    def __init__(self, value):
        self.value = value

    def __dlpack__(self, **kwargs):
        raise BufferError("does not support the export of array data")

    def to_device(self, device, /, **kwargs):
        raise ValueError("no control over the used device")

    @property
    def device(self):
        return "onnx"


class Unwraps(RefusesExport):
    def unwrap_numpy(self):
        return self.value


class Densifies:
    """Like pydata/sparse: no DLPack, np.asarray refuses, todense() gives the values."""

    def __init__(self, value):
        self.value = value

    def __array__(self, dtype=None, copy=None):
        raise RuntimeError("Cannot convert a sparse array to dense automatically.")

    def todense(self):
        return self.value


@pytest.mark.parametrize("kind", [Unwraps, Densifies])
def test_host_copy_falls_back_to_the_library_exit(kind):
    value = np.arange(3.0)
    copied = to_numpy(kind(value), home=lambda: "cpu")
    np.testing.assert_array_equal(copied, value)
    assert copied is not value


def test_host_copy_never_returns_an_object_array_and_names_every_route():
    with pytest.raises(NoHostCopy) as raised:
        to_numpy(RefusesExport(np.arange(3.0)), home=lambda: "cpu")
    message = str(raised.value)
    assert "\n" not in message
    for route in ("DLPack raised BufferError", "to_device(host) then DLPack", "object array"):
        assert route in message


# ---- the dask plugin ----


@pytest.fixture(scope="module")
def dask_backend():
    pytest.importorskip("dask.array")
    backend = plugins.load("dask")
    assert plugins.availability(backend).available
    return backend


def train(backend, case, steps: int, dtype: str = "float64"):
    """The harness's SGD loop, cut short: the parameters after `steps` steps."""
    run = case.runs[0]
    step = backend.make_step(case.network, dtype)
    state = {k: backend.from_numpy(v, dtype) for k, v in case.params.items()}
    for _, batch in zip(range(steps), batches(case.network, run), strict=False):
        result = step(state, {k: backend.from_numpy(v, dtype) for k, v in batch.items()})
        state = {k: p - run.task.lr * result.grads[k] for k, p in state.items()}
    return state, result


def test_dask_graph_does_not_grow_across_steps(dask_backend, registry):
    case = registry["task3-train"]
    sizes = [
        {k: len(p.__dask_graph__()) for k, p in train(dask_backend, case, n)[0].items()}
        for n in (2, 20)
    ]
    assert sizes[0] == sizes[1]


def test_dask_step_returns_computed_arrays(dask_backend, registry):
    _, result = train(dask_backend, registry["task3-train-dropout"], 3)
    for array in [result.loss, result.output, *result.grads.values()]:
        graph = array.__dask_graph__()
        assert all(isinstance(v, np.ndarray) for v in graph.values()), graph


def test_dask_training_matches_the_reference(dask_backend, registry):
    case = registry["task3-train-dropout"]
    got, _ = train(dask_backend, case, 30)
    want, _ = train(REFERENCE, case, 30)
    for name in want:
        np.testing.assert_allclose(dask_backend.to_numpy(got[name]), want[name], rtol=1e-12)


def test_dask_traced_step_names_what_the_reference_names(dask_backend, registry):
    case = registry["task2-grad-batch-sum"]
    run = case.runs[0]
    batch = next(batches(case.network, run))
    traced = {}
    for backend in (dask_backend, REFERENCE):
        step = backend.make_step(case.network, "float64", trace=True)
        params = {k: backend.from_numpy(v, "float64") for k, v in case.params.items()}
        inputs = {k: backend.from_numpy(v, "float64") for k, v in batch.items()}
        traced[backend.name] = step(params, inputs).trace
    assert list(traced["dask"]) == list(traced["reference"])
    for name, value in traced["reference"].items():
        np.testing.assert_allclose(dask_backend.to_numpy(traced["dask"][name]), value)


def test_dask_step_follows_a_change_of_batch_shape(dask_backend, registry):
    """The traced graph is kept per input shape: a shorter batch gets its own."""
    case = registry["task2-grad-batch-sum"]
    batch = next(batches(case.network, case.runs[0]))
    step = dask_backend.make_step(case.network, "float64")
    ref_step = REFERENCE.make_step(case.network, "float64")
    for rows in (slice(None), slice(0, 1), slice(None)):
        part = {k: v[rows] for k, v in batch.items()}
        params = {k: dask_backend.from_numpy(v, "float64") for k, v in case.params.items()}
        got = step(params, {k: dask_backend.from_numpy(v, "float64") for k, v in part.items()})
        want = ref_step(dict(case.params), part)
        np.testing.assert_allclose(dask_backend.to_numpy(got.output), want.output)
        for name, grad in want.grads.items():
            np.testing.assert_allclose(dask_backend.to_numpy(got.grads[name]), grad)


# ---- import-time warnings ----


@pytest.fixture
def warning_library(tmp_path, monkeypatch):
    """An importable module that warns when imported (as ndonnx does without onnxruntime)."""
    (tmp_path / "warns_on_import.py").write_text(
        textwrap.dedent(
            """
            import warnings

            warnings.warn("accelerator not installed; using the slow path", UserWarning)
            from numpy import *  # noqa: F403
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "warns_on_import", raising=False)
    return "warns_on_import"


def test_import_time_warning_leaves_the_backend_available(warning_library, registry, reference):
    """pytest runs with filterwarnings = error here: the warning must not become the reason."""
    backend = ManualBackend(name="warns", module=warning_library, library="numpy")
    status = plugins.availability(backend)
    assert status.available, status.reason
    assert status.warnings == ("UserWarning: accelerator not installed; using the slow path",)
    assert plugins.availability(backend).warnings == status.warnings  # still there, once
    cell = run_cell(registry["task1-forward"], backend, "float64", reference)
    assert cell.status == "pass", cell.message


def test_import_time_warning_of_a_plugin_module_is_recorded(install_plugins, tmp_path):
    (tmp_path / "warning_plugin.py").write_text(
        "import warnings\n"
        "warnings.warn('deprecated option', DeprecationWarning)\n"
        "from harness.manual import ManualBackend\n"
        "backend = ManualBackend(name='warning-plugin', module='numpy', library='numpy')\n"
    )
    install_plugins({"warning-plugin": "warning_plugin:backend"})
    backend = plugins.load("warning-plugin")
    status = plugins.availability(backend)
    assert status.available, status.reason
    assert status.warnings == ("DeprecationWarning: deprecated option",)
