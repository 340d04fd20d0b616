"""A golden that every backend misses while agreeing with the reference is named as suspect,
with where it came from; a backend that is wrong on its own never makes a golden suspect."""

from __future__ import annotations

import pytest

from harness import cases, plugins
from harness.matrix import Reference, run_cell
from harness.protocol import DTYPES
from harness.suspects import golden_suspects

CORRECT = ("numpy", "torch-manual")


@pytest.fixture
def misprinted(tmp_path) -> cases.Case:
    """task2-grad-batch-sum with one digit of seed 001's golden mistyped (0.380... -> 0.381...)."""
    text = (cases.builtin_dir() / "task2-grad-batch-sum.toml").read_text()
    path = tmp_path / "task2-grad-batch-sum.toml"
    path.write_text(text.replace("[0.38096682, 0.38096682", "[0.38196682, 0.38096682", 1))
    return cases.load(path)


def _cells(case, backends):
    reference = Reference()
    return [run_cell(case, b, dtype, reference) for b in backends for dtype in DTYPES]


def test_a_misprinted_golden_is_named_with_its_source(misprinted, load_backend):
    """Before issue 10 every cell said "batch/grad.w1 vs golden: ... beyond tolerance" with 0
    error against the reference, and nothing pointed at the golden."""
    cells = _cells(misprinted, [load_backend(name) for name in CORRECT])
    assert all(cell.status == "fail" for cell in cells)
    text = golden_suspects(cells, [misprinted])
    first = text.splitlines()[0]
    assert first.startswith("suspect golden: task2-grad-batch-sum batch/grad.w1: every cell")
    assert "numpy float32, numpy float64, torch-manual float32, torch-manual float64" in first
    assert "max abs err 1.0e-03" in first
    assert "golden source: seed 001, Task 2, NumPy (seed 003 prints the same)" in text
    assert "(printed to 8 decimals)" in text
    assert "case provenance: 001_2d185a76639a3151.txt, Task 2:" in text


def test_no_suspect_on_the_builtin_cases(registry, load_backend):
    cells = [c for case in registry.values() for c in _cells(case, [load_backend("numpy")])]
    assert golden_suspects(cells, registry.values()) == ""


def test_a_backend_wrong_on_its_own_makes_no_golden_suspect(install_plugins, registry):
    install_plugins({"relu-discarded": "broken_backends.relu_discarded:backend"})
    case = cases.load(cases.builtin_dir() / "relu-mixed-signs.toml")
    cells = _cells(case, [plugins.load("relu-discarded"), plugins.load("numpy")])
    assert any(cell.status == "fail" for cell in cells)
    assert golden_suspects(cells, [case]) == ""


def test_control_characters_in_a_golden_source_are_escaped(misprinted, load_backend):
    run = misprinted.runs[0]
    golden = run.golden["grad.w1"]
    sneaky = golden.__class__(golden.value, golden.decimals, "seed\x1b[2J 001", golden.tolerance)
    run.golden["grad.w1"] = sneaky
    text = golden_suspects(_cells(misprinted, [load_backend("numpy")]), [misprinted])
    assert "golden source: seed\\x1b[2J 001" in text
    assert all(ch.isprintable() for line in text.splitlines() for ch in line)


def _shifted(tmp_path, name: str, old: str, new: str) -> cases.Case:
    text = (cases.builtin_dir() / f"{name}.toml").read_text()
    assert old in text
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1))
    return cases.load(path)


def test_a_snapshot_every_backend_misses_is_no_suspect(tmp_path, load_backend):
    """relu-mixed-signs' loss is the harness's own output (snapshot = true): moved, every
    cell misses it, and that says the reference changed, not that the golden is suspect."""
    case = _shifted(tmp_path, "relu-mixed-signs", "value = 1.44044", "value = 2.44044")
    golden = case.runs[0].golden["loss"]
    assert golden.snapshot and golden.source.startswith("xp-harness")
    cells = _cells(case, [load_backend(name) for name in CORRECT])
    assert all(cell.status == "fail" for cell in cells)
    assert golden_suspects(cells, [case]) == ""


def test_an_independent_torch_golden_every_backend_misses_is_a_suspect(tmp_path, load_backend):
    """The same for a golden from tools/torch_goldens.py: independent, so it is named."""
    case = _shifted(tmp_path, "log-softmax-nll", "value = 264.80", "value = 265.80")
    assert not case.runs[0].golden["loss"].snapshot
    cells = _cells(case, [load_backend(name) for name in CORRECT])
    text = golden_suspects(cells, [case])
    assert text.startswith("suspect golden: log-softmax-nll batch/loss: every cell")
    assert "golden source: torch.nn.functional float64 (tools/torch_goldens.py" in text
