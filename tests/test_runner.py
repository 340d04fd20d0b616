"""The cell runner contains backends that exit, crash, hang or write into their inputs: each
spoils its own cells only (crashed, timeout or fail, naming why), every other backend's cells
still pass, and the run exits non-zero."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import cli

UNRULY = {
    name: f"broken_backends.unruly:{attribute}"
    for name, attribute in {
        "calls-sys-exit": "calls_sys_exit",
        "calls-os-exit": "calls_os_exit",
        "segfaults": "segfaults",
        "hangs-in-make-step": "hangs_in_make_step",
        "writes-params": "writes_params",
        "writes-batch": "writes_batch",
        "zero-copy": "zero_copy",
        "out-of-memory": "out_of_memory",
        "interrupts": "interrupts",
    }.items()
}
CASES = ("task2-grad-batch-sum", "task3-train")


def harness_run(capsys, tmp_path, backends, *extra: str) -> tuple[int, str, dict]:
    """`harness run` in this process: (exit status, stdout, the JSON's cells by key)."""
    out = tmp_path / "cells.json"
    args = ["run", "--dtype", "float64", "--json", str(out), "--no-gradcheck", *extra]
    for name in CASES:
        args += ["--case", name]
    for name in backends:
        args += ["--backend", name]
    code = cli.main(args)
    doc = json.loads(out.read_text())
    assert doc["complete"] is True
    cells = {(c["case"], c["backend"]): c for c in doc["cells"]}
    return code, capsys.readouterr().out, cells


def test_exits_and_crashes_end_only_their_own_cells(install_plugins, capsys, tmp_path):
    install_plugins(UNRULY)
    bad = ["calls-sys-exit", "calls-os-exit", "segfaults", "out-of-memory", "interrupts"]
    code, printed, cells = harness_run(capsys, tmp_path, [*bad, "numpy"])
    assert code == 1
    expected = {
        "calls-sys-exit": "the backend called sys.exit(0)",
        "calls-os-exit": "the worker died: exit status 3",
        "segfaults": "the worker died: killed by SIGSEGV",
        "out-of-memory": "MemoryError",
        "interrupts": "the backend raised KeyboardInterrupt",
    }
    for case in CASES:
        assert cells[case, "numpy"]["status"] == "pass", cells[case, "numpy"]["message"]
        for name, message in expected.items():
            assert cells[case, name]["status"] == "crashed"
            assert cells[case, name]["message"].startswith(message), cells[case, name]
    assert "crashed" in printed.splitlines()[-1] or " 10 crashed" in printed


def test_a_hang_is_a_timeout_and_the_next_cell_still_runs(install_plugins, capsys, tmp_path):
    install_plugins(UNRULY)
    start = time.monotonic()
    code, _, cells = harness_run(
        capsys, tmp_path, ["hangs-in-make-step", "numpy"], "--timeout", "3"
    )
    assert time.monotonic() - start < 60  # two 3 s limits, not two 120 s sleeps
    assert code == 1
    for case in CASES:  # the worker was replaced: the second case timed out on its own
        hung = cells[case, "hangs-in-make-step"]
        assert (hung["status"], hung["message"]) == (
            "timeout",
            "ran past the 3 s limit; its worker was ended (raise the limit with --timeout SECONDS)",
        )
        assert cells[case, "numpy"]["status"] == "pass"


@pytest.mark.parametrize("culprit", ["writes-params", "writes-batch", "zero-copy"])
def test_a_step_that_writes_to_its_inputs_fails_and_harms_no_one(
    culprit, install_plugins, capsys, tmp_path
):
    """In either order: the culprit fails, naming what it wrote; numpy, after it, passes."""
    install_plugins(UNRULY)
    code, _, cells = harness_run(capsys, tmp_path, [culprit, "numpy"], "--jobs", "1")
    assert code == 1
    for case in CASES:
        assert cells[case, "numpy"]["status"] == "pass", cells[case, "numpy"]["message"]
        failed = cells[case, culprit]
        assert failed["status"] == "fail"
        if culprit == "writes-params":
            assert "step 1: the step changed its param w1 in place" in failed["message"]
        elif culprit == "writes-batch":
            assert "the run: the step changed its batch input x in place" in failed["message"]
        else:
            assert "the step wrote to an input it was handed" in failed["message"]


def test_in_place_writes_are_caught_in_process_too(install_plugins, capsys, tmp_path, registry):
    """--no-isolate: the registry's arrays are read-only, the copies handed out are fresh."""
    install_plugins(UNRULY)
    code, _, cells = harness_run(capsys, tmp_path, ["zero-copy", "writes-params", "numpy"])
    assert code == 1
    code, _, again = harness_run(
        capsys, tmp_path, ["zero-copy", "writes-params", "numpy"], "--no-isolate"
    )
    assert code == 1
    assert {k: c["status"] for k, c in again.items()} == {k: c["status"] for k, c in cells.items()}


def test_sys_exit_in_process_is_a_crashed_cell(install_plugins, capsys, tmp_path):
    install_plugins(UNRULY)
    code, _, cells = harness_run(capsys, tmp_path, ["calls-sys-exit", "numpy"], "--no-isolate")
    assert code == 1
    assert cells[CASES[0], "calls-sys-exit"]["status"] == "crashed"
    assert cells[CASES[0], "numpy"]["status"] == "pass"


def test_show_exits_1_on_a_crashed_cell(install_plugins, capsys):
    install_plugins(UNRULY)
    assert cli.main(["show", CASES[0], "--backend", "calls-os-exit"]) == 1
    assert "status: crashed  the worker died: exit status 3" in capsys.readouterr().out


def test_jobs_do_not_change_the_table_or_the_json(capsys, tmp_path):
    tables, docs = [], []
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}.json"
        args = ["run", "--json", str(out), "--jobs", jobs, "--backend", "numpy"]
        args += ["--backend", "array-api-strict", "--backend", "torch-manual"]
        assert cli.main([*args, "--case", "task1-forward", "--case", "task3-train"]) == 0
        printed = capsys.readouterr().out.replace(str(out), "JSON")
        tables.append(re.sub(r"\b\d+\.\d\ds\b", "TIME", printed))
        doc = json.loads(out.read_text())
        doc.pop("environment")  # the command line and the times differ from run to run
        for cell in doc["cells"]:
            cell.pop("seconds")
        docs.append(doc)
    assert tables[0] == tables[1]
    assert docs[0] == docs[1]


def test_sigint_leaves_a_valid_partial_json_and_exits_130(install_plugins, tmp_path):
    """The coordinator is interrupted while a backend hangs: exit 130, complete: false."""
    install_plugins(UNRULY)
    out = tmp_path / "cells.json"
    out.write_text('{"stale": true}')
    command = [sys.executable, "-m", "harness.cli", "run", "--json", str(out), "--jobs", "1"]
    command += ["--backend", "numpy", "--backend", "hangs-in-make-step", "--dtype", "float64"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        time.sleep(0.5)
        doc = json.loads(out.read_text())
        if len(doc.get("cells", [])) >= 1:
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err.decode()
    doc = json.loads(out.read_text())
    assert doc["complete"] is False
    assert "stale" not in doc
    assert doc["cells"] and all(c["backend"] == "numpy" for c in doc["cells"])
    assert all(c["status"] == "pass" for c in doc["cells"])


def test_a_case_beyond_the_work_budget_is_refused(tmp_path, capsys):
    from harness import cases

    text = (cases.builtin_dir() / "task3-train.toml").read_text()
    assert "epochs = 100\n" in text
    (tmp_path / "forever.toml").write_text(text.replace("epochs = 100\n", "epochs = 1000000000\n"))
    assert cli.main(["cases", "--cases", str(tmp_path)]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "forever.toml: runs." in line and "runs.x1.task.epochs: work 2.0e+10" in line
    assert "raise it with --max-work" in line
    assert cli.main(["run", "--cases", str(tmp_path), "--backend", "numpy"]) == 1
    printed = capsys.readouterr()
    assert "0 cells" in printed.out and "forever.toml" in printed.err  # refused, not run
    assert cli.main(["cases", "--cases", str(tmp_path), "--max-work", "1e11"]) == 0


def test_under_pytest_a_crashing_plugin_is_failed_tests_not_a_dead_session(tmp_path):
    """The matrix tests, in a fresh pytest session with two crashing plugins installed."""
    dist = tmp_path / "xp_unruly-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: xp-unruly\nVersion: 0.1\n")
    points = {k: UNRULY[k] for k in ("calls-os-exit", "segfaults")}
    lines = "".join(f"{name} = {target}\n" for name, target in points.items())
    (dist / "entry_points.txt").write_text(f"[harness.backends]\n{lines}")
    tests = Path(__file__).parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(tests)])}
    selected = "task1-forward and (numpy or calls-os-exit or segfaults)"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", selected]
    result = subprocess.run(
        [*command, str(tests / "test_cases.py")],
        env=env,
        cwd=tests.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 1, result.stdout[-3000:]
    assert "4 failed, 2 passed" in summary, result.stdout[-3000:]
    assert "the worker died: exit status 3" in result.stdout
    assert "the worker died: killed by SIGSEGV" in result.stdout


def test_a_plugin_that_kills_its_import_is_crashed_not_skipped(install_plugins, capsys, tmp_path):
    install_plugins({**UNRULY, "exits-on-import": "broken_backends.exits_on_import:backend"})
    assert cli.main(["backends"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert rows["exits-on-import"].endswith("crashed: the worker died: exit status 3")
    assert rows["numpy"].rstrip().endswith(" available")
    code, _, cells = harness_run(capsys, tmp_path, ["exits-on-import", "numpy"])
    assert code == 1
    for case in CASES:
        assert cells[case, "numpy"]["status"] == "pass"
        crashed = cells[case, "exits-on-import"]
        assert crashed["status"] == "crashed"
        assert crashed["message"] == "while loading the backend: the worker died: exit status 3"


def test_a_slow_backend_gets_the_longer_default_limit_and_an_explicit_one_wins():
    from harness.runner import DEFAULT_TIMEOUT, SLOW_TIMEOUT, CellRunner

    with CellRunner() as runner:
        assert runner.describe("torch-compile").slow
        assert runner.limit("torch-compile") == SLOW_TIMEOUT
        assert runner.limit("numpy") == DEFAULT_TIMEOUT
    with CellRunner(timeout=7.0) as runner:
        assert runner.limit("torch-compile") == 7.0


@pytest.mark.parametrize("command", ["run", "show task1-forward", "backends"])
def test_the_command_line_leaves_the_limit_to_the_runner_unless_told(command):
    """`harness run` without --timeout gives torch-compile its longer limit (a default of 120 s
    on the command line timed out its cold cells at load 9)."""
    from harness.cli import _parser
    from harness.command_line import make_runner
    from harness.runner import SLOW_TIMEOUT

    args = _parser().parse_args(command.split())
    with make_runner(args) as runner:
        assert runner.describe("torch-compile").slow
        assert runner.limit("torch-compile") == SLOW_TIMEOUT
    told = _parser().parse_args([*command.split(), "--timeout", "9"])
    with make_runner(told) as runner:
        assert runner.limit("torch-compile") == 9.0
