"""The gradient strategies beyond the core three: manual backward on torch, JAX and the strict
namespace (no autograd), JAX eager beside JAX jitted, torch.compile beside torch eager."""

from __future__ import annotations

import copy
import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

from harness import gradcheck, plugins
from harness.cases import Case, Run, Task
from harness.driver import execute
from harness.matrix import Reference, run_cell
from harness.network import build
from harness.tasks import batches
from harness.tolerance import DEFAULT

STRATEGIES = {
    # name: (library, strategy)
    "torch-manual": ("torch", "manual"),
    "jax-manual": ("jax", "manual"),
    "array-api-strict": ("array-api-strict", "manual"),
    "jax-eager": ("jax", "autograd"),
    "torch-compile": ("torch", "autograd"),
}


def usable(load_backend, name: str):
    backend = load_backend(name)
    status = plugins.availability(backend)
    if not status.available:
        pytest.skip(f"{name}: {status.reason}")
    return backend


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_each_strategy_is_a_registered_plugin(name):
    assert name in plugins.discover()
    backend = plugins.load(name)
    assert backend.name == name
    assert (backend.library, gradcheck.strategy(backend)) == STRATEGIES[name]


def test_torch_manual_needs_no_autograd(registry, load_backend):
    """Under inference_mode torch records no graph: a gradient that still comes out right
    was computed by the hand-written backward."""
    torch = pytest.importorskip("torch")
    backend = usable(load_backend, "torch-manual")
    with torch.inference_mode():
        cell = run_cell(registry["task2-grad-batch-sum"], backend, "float64", Reference())
    assert cell.status == "pass", cell.message


def test_jax_manual_needs_no_jax_grad(registry, load_backend, monkeypatch):
    jax = pytest.importorskip("jax")
    backend = usable(load_backend, "jax-manual")

    def forbidden(*args, **kwargs):
        raise AssertionError("jax-manual used JAX's autodiff")

    for name in ("grad", "value_and_grad", "vjp", "jvp", "linearize"):
        monkeypatch.setattr(jax, name, forbidden)
    cell = run_cell(registry["task3-train-dropout"], backend, "float64", Reference())
    assert cell.status == "pass", cell.message


def test_jax_manual_float64_leaves_x64_off(registry, load_backend):
    jax = pytest.importorskip("jax")
    backend = usable(load_backend, "jax-manual")
    assert not jax.config.jax_enable_x64
    cell = run_cell(registry["task2-grad-sample-mean"], backend, "float64", Reference())
    assert cell.status == "pass", cell.message
    assert not jax.config.jax_enable_x64
    assert jax.numpy.asarray(1.0).dtype == jax.numpy.float32


@pytest.mark.parametrize(("name", "traced_once"), [("jax", True), ("jax-eager", False)])
def test_jax_is_jitted_and_jax_eager_is_not(name, traced_once, registry, load_backend):
    """Under jit the Python loss runs once (tracing); eager, it runs on every step."""
    backend = usable(load_backend, name)
    case = registry["task3-train"]
    calls = []

    def counted(xp, pred, target):
        calls.append(1)
        return case.network.loss.forward(xp, pred, target)

    network = dataclasses.replace(case.network, loss=case.network.loss._replace(forward=counted))
    counted_case = dataclasses.replace(case, network=network)
    run = case.runs[0]
    steps = sum(1 for _ in batches(network, run))
    with backend.numerics("float32"):
        step = backend.make_step(network, "float32")
    tensors = execute(backend, counted_case, run, "float32", step)
    assert np.all(np.isfinite(tensors["step_losses"]))
    assert len(calls) == (1 if traced_once else steps)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_agrees_with_torch_eager(registry, load_backend):
    compiled = usable(load_backend, "torch-compile")
    eager = usable(load_backend, "torch")
    case = registry["mlp-regression"]
    reference = Reference()
    cells = [run_cell(case, b, "float32", reference) for b in (compiled, eager)]
    assert [c.status for c in cells] == ["pass", "pass"], [c.message for c in cells]
    tol = case.tolerance_for("float32")
    for run in case.runs:
        mine, theirs = (c.outcomes[run.name].tensors for c in cells)
        for name, value in mine.items():
            np.testing.assert_allclose(value, theirs[name], rtol=tol.rtol, atol=tol.atol)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_compiles_every_network_without_falling_back_to_eager(load_backend):
    """Twelve networks, more than Dynamo's 8 recompiles per code object: none may run eager."""
    torch = pytest.importorskip("torch")
    compiled = usable(load_backend, "torch-compile")
    rng = np.random.default_rng(0)
    reference = Reference()
    failures = {}
    with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
        for depth, activation, bias in itertools.product((1, 2, 3), ("relu", "sigmoid"), (0, 1)):
            case = _chain(depth, activation, bool(bias), rng)
            cell = run_cell(case, compiled, "float64", reference)
            if cell.status != "pass":
                failures[depth, activation, bias] = cell.message
    assert not failures


def _chain(depth: int, activation: str, bias: bool, rng) -> Case:
    """A 3-wide chain of `depth` Linear layers, each followed by `activation`; squared error."""
    layers = []
    for _ in range(depth):
        layers += [{"type": "linear", "in": 3, "out": 3, "bias": bias}, {"type": activation}]
    network = build(layers, {"type": "squared_error", "reduction": "sum"})
    params = {name: rng.standard_normal(shape) for name, shape in network.param_shapes.items()}
    run = Run(
        "chain", Task("gradient"), rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), {}
    )
    name = f"chain-{depth}-{activation}-{bias}"  # the reference is cached by case name
    return Case(name, Path(f"<{name}>"), "", (), network, params, (run,), dict(DEFAULT))


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_torch_compile_compiles_a_network_once_however_often_it_is_stepped(registry, load_backend):
    """run_cell, the gradient check and the divergence report each ask for a step."""
    from torch._dynamo.utils import counters

    compiled = type(usable(load_backend, "torch-compile"))()  # nothing compiled yet
    case = _chain(2, "relu", True, np.random.default_rng(1))
    reference = Reference()
    before = counters["stats"]["unique_graphs"]
    cells = [run_cell(case, compiled, "float64", reference) for _ in range(3)]
    assert [cell.status for cell in cells] == ["pass"] * 3
    assert counters["stats"]["unique_graphs"] - before == 1


@pytest.mark.parametrize("name", ["numpy", "torch", "torch-manual"])
def test_a_backend_given_a_device_puts_its_arrays_there(name, registry, load_backend):
    """What the benchmarks do with `--bench-device cuda`, on the one device every machine has."""
    backend = copy.copy(usable(load_backend, name))
    backend.device = "cpu"
    assert "cpu" in str(backend.from_numpy(np.ones(2), "float64").device)
    cell = run_cell(registry["task2-grad-batch-sum"], backend, "float64", Reference())
    assert cell.status == "pass", cell.message


def test_a_manual_backend_places_arrays_on_a_second_device(registry, load_backend, monkeypatch):
    """array_api_strict has a second (simulated) device: arrays go there, and come back to
    NumPy through `to_device` when DLPack will not export them (as a CUDA tensor will not)."""
    strict = pytest.importorskip("array_api_strict")
    backend = copy.copy(usable(load_backend, "array-api-strict"))
    backend.device = strict.Device("device1")
    assert backend.from_numpy(np.ones(2), "float64").device == backend.device

    host_only = np.from_dlpack

    def refuse(array, *args, **kwargs):
        if getattr(array, "device", None) == backend.device:  # device1: refuse, like CUDA
            raise BufferError("not on the host")
        return host_only(array, *args, **kwargs)

    monkeypatch.setattr(np, "from_dlpack", refuse)
    cell = run_cell(registry["task2-grad-batch-sum"], backend, "float64", Reference())
    assert cell.status == "pass", cell.message
