"""`harness repro`: standalone scripts that agree for correct libraries, fail on a wrong
computation naming the worst tensor, and run where the harness is not importable."""

from __future__ import annotations

import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from harness import cli
from harness.repro import runtime, script
from harness.repro.libraries import Description

BOOT = (
    "import importlib.util, runpy, sys\n"
    "sys.path[:0] = sys.argv[1].split(':')\n"
    "assert importlib.util.find_spec('harness') is None, 'the harness is importable'\n"
    "sys.argv = sys.argv[2:]\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)
"""Runs a script with `python -I -S`: no site (so no .pth: the harness's editable install is
invisible), no PYTHONPATH, no current directory; only the site-packages directories that hold
NumPy, torch and JAX."""


def run_without_harness(path: Path) -> subprocess.CompletedProcess:
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    command = [sys.executable, "-I", "-S", "-c", BOOT, ":".join(paths), str(path)]
    return subprocess.run(command, capture_output=True, text=True, cwd=path.parent, timeout=300)


def write(tmp_path, capsys, case: str, backend: str, dtype: str) -> Path:
    out = tmp_path / f"{case}-{backend}-{dtype}.py"
    code = cli.main(["repro", case, "--backend", backend, "--dtype", dtype, "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert f"wrote {out}" in capsys.readouterr().out
    return out


SCRIPTS = [
    ("transformer-block-adam", "numpy", "float64"),
    ("transformer-block-adam", "torch", "float32"),
    ("transformer-block-adam", "torch-manual", "float64"),
    ("transformer-block-adam", "array-api-strict", "float32"),
    ("task3-train-dropout", "jax-manual", "float32"),
    ("task3-train", "jax", "float64"),
    # JAX compiles the transformer's step for seconds, eager JAX each op once per shape
    pytest.param("transformer-block-adam", "jax", "float32", marks=pytest.mark.slow),
    pytest.param("transformer-block-adam", "jax-manual", "float64", marks=pytest.mark.slow),
    pytest.param("tanh-mixed-signs", "jax-eager", "float64", marks=pytest.mark.slow),
    pytest.param("attention-causal", "torch-compile", "float32", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("case", "backend", "dtype"), SCRIPTS)
def test_a_script_agrees_without_the_harness(tmp_path, capsys, case, backend, dtype):
    path = write(tmp_path, capsys, case, backend, dtype)
    text = path.read_text()
    assert not re.search(r"^\s*(import|from) harness", text, re.MULTILINE)
    done = run_without_harness(path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^agree: all \d+ tensors within tolerance$", done.stdout, re.MULTILINE)
    assert "worst: " in done.stdout


def _relu_case(registry, reference):
    case = registry["relu-mixed-signs"]
    expected = {run.name: dict(reference.get(case, run.name).tensors) for run in case.runs}
    return case, expected


def test_a_wrong_reference_value_fails_naming_the_worst_tensor(tmp_path, registry, reference):
    case, expected = _relu_case(registry, reference)
    wrong = expected["batch"]["grad.w2"].copy()
    wrong[1, 0] += 1e-3
    expected["batch"]["grad.w2"] = wrong
    numpy = Description("numpy", "numpy", "manual")
    path = tmp_path / "wrong.py"
    path.write_text(script.build(case, numpy, "float64", expected, "test").text)
    done = run_without_harness(path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DISAGREE: 1 of 4 tensors beyond tolerance" in done.stdout
    assert re.search(r"^worst: batch/grad\.w2: max abs err 1\.00e-03, .* at \(1, 0\)", done.stdout,
                     re.MULTILINE)  # fmt: skip


def test_a_broken_step_fails(tmp_path, capsys):
    """The emitted step edited as a backend bug would have it: the bias gradient's sign."""
    path = write(tmp_path, capsys, "batch-bias-se-mean", "torch-manual", "float32")
    text = path.read_text()
    broken, edits = re.subn(r"'b1': (v\d+)", r"'b1': -\1", text)
    assert edits == 1
    path.write_text(broken)
    done = run_without_harness(path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(r"^worst: batch/grad\.b1: .* at \d+ \(got ", done.stdout, re.MULTILINE)


def test_large_data_goes_to_an_npz_beside_the_script(tmp_path, capsys, registry):
    case_file = tmp_path / "wide.toml"
    case_file.write_text(WIDE_CASE)
    path = write(tmp_path, capsys, str(case_file), "numpy", "float32")
    data = path.with_suffix(".npz")
    assert data.is_file()
    assert "DATA = np.load(" in path.read_text()
    assert set(np.load(data)) >= {"params/w1", "all/x", "expected/all/grad.w1"}
    done = run_without_harness(path)
    assert done.returncode == 0, done.stdout + done.stderr


WIDE_CASE = """
description = "A linear layer wide enough that its data is kept out of the script."
[[provenance]]
seed = "test"
where = "tests/test_repro.py"
printed = "nothing"
[model]
layers = [{ type = "linear", in = 40, out = 30, bias = true }, { type = "tanh" }]
loss = { type = "squared_error", reduction = "mean" }
[random]
seed = 3
[arrays]
x = { draw = "uniform", low = -1.0, high = 1.0, shape = [64, 40] }
y = { draw = "uniform", low = -1.0, high = 1.0, shape = [64, 30] }
w1 = { draw = "uniform", low = -0.2, high = 0.2, shape = [40, 30] }
b1 = { draw = "uniform", low = -0.2, high = 0.2, shape = [30] }
[task]
kind = "gradient"
[[runs]]
name = "all"
x = "x"
y = "y"
"""


def test_the_script_goes_to_standard_output_without_out(capsys):
    assert cli.main(["repro", "relu-mixed-signs", "--backend", "numpy"]) == 0
    captured = capsys.readouterr()
    assert "in float32 (choose with --dtype)" in captured.err
    compile(captured.out, "<script>", "exec")
    assert captured.out.startswith('"""Reproducer: relu-mixed-signs on numpy (numpy manual)')


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["relu-mixed-sign", "--backend", "numpy"], "unknown case 'relu-mixed-sign' (did you mean"),
        (["relu-mixed-signs", "--backend", "nump"], "unknown backend 'nump' (did you mean 'numpy'"),
        (["relu-mixed-signs", "--backend", "numpy", "--dtype", "float16"], "unknown dtype"),
        (["relu-mixed-signs", "--backend", "dask"], "no reproducer for library 'dask'"),
        (["missing.toml", "--backend", "numpy"], "case file missing.toml: no such file"),
        (
            ["relu-mixed-signs", "--backend", "numpy", "--out", "/nonexistent/r.py"],
            "directory /nonexistent does not exist",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, argv, message):
    assert cli.main(["repro", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1 and err.startswith("harness: error: ")


def test_a_malformed_case_file_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("description = 'x'\n[model]\nlayers = 3\n")
    assert cli.main(["repro", str(bad), "--backend", "numpy"]) == 2
    assert capsys.readouterr().err.startswith(f"harness: error: {bad}: ")


ODD_LIBRARY = """
import dataclasses
from broken_backends import NUMPY, Bugged
backend = Bugged("odd", base=dataclasses.replace(NUMPY, name="odd", library="odd-arrays"))
"""


def test_a_plugin_is_described_by_its_worker(install_plugins, tmp_path, capsys):
    """A third party's backend: its library comes from its worker's description; a library
    no generator knows is one line and exit 2."""
    (tmp_path / "odd_plugin.py").write_text(ODD_LIBRARY)
    install_plugins(
        {"relu-discarded": "broken_backends.relu_discarded:backend", "odd": "odd_plugin:backend"}
    )
    assert cli.main(["repro", "relu-mixed-signs", "--backend", "relu-discarded"]) == 0
    assert "relu-mixed-signs on relu-discarded (numpy manual)" in capsys.readouterr().out
    assert cli.main(["repro", "relu-mixed-signs", "--backend", "odd"]) == 2
    assert "backend 'odd': no reproducer for library 'odd-arrays'" in capsys.readouterr().err


def test_compare_never_passes_nan_and_finds_the_worst_element():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert runtime.compare("t", expected, expected, 1e-10, 0.0)["ok"]
    got = expected.copy()
    got[1, 0] = np.nan
    record = runtime.compare("t", got, expected, 1e-10, 0.0)
    assert not record["ok"] and record["index"] == (1, 0)
    assert "1 non-finite value(s)" in runtime.describe(record)
    got = expected + np.array([[0.0, 1e-3], [2e-3, 0.0]])
    record = runtime.compare("t", got, expected, 1e-10, 1e-12)
    assert record["index"] == (1, 0)  # 2e-3 over 3 is further past its bound than 1e-3 over 2
    assert record["max_abs"] == pytest.approx(2e-3)
    assert not runtime.compare("t", np.zeros(3), expected, 1, 1)["ok"]
