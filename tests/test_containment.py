"""Failures stay contained: a plugin that cannot import, raises, or returns a NaN, a wrong
shape or a wrong dtype spoils its own cells only, with a message naming the cause; a bad case
file spoils only itself; and the NumPy float64 results are bitwise repeatable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np

from harness import cases, cli
from harness.matrix import Reference, run_cell

MISBEHAVING = {
    "import-fails": "broken_backends.import_fails:backend",
    "raises-in-step": "broken_backends.misbehaving:raises_in_step",
    "returns-nan": "broken_backends.misbehaving:returns_nan",
    "wrong-shape": "broken_backends.misbehaving:wrong_shape",
    "wrong-dtype": "broken_backends.misbehaving:wrong_dtype",
    "extra-gradient": "broken_backends.misbehaving:extra_gradient",
}
CASES = ("task2-grad-batch-sum", "task3-train")


def run_misbehaving(install_plugins, capsys, tmp_path) -> tuple[int, str, dict]:
    """`harness run` over the misbehaving plugins and numpy: (exit code, stdout, JSON)."""
    install_plugins(MISBEHAVING)
    out = tmp_path / "cells.json"
    args = ["run", "--dtype", "float64", "--json", str(out)]
    for name in CASES:
        args += ["--case", name]
    for name in [*MISBEHAVING, "numpy"]:
        args += ["--backend", name]
    code = cli.main(args)
    return code, capsys.readouterr().out, json.loads(out.read_text())


def test_each_misbehaving_plugin_spoils_only_its_own_cells(install_plugins, capsys, tmp_path):
    code, printed, doc = run_misbehaving(install_plugins, capsys, tmp_path)
    assert code == 1
    cells = {(c["case"], c["backend"]): c for c in doc["cells"]}
    assert len(cells) == len(CASES) * (len(MISBEHAVING) + 1)
    for case in CASES:
        loaded = cases.load(cases.builtin_dir() / f"{case}.toml")
        first_run, w2 = loaded.runs[0].name, loaded.params["w2"]
        assert cells[case, "numpy"]["status"] == "pass", cells[case, "numpy"]["message"]

        unavailable = cells[case, "import-fails"]
        assert unavailable["status"] == "skip"
        assert unavailable["message"] == (
            "unavailable: plugin failed to import: ModuleNotFoundError: "
            "No module named 'harness_no_such_array_library'"
        )
        raising = cells[case, "raises-in-step"]
        assert (raising["status"], raising["message"]) == (
            "error",
            "RuntimeError: device lost in the middle of a step",
        )
        shape = cells[case, "wrong-shape"]
        assert shape["status"] == "fail"
        assert shape["message"] == (
            f"{first_run}/step 1: grad.w2 has shape {w2.shape[::-1]}, expected {w2.shape}"
        )
        dtype = cells[case, "wrong-dtype"]
        assert dtype["status"] == "fail"
        assert (
            dtype["message"] == f"{first_run}/step 1: grad.w2 has dtype float16, expected float64"
        )
        extra = cells[case, "extra-gradient"]
        assert (extra["status"], extra["message"]) == (
            "fail",
            f"{first_run}/step 1: gradient for unknown x",
        )
        nan = cells[case, "returns-nan"]
        assert nan["status"] == "fail"
        assert "non-finite" in nan["message"]
        assert nan["diagnosis"]["tensor"] == "grad.w2"
        assert nan["diagnosis"]["problem"] == f"{w2.size} non-finite value(s)"
    for line in printed.splitlines():  # the table shows each cell's status and message
        if line.startswith("task2-grad-batch-sum") and " raises-in-step " in line:
            assert " error " in line and line.endswith("device lost in the middle of a step")


def test_misbehaving_plugins_leave_the_gradient_check_of_others_alone(
    install_plugins, capsys, tmp_path
):
    _, _, doc = run_misbehaving(install_plugins, capsys, tmp_path)
    checks = {(c["case"], c["manual"]): c for c in doc["gradcheck"]}
    for case in CASES:
        assert checks[case, "numpy"]["status"] == "agree"
        assert checks[case, "raises-in-step"]["status"] == "error"
        assert "device lost" in checks[case, "raises-in-step"]["verdict"]
        assert checks[case, "returns-nan"]["status"] == "disagree"
        assert (case, "import-fails") not in checks  # unavailable: nothing to check


def test_one_malformed_case_file_spoils_only_itself(tmp_path, capsys):
    builtin = cases.builtin_dir()
    for path in builtin.glob("*.toml"):
        shutil.copy(path, tmp_path)
    text = (builtin / "task2-grad-batch-sum.toml").read_text()
    (tmp_path / "bad-shape.toml").write_text(
        text.replace("shape = [4, 2]", "shape = [2, 4]"), encoding="utf-8"
    )
    loaded, errors = cases.load_dir(tmp_path)
    assert sorted(c.name for c in loaded) == sorted(p.stem for p in builtin.glob("*.toml"))
    (error,) = errors
    assert "\n" not in str(error)
    assert "bad-shape.toml" in str(error) and "arrays.w2" in str(error)
    # every other case is listed, but a skipped file is not a success
    assert cli.main(["cases", "--cases", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    (line,) = captured.err.splitlines()
    assert "bad-shape.toml" in line
    assert len([x for x in captured.out.splitlines() if not x.startswith(" ")]) == len(loaded)


def test_numpy_float64_is_bitwise_repeatable(registry, load_backend, tmp_path):
    """Twice in this process and once in a fresh one: the same bytes for every tensor."""
    backend = load_backend("numpy")
    first, second = (
        {name: run_cell(case, backend, "float64", Reference()) for name, case in registry.items()}
        for _ in range(2)
    )
    out = tmp_path / "cells.json"
    command = [sys.executable, "-m", "harness.cli", "run", "--backend", "numpy"]
    command += ["--dtype", "float64", "--no-gradcheck", "--json", str(out)]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    fresh = {c["case"]: c["tensors"] for c in json.loads(out.read_text())["cells"]}
    for name, cell in first.items():
        for run, outcome in cell.outcomes.items():
            for tensor, value in outcome.tensors.items():
                again = second[name].outcomes[run].tensors[tensor]
                assert value.tobytes() == again.tobytes(), (name, run, tensor)
                elsewhere = np.array(fresh[name][run][tensor], dtype=np.float64)
                assert value.tobytes() == elsewhere.tobytes(), (name, run, tensor)
