"""The `harness` command, run as a user runs it: in a subprocess, judged by output and status.

Each call costs a Python start (and torch/jax imports where backends load), so the calls are
few and restricted to `--backend numpy` wherever the test is not about other backends.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import cases, plugins
from harness.protocol import DTYPES
from harness.tolerance import printed_slack

BUILTIN_BACKENDS = ("numpy", "torch", "jax")


def harness(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "harness.cli", *map(str, args)]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def golden_tolerance(case, golden, dtype: str, printed: int | None = None):
    """The case's tolerance for a golden, widened by its printing and by ours (if printed)."""
    slack = printed_slack(golden.decimals) + printed_slack(printed)
    return case.tolerance_for(dtype, golden).widened(slack)


def test_backends_lists_the_builtins_with_versions(tmp_path):
    result = harness("backends", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line.split(maxsplit=4) for line in result.stdout.splitlines()}
    assert set(rows) == set(plugins.discover())
    for name in BUILTIN_BACKENDS:
        _, library, distribution, version, state = rows[name]
        assert library == distribution == name
        try:
            installed = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            assert state.startswith("unavailable: "), rows[name]
        else:
            assert (version, state) == (installed, "available"), rows[name]


def test_cases_lists_the_registry(tmp_path, registry):
    result = harness("cases", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    listed = [line.split()[0] for line in result.stdout.splitlines() if not line.startswith(" ")]
    assert sorted(listed) == sorted(registry)
    for name, case in registry.items():
        line = next(x for x in result.stdout.splitlines() if x.split()[0] == name)
        assert all(run.name in line for run in case.runs)


def test_run_writes_table_and_json(tmp_path, registry):
    out = tmp_path / "cells.json"
    result = harness(
        "run", "--case", "task1-forward", "--backend", "numpy", "--json", out, cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for dtype in DTYPES:
        assert re.search(rf"^task1-forward\s+numpy\s+{dtype}\s+pass\s", result.stdout, re.M)
    doc = json.loads(out.read_text())
    environment = doc["environment"]
    assert environment["command"][1:] == [
        "run",
        "--case",
        "task1-forward",
        "--backend",
        "numpy",
        "--json",
        str(out),
    ]
    assert environment["duration_s"] > 0 and environment["tolerance"]["float32"]["rtol"] == 2e-5
    records = doc["cells"]
    assert [(r["case"], r["backend"], r["dtype"]) for r in records] == [
        ("task1-forward", "numpy", dtype) for dtype in DTYPES
    ]
    case = registry["task1-forward"]
    for record in records:
        assert record["status"] == "pass"
        assert record["errors"] and all(e["ok"] for e in record["errors"])
        assert {e["against"] for e in record["errors"]} == {"golden", "reference"}
        assert set(record["tensors"]) == {run.name for run in case.runs}
        for run in case.runs:
            for name, golden in run.golden.items():
                value = record["tensors"][run.name][name]
                assert isinstance(value, list) and isinstance(value[0], list)  # nested lists
                tol = golden_tolerance(case, golden, record["dtype"])
                np.testing.assert_allclose(value, golden.value, rtol=tol.rtol, atol=tol.atol)


@pytest.mark.parametrize(
    ("args", "what", "valid"),
    [
        (["run", "--case", "task9", "--backend", "numpy"], "case", "cases"),
        (["run", "--backend", "numpy", "--backend", "cupy-magic"], "backend", "backends"),
        (["run", "--backend", "numpy", "--dtype", "float16"], "dtype", "dtypes"),
        (["show", "task9"], "case", "cases"),
    ],
    ids=["run-case", "run-backend", "run-dtype", "show-case"],
)
def test_unknown_name_is_one_line_listing_the_valid_names(args, what, valid, tmp_path, registry):
    result = harness(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert f"unknown {what}" in line
    names = {"cases": registry, "backends": plugins.discover(), "dtypes": DTYPES}[valid]
    assert all(name in line for name in names), line


def test_an_unknown_name_suggests_the_closest(tmp_path):
    result = harness("run", "--backend", "nump", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown backend 'nump' (did you mean 'numpy'?); valid: " in result.stderr


def test_the_selection_options_say_they_repeat():
    from harness.cli import _parser

    parser = _parser()
    run = parser._subparsers._group_actions[0].choices["run"]  # argparse keeps them private
    helps = {a.dest: a.help or "" for a in run._actions}
    for option in ("case", "backend", "dtype"):
        assert "repeat the option" in helps[option], option


def test_show_says_which_backend_and_dtype_it_chose(tmp_path):
    result = harness("show", "task1-forward", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        "harness show: on numpy in float64 (choose with --backend, --dtype)"
    ]
    assert "numpy float64 : " in result.stdout
    chosen = harness("show", "task1-forward", "--dtype", "float32", cwd=tmp_path)
    assert "on numpy in float32" in chosen.stderr and "numpy float32 : " in chosen.stdout


def test_failing_case_exits_1_and_reports_fail(tmp_path):
    """A wrong golden (seed 000's 0.13238887 made 0.13338887) fails; nothing else does."""
    source = cases.builtin_dir()
    text = (source / "task1-forward.toml").read_text()
    assert text.count("0.13238887, 0.86761113") == 1
    (tmp_path / "wrong-golden.toml").write_text(text.replace("0.13238887", "0.13338887"))
    shutil.copy(source / "task2-grad-batch-sum.toml", tmp_path)
    (tmp_path / "malformed.toml").write_text(text.replace('"relu"', '"relu6"'))
    out = tmp_path / "cells.json"
    result = harness(
        "run",
        "--cases",
        tmp_path,
        "--backend",
        "numpy",
        "--dtype",
        "float64",
        "--json",
        out,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    status = {r["case"]: r for r in json.loads(out.read_text())["cells"]}
    assert status.keys() == {"wrong-golden", "task2-grad-batch-sum"}
    assert status["task2-grad-batch-sum"]["status"] == "pass"
    wrong = status["wrong-golden"]
    assert wrong["status"] == "fail"
    failed = [(e["tensor"], e["against"]) for e in wrong["errors"] if not e["ok"]]
    assert failed == [("x1/output", "golden")]
    assert re.search(r"^wrong-golden\s+numpy\s+float64\s+fail\s", result.stdout, re.M)
    (skipped,) = result.stderr.splitlines()  # the malformed file: one line, the run goes on
    assert "malformed.toml" in skipped and "model.layers[1].type" in skipped
    assert "1 case file(s) skipped" in result.stdout
    (recorded,) = json.loads(out.read_text())["skipped_case_files"]
    assert "malformed.toml" in recorded
    # the gradient check ends with a count, as the cell table does
    assert "1 gradient check: 1 agree, 0 disagree, 0 error, 0 skip" in result.stdout.splitlines()


def test_a_skipped_case_file_alone_fails_the_run(tmp_path):
    """A misspelt field must not turn into a silent green run of nothing."""
    text = (cases.builtin_dir() / "task3-train.toml").read_text()
    assert text.count("\nepochs = ") == 1
    (tmp_path / "typo.toml").write_text(text.replace("\nepochs = ", "\nepoch = "))
    for args in (("cases",), ("run", "--backend", "numpy")):
        result = harness(*args, "--cases", tmp_path, cwd=tmp_path)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        (line,) = result.stderr.splitlines()
        assert "typo.toml" in line and "task.epoch: unknown field" in line


def test_a_directory_without_case_files_is_a_usage_error(tmp_path):
    result = harness("run", "--cases", tmp_path, "--backend", "numpy", cwd=tmp_path)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"harness: error: --cases {tmp_path}: no *.toml case files in it"
    )


def parse_block(lines: list[str], name: str) -> np.ndarray:
    """The printed array after `name : `, up to the blank line, in NumPy's repr layout."""
    start = lines.index(f"{name} : ") + 1
    end = lines.index("", start)
    rows = [line.strip(" []") for line in lines[start:end]]
    return np.array([[float(v) for v in row.split()] for row in rows])


def test_show_prints_seed_style(tmp_path, registry):
    result = harness(
        "show", "task2-grad-sample-mean", "--backend", "numpy", "--dtype", "float64", cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    case = registry["task2-grad-sample-mean"]
    # seed 000 printed `loss : 0.14201156044285512`; ours differs in the last digits only
    assert any(line.startswith("loss : 0.1420115604428") for line in lines)
    for run in case.runs:
        section = lines[lines.index(next(x for x in lines if f": {run.name} " in x)) :]
        loss_line = next(x for x in section if x.startswith("loss : "))
        golden = run.golden["loss"]
        tol = golden_tolerance(case, golden, "float64")
        assert float(loss_line.removeprefix("loss : ")) == pytest.approx(
            float(golden.value), rel=tol.rtol, abs=tol.atol
        )
        golden = run.golden["grad.w1"]
        printed = parse_block(section, "grad.w1")
        tol = golden_tolerance(case, golden, "float64", printed=8)
        np.testing.assert_allclose(printed, golden.value, rtol=tol.rtol, atol=tol.atol)
    assert "status: pass" in lines


def test_the_gradient_check_summary_counts_every_status():
    from types import SimpleNamespace

    from harness import report

    checks = [SimpleNamespace(status=s) for s in ("agree", "agree", "disagree", "skip")]
    assert report.gradcheck_summary(checks) == (
        "4 gradient checks: 2 agree, 1 disagree, 0 error, 1 skip"
    )
