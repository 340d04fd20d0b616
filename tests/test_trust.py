"""The judge lives where plugin code cannot reach it (issue 14).

Each test installs plugins that misbehave on purpose (tests/broken_backends: forging.py,
sneaky.py, marking.py, sleepy.py, adversaries.py) and runs the harness the way a user does,
in a subprocess where a plugin that reached the coordinator would poison only that process.
Every misdeed must spoil the plugin's own cells and nothing else: no forged pass, no exit 0
that should be 1, no plugin code in the judging process, no text or process that outlives it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import cli

TESTS = Path(__file__).parent
ADVERSARIES = {
    "forges-verdicts": "broken_backends.forging:forges_verdicts",
    "widens-tolerance": "broken_backends.forging:widens_tolerance",
    "poisons-numpy-exp": "broken_backends.adversaries:poisons_numpy_exp",
    "subclass-to-numpy": "broken_backends.sneaky:subclass_to_numpy",
    "unprintable-error": "broken_backends.adversaries:unprintable_error",
    "y-impostor": "broken_backends.adversaries:impostor",
    "availability-true": "broken_backends.adversaries:availability_true",
    "escapes-terminal": "broken_backends.adversaries:escapes_terminal",
    "prints-to-stdout": "broken_backends.adversaries:prints_to_stdout",
    "spawns-child": "broken_backends.adversaries:spawns_child",
    "raising-dtypes": "broken_backends.adversaries:raising_dtypes",
    "marks-every-process": "broken_backends.marking:marks_every_process",
    "sleeps-on-import": "broken_backends.sleepy:backend",
    "segfaults": "broken_backends.unruly:segfaults",
}


@pytest.fixture
def installed(install_plugins, tmp_path, monkeypatch):
    """Every adversary registered, for this process and for the subprocesses it starts."""
    install_plugins(ADVERSARIES)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(TESTS)]))
    return tmp_path


def harness(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`harness ARGS` as a user runs it, its stdout a pipe (`harness run | cat`)."""
    command = [sys.executable, "-m", "harness.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def run_json(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path / "run.json"
    result = harness("run", "--json", str(out), *args)
    return result, json.loads(out.read_text())


def cells_of(doc: dict) -> dict[tuple[str, str, str], dict]:
    return {(c["case"], c["backend"], c["dtype"]): c for c in doc["cells"]}


def test_forged_verdicts_and_a_widened_policy_fail_their_cells(installed):
    result, doc = run_json(
        installed,
        *("--backend=forges-verdicts", "--backend=widens-tolerance", "--backend=numpy"),
        *("--case=task2-grad-batch-sum", "--case=batch-bias-se-mean"),
    )
    assert result.returncode == 1, result.stdout + result.stderr
    cells = cells_of(doc)
    for (case, backend, _), cell in cells.items():
        wrong = backend == "forges-verdicts" or (backend, case) == (
            "widens-tolerance",
            "batch-bias-se-mean",  # the case with a bias, where its bug shows
        )
        assert cell["status"] == ("fail" if wrong else "pass"), cell
    forged = cells["task2-grad-batch-sum", "forges-verdicts", "float64"]
    assert "first divergence" in forged["message"]
    checks = {(c["case"], c["manual"], c["dtype"]): c for c in doc["gradcheck"]}
    assert checks["task2-grad-batch-sum", "forges-verdicts", "float64"]["status"] == "disagree"
    assert checks["batch-bias-se-mean", "widens-tolerance", "float32"]["status"] == "disagree"


def test_a_forger_fails_the_conformance_suite(installed):
    command = [sys.executable, "-m", "pytest", "--pyargs", "harness.conformance", "-q"]
    command += ["-p", "no:cacheprovider", "--harness-backend=forges-verdicts"]
    command += ["--harness-dtype=float64", "-k", "task2-grad-batch-sum"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=installed)
    assert result.returncode == 1, result.stdout
    assert "passed" not in result.stdout.splitlines()[-1], result.stdout


def test_a_poisoned_numpy_in_a_worker_leaves_the_reference_exact(installed):
    result, doc = run_json(
        installed,
        *("--backend=poisons-numpy-exp", "--dtype=float64", "--no-gradcheck"),
        *("--case=task2-grad-batch-sum", "--case=softmax-large-logits"),
    )
    assert result.returncode == 1
    for cell in doc["cells"]:
        assert cell["status"] == "fail", cell
        assert cell["max_abs_err"]["reference"] > 1e-12, cell  # judged against a true exp
        assert cell["diagnosis"]["produced_by"].endswith("forward"), cell["diagnosis"]
        assert (
            "(Sigmoid)" in cell["diagnosis"]["produced_by"]
            or "(Softmax)" in (cell["diagnosis"]["produced_by"])
        )


def test_an_array_subclass_from_to_numpy_never_reaches_the_coordinator(installed):
    """Its module exits any process but a worker that imports it: unpickling one of its arrays
    in the coordinator would end the run with exit 0 and an empty table."""
    result, doc = run_json(
        installed, "--backend=subclass-to-numpy", "--case=task2-grad-batch-sum", "--no-gradcheck"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert doc["complete"] is True
    assert [c["status"] for c in doc["cells"]] == ["pass", "pass"]
    assert "2 cells: 2 pass" in result.stdout


def test_an_exception_that_cannot_print_itself_is_one_error(installed):
    result, doc = run_json(installed, "--backend=unprintable-error", "--case=task2-grad-batch-sum")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    for cell in doc["cells"]:
        assert cell["status"] == "error"
        assert "__str__ raised ValueError" in cell["message"], cell["message"]
    assert {check["status"] for check in doc["gradcheck"]} == {"error"}


def test_a_cell_is_labelled_by_its_registered_name(installed):
    result, doc = run_json(installed, "--backend=y-impostor", "--case=task2-grad-batch-sum")
    assert result.returncode == 1
    for cell in doc["cells"]:
        assert (cell["backend"], cell["status"]) == ("y-impostor", "error")
        assert "registered as 'y-impostor' calls itself 'numpy'" in cell["message"]
    assert doc["gradcheck"] == []  # nothing was paired with it, least of all the real numpy


def test_one_name_from_two_distributions_is_listed_twice_and_refused(installed):
    other = installed / "xp_other_dask-2.0.dist-info"
    other.mkdir()
    (other / "METADATA").write_text("Metadata-Version: 2.1\nName: xp-other-dask\nVersion: 2.0\n")
    (other / "entry_points.txt").write_text(
        "[harness.backends]\ndask = broken_backends.adversaries:escapes_terminal\n"
    )
    listed = harness("backends")
    rows = [line for line in listed.stdout.splitlines() if line.startswith("dask ")]
    assert len(rows) == 2, listed.stdout
    assert any("xp-other-dask 2.0" in row for row in rows)
    assert any("xp-harness" in row for row in rows)
    chosen = harness("run", "--backend=dask", "--case=task1-forward")
    assert chosen.returncode == 2
    assert chosen.stderr.count("\n") == 1, chosen.stderr
    assert "registered by 2 distributions" in chosen.stderr
    suite = subprocess.run(
        [sys.executable, "-m", "pytest", "--pyargs", "harness.conformance", "-p",
         "no:cacheprovider", "--harness-backend=dask"],
        capture_output=True, text=True, timeout=300, cwd=installed,
    )  # fmt: skip
    assert suite.returncode == 4, suite.stdout + suite.stderr
    assert "registered by 2 distributions" in suite.stdout + suite.stderr


def test_plugins_that_are_not_selected_are_never_imported(installed, monkeypatch):
    marker = installed / "sleepy-imported"
    monkeypatch.setenv("XP_HARNESS_TEST_SLEEPY", str(marker))
    result, doc = run_json(installed, "--backend=numpy", "--case=task2-grad-batch-sum")
    assert result.returncode == 0, result.stdout + result.stderr
    assert {c["status"] for c in doc["cells"]} == {"pass"}
    assert {c["status"] for c in doc["gradcheck"]} == {"agree"}
    assert not marker.exists()


def test_a_wrong_availability_type_is_that_backends_error_only(installed):
    result, doc = run_json(
        installed,
        *("--backend=availability-true", "--backend=raising-dtypes", "--backend=numpy"),
        "--case=task2-grad-batch-sum",
    )
    assert result.returncode == 1
    cells = cells_of(doc)
    for dtype in ("float32", "float64"):
        assert cells["task2-grad-batch-sum", "numpy", dtype]["status"] == "pass"
        wrong = cells["task2-grad-batch-sum", "availability-true", dtype]
        assert wrong["status"] == "error"
        assert (
            wrong["message"]
            == "availability() returned bool, expected harness.protocol.Availability"
        )
        raising = cells["task2-grad-batch-sum", "raising-dtypes", dtype]
        assert raising["status"] == "error"
        assert raising["message"] == "reading dtypes raised RuntimeError: dtypes are a mystery"
    assert {c["status"] for c in doc["gradcheck"]} == {"agree"}


def test_a_plugins_text_reaches_the_terminal_escaped(installed):
    result = harness("run", "--backend=escapes-terminal", "--case=task2-grad-batch-sum")
    assert result.returncode == 1
    assert "\x1b" not in result.stdout + result.stderr
    assert "\\x1b[2K\\x1b[1Atask2-grad-batch-sum" in result.stdout


def test_a_plugins_prints_are_kept_with_its_cell_not_in_the_report(installed):
    result, doc = run_json(
        installed, "--backend=prints-to-stdout", "--case=task2-grad-batch-sum", "--no-gradcheck"
    )
    assert result.returncode == 0
    assert [line for line in result.stdout.splitlines() if "cells:" in line] == [
        "2 cells: 2 pass, 0 fail, 0 error, 0 skip"
    ]
    assert "a line on stderr" not in result.stderr
    for cell in doc["cells"]:
        assert "99 cells: 99 pass" in cell["output"]
        assert "a line on stderr from the plugin" in cell["output"]


def test_a_child_the_plugin_starts_ends_with_its_worker(installed, monkeypatch):
    children = installed / "children"
    children.mkdir()
    monkeypatch.setenv("XP_HARNESS_TEST_CHILD_PIDS", str(children))
    result = harness("run", "--backend=spawns-child", "--case=task2-grad-batch-sum", timeout=35)
    assert result.returncode == 0, result.stdout + result.stderr
    pids = [int(path.name) for path in children.iterdir()]
    assert pids
    for pid in pids:
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text(), pid


def test_no_plugin_code_runs_in_the_process_that_judges(installed, monkeypatch, capsys):
    markers = installed / "markers"
    markers.mkdir()
    monkeypatch.setenv("XP_HARNESS_TEST_MARKERS", str(markers))
    args = ["run", "--backend=marks-every-process", "--case=task3-train-dropout"]
    assert cli.main([*args, f"--json={installed / 'run.json'}"]) == 0
    assert cli.main(["backends"]) == 0
    capsys.readouterr()
    seen = {path.name.split(".")[1] for path in markers.iterdir()}
    assert {"import", "availability", "make_step", "to_numpy"} <= seen
    assert not [path for path in markers.iterdir() if path.name.startswith(f"{os.getpid()}.")]


def test_a_backend_whose_worker_keeps_dying_gets_no_more_workers(installed):
    result, doc = run_json(
        installed,
        "--backend=segfaults",
        "--no-gradcheck",
        *(f"--case={case}" for case in ("task2-grad-batch-sum", "task3-train", "task1-forward")),
    )
    assert result.returncode == 1
    messages = [cell["message"] for cell in doc["cells"]]
    assert messages[:3] == ["the worker died: killed by SIGSEGV"] * 3
    assert set(messages[3:]) == {"its worker died 3 times; no new worker is started for it"}


@pytest.mark.parametrize(
    "option",
    [
        ["--timeout", "nan"],
        ["--timeout", "inf"],
        ["--timeout", "0"],
        ["--max-work", "nan"],
        ["--max-work", "inf"],
        ["--max-work", "-1"],
    ],
)
def test_a_non_finite_or_non_positive_limit_is_one_line(option, capsys):
    assert cli.main(["run", "--case=task1-forward", *option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option[0] in err, err


@pytest.mark.parametrize("kind", ["directory", "device", "symlink", "fifo"])
def test_json_must_name_a_regular_file(kind, tmp_path, capsys):
    target = {
        "directory": tmp_path,
        "device": Path("/dev/null"),
        "symlink": tmp_path / "link.json",
        "fifo": tmp_path / "fifo.json",
    }[kind]
    if kind == "symlink":
        (tmp_path / "real.json").write_text("{}")
        target.symlink_to(tmp_path / "real.json")
    if kind == "fifo":
        os.mkfifo(target)
    assert cli.main(["run", "--case=task1-forward", f"--json={target}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--json" in err, err
    assert target.is_symlink() if kind == "symlink" else True


def test_a_fifo_among_the_case_files_is_one_line_not_a_hang(tmp_path, capsys):
    from harness import cases

    (tmp_path / "real.toml").write_text((cases.builtin_dir() / "task1-forward.toml").read_text())
    os.mkfifo(tmp_path / "pipe.toml")
    assert cli.main(["cases", f"--cases={tmp_path}"]) == 1
    captured = capsys.readouterr()
    assert "pipe.toml: not a regular file" in captured.err
    assert "real" in captured.out


def test_the_work_budget_is_checked_before_any_array_is_drawn(tmp_path):
    """2e8 rows would be 3.2 GB drawn; under a 1 GB address-space limit the refusal must come
    from the budget, before the draw."""
    from harness import cases

    text = (cases.builtin_dir() / "mlp-regression.toml").read_text()
    assert "shape = [100, 2]" in text
    (tmp_path / "huge.toml").write_text(text.replace("shape = [100, 2]", "shape = [200000000, 2]"))
    limited = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30)); "
        f"from harness.cli import main; sys.exit(main(['cases', '--cases={tmp_path}']))"
    )
    result = subprocess.run(
        [sys.executable, "-c", limited], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "is over the budget" in result.stderr and "MemoryError" not in result.stderr


def test_a_missing_report_directory_is_a_usage_error(tmp_path):
    board = tmp_path / "no-such-dir" / "board"
    command = [sys.executable, "-m", "pytest", "--pyargs", "harness.conformance", "-p"]
    command += ["no:cacheprovider", "--harness-backend=numpy", f"--harness-report={board}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 4, result.stdout + result.stderr
    assert f"directory {board.parent} does not exist" in result.stderr
    assert not board.parent.exists()
