"""The conformance suite as a backend author runs it: `pytest --pyargs harness.conformance`,
here through pytester (in this process) on plugins registered by a fake installed distribution.
Each backend still runs in its own worker, started by the inner session's CellRunner."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from report_pages import chromium

pytest_plugins = ["pytester"]
TESTS = Path(__file__).parent
CASES = TESTS.parent / "cases"

PROTOCOL_BREAKERS = textwrap.dedent(
    """
    import numpy as np
    from harness.manual import ManualBackend

    class ZeroCopy(ManualBackend):
        def from_numpy(self, array, dtype):
            return np.asarray(array, dtype=dtype)  # no copy when the dtype already matches

    class AlwaysFloat32(ManualBackend):
        def from_numpy(self, array, dtype):
            return np.array(array, dtype=np.float32)

    class ListsOut(ManualBackend):
        def to_numpy(self, array):
            return np.asarray(array).tolist()

    class LeakyNumerics(ManualBackend):
        def numerics(self, dtype):
            np.seterr(all="raise")  # set for the cell, never undone
            return super().numerics(dtype)

    zero_copy = ZeroCopy(name="zero-copy", module="numpy", library="numpy")
    always_float32 = AlwaysFloat32(name="always-float32", module="numpy", library="numpy")
    lists_out = ListsOut(name="lists-out", module="numpy", library="numpy")
    leaky = LeakyNumerics(name="leaky-numerics", module="numpy", library="numpy")
    """
)
BREAKERS = {
    "zero-copy": "zero_copy",
    "always-float32": "always_float32",
    "lists-out": "lists_out",
    "leaky-numerics": "leaky",
}


@pytest.fixture
def install(install_plugins, tmp_path, monkeypatch):
    """install_plugins, visible to the pytest subprocess too (through PYTHONPATH)."""

    def install(points: dict[str, str]) -> None:
        install_plugins(points)
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(TESTS)]))

    return install


def run_suite(pytester, *options: str, module: str = "harness.conformance"):
    """In a subprocess: the suite's runner starts worker processes of its own."""
    return pytester.runpytest_subprocess("--pyargs", module, "-p", "no:cacheprovider", *options)


def test_protocol_checks_name_what_each_backend_breaks(install, tmp_path, pytester):
    (tmp_path / "protocol_breakers.py").write_text(PROTOCOL_BREAKERS)
    points = {name: f"protocol_breakers:{attr}" for name, attr in BREAKERS.items()}
    install({**points, "ignores-trace": "broken_backends.misbehaving:ignores_trace"})
    result = run_suite(
        pytester,
        "-rf",
        "--harness-backend",
        ",".join(["numpy", *BREAKERS, "ignores-trace"]),
        module="harness.conformance.test_backend_protocol",
    )
    failed = {line.split(" - ")[0].split("::")[-1] for line in result.outlines if "FAILED" in line}
    text = result.stdout.str()
    assert failed == {
        "test_from_numpy_copies_and_gives_the_dtype_asked_for[zero-copy-float64]",
        "test_from_numpy_copies_and_gives_the_dtype_asked_for[always-float32-float64]",
        "test_to_numpy_returns_a_host_numpy_array[lists-out-float32]",
        "test_to_numpy_returns_a_host_numpy_array[lists-out-float64]",
        "test_numerics_scopes_what_it_sets[leaky-numerics-float32]",
        "test_numerics_scopes_what_it_sets[leaky-numerics-float64]",
        # token ids made float32 lose 2**31 - 1; a list is no array
        "test_from_numpy_keeps_token_ids_exact[always-float32-float32]",
        "test_from_numpy_keeps_token_ids_exact[always-float32-float64]",
        "test_from_numpy_keeps_token_ids_exact[lists-out-float32]",
        "test_from_numpy_keeps_token_ids_exact[lists-out-float64]",
        # the trace check: float32 arithmetic shows at float64, a list is no array, and a
        # backend that ignores trace=True names nothing
        "test_trace_names_every_tensor_and_agrees[always-float32-float64]",
        "test_trace_names_every_tensor_and_agrees[lists-out-float32]",
        "test_trace_names_every_tensor_and_agrees[lists-out-float64]",
        "test_trace_names_every_tensor_and_agrees[ignores-trace-float32]",
        "test_trace_names_every_tensor_and_agrees[ignores-trace-float64]",
        # token ids made float32 index nothing (the embedding cases), in either dtype
        "test_trace_names_every_tensor_and_agrees[always-float32-float32]",
        # seterr(all="raise") left on makes exp's underflow an error (log-softmax-nll's
        # exp(-1050), which a log-softmax is there to survive)
        "test_trace_names_every_tensor_and_agrees[leaky-numerics-float32]",
        "test_trace_names_every_tensor_and_agrees[leaky-numerics-float64]",
    }, text
    assert "from_numpy shares memory with its NumPy input: it must copy" in text
    assert "from_numpy(..., 'float64') gave an array of dtype float32" in text
    assert "to_numpy returned list, not numpy.ndarray" in text
    assert "numpy.geterr changed after `with numerics(...)`" in text
    assert "from_numpy(ids, 'int64') gave dtype float32, expected an integer dtype" in text
    assert "the trace lacks" in text and "trace=True must name each (Network.trace)" in text


XFAILS = """\
# the broken ReLU (issue 1), known
test_case[relu-mixed-signs-float64]   ReLU discarded in the forward
test_case[task1-forward-float64]      passes, so the strict xfail fails
test_case[no-such-case-float64]       matches nothing
"""


def test_a_failing_backend_shows_the_first_divergence_xfails_and_scoreboard(
    install, tmp_path, pytester
):
    install({"relu-discarded": "broken_backends.relu_discarded:backend"})
    xfails = tmp_path / "xfails.txt"
    xfails.write_text(XFAILS)
    board = tmp_path / "board"
    chosen = tmp_path / "cases"
    chosen.mkdir()
    for name in ("relu-mixed-signs", "task1-forward", "task2-grad-batch-sum"):
        shutil.copy(CASES / f"{name}.toml", chosen)
    result = run_suite(
        pytester,
        "--harness-backend=relu-discarded",
        "--harness-dtype=float64",
        f"--harness-cases={chosen}",
        f"--harness-xfails={xfails}",
        f"--harness-report={board}.md",
        "-k",
        "not gradient and not protocol",
    )
    text = result.stdout.str()
    result.assert_outcomes(passed=1, failed=1, xfailed=1)
    assert "[XPASS(strict)] passes, so the strict xfail fails" in text
    assert "harness xfails line 4: 'test_case[no-such-case-float64]' matched no test" in text
    doc = json.loads((tmp_path / "board.json").read_text())
    outcomes = {r["row"]: (r["outcome"], r["backend"], r["dtype"]) for r in doc["results"]}
    assert outcomes["relu-mixed-signs"] == ("xfail", "relu-discarded", "float64")
    assert outcomes["task1-forward"] == ("fail", "relu-discarded", "float64")
    assert outcomes["task2-grad-batch-sum"] == ("pass", "relu-discarded", "float64")
    assert doc["totals"] == {"pass": 1, "fail": 1, "xfail": 1}
    markdown = (tmp_path / "board.md").read_text()
    assert "| | relu-discarded float64 |" in markdown
    assert "| relu-mixed-signs | xfail" in markdown
    assert doc["environment"]["command"][-2:] == ["-k", "not gradient and not protocol"]
    assert doc["environment"]["duration_s"] > 0
    details = {r["row"]: r["details"] for r in doc["results"]}
    assert "first divergence: run batch, step 1 of 1: layer 1 (ReLU)" in details["relu-mixed-signs"]
    assert details["task1-forward"] == "[XPASS(strict)] passes, so the strict xfail fails"
    assert f"harness scoreboard: {board}.md, {board}.json and {board}.html" in text
    with chromium() as browser:  # the page `harness report` makes, written beside them
        browser.get((tmp_path / "board.html").as_uri())
        shown = browser.execute_script(
            "return Array.from(document.querySelectorAll('table.matrix td.cell'))"
            ".map(c => c.dataset.row + ' ' + c.dataset.status)"
        )
        assert sorted(shown) == sorted(f"{row} {o[0]}" for row, o in outcomes.items())
        cell = browser.find_element("css selector", "td.cell[data-status='xfail'] a")
        cell.click()
        report = browser.find_element("css selector", "details.report[open] pre").text
        assert "first divergence: run batch, step 1 of 1: layer 1 (ReLU)" in report


def test_a_failing_cell_reports_where_it_first_diverges(install, pytester):
    install({"relu-discarded": "broken_backends.relu_discarded:backend"})
    result = run_suite(
        pytester,
        "--harness-backend=relu-discarded",
        "--harness-dtype=float64",
        "-k",
        "relu-mixed-signs",
    )
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "first divergence: run batch, step 1 of 1: layer 1 (ReLU) output" in text
    assert "manual disagrees with fd" in text  # numpy has no autograd backend to outvote it


def test_a_reasonless_xfails_line_is_a_usage_error(tmp_path, pytester):
    xfails = tmp_path / "xfails.txt"
    xfails.write_text("# fine\ntest_case[task1-forward-float64]\n")
    result = run_suite(pytester, "--harness-backend=numpy", f"--harness-xfails={xfails}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{xfails}:2: 'test_case[task1-forward-float64]' has no reason" in result.stderr.str()


def test_an_unknown_backend_is_a_usage_error(pytester):
    result = run_suite(pytester, "--harness-backend=nosuch")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "no backend named 'nosuch' (registered: " in result.stderr.str()


def test_a_malformed_case_file_fails_its_own_tests_only(tmp_path, pytester):
    chosen = tmp_path / "cases"
    chosen.mkdir()
    shutil.copy(CASES / "task1-forward.toml", chosen)
    (chosen / "broken.toml").write_text('description = "no model"\n')
    result = run_suite(
        pytester,
        "--harness-backend=numpy",
        "--harness-dtype=float64",
        f"--harness-cases={chosen}",
        "-k",
        "not protocol",
        "-rf",
    )
    result.assert_outcomes(passed=1, failed=2)  # test_case and test_gradient of broken.toml
    result.stdout.fnmatch_lines(
        [
            "case file does not load: */broken.toml: provenance: missing",
            "FAILED *test_case[[]case-file-broken[]]*",
        ]
    )


def test_a_crash_or_a_hang_fails_its_test_not_the_session(install, tmp_path, pytester):
    """Each backend in its own worker: a segfault is a crashed cell, a hang a timed-out one."""
    install(
        {
            "segfaults": "broken_backends.unruly:segfaults",
            "hangs-in-make-step": "broken_backends.unruly:hangs_in_make_step",
        }
    )
    chosen = tmp_path / "cases"
    chosen.mkdir()
    shutil.copy(CASES / "task1-forward.toml", chosen)
    result = run_suite(
        pytester,
        "--harness-backend=segfaults,hangs-in-make-step,numpy",
        "--harness-dtype=float64",
        f"--harness-cases={chosen}",
        "--harness-timeout=3",
        "-k",
        "not gradient",
        "-rf",
        module="harness.conformance.test_cases",
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines_random(
        [
            "task1-forward on segfaults in float64: crashed: *SIGSEGV*",
            "task1-forward on hangs-in-make-step in float64: timeout: ran past the 3 s limit*",
        ]
    )


def test_under_xdist_the_controller_writes_every_workers_results(tmp_path, pytester):
    pytest.importorskip("xdist")
    result = run_suite(
        pytester,
        "-n",
        "2",
        "--harness-backend=numpy,array-api-strict",
        f"--harness-report={tmp_path / 'board'}",
        module="harness.conformance.test_backend_protocol",
    )
    result.assert_outcomes(passed=20)  # 5 promises x 2 backends x 2 dtypes
    doc = json.loads((tmp_path / "board.json").read_text())
    assert doc["totals"] == {"pass": 20}
    assert {(r["backend"], r["dtype"]) for r in doc["results"]} == {
        (b, d) for b in ("numpy", "array-api-strict") for d in ("float32", "float64")
    }


def test_a_skips_file_keeps_its_tests_from_running(tmp_path, pytester):
    """Same format as the xfails file; a listed test is skipped with its reason, not run, and
    a line that names no test is named at the end."""
    skips = tmp_path / "skips.txt"
    skips.write_text(
        "# too slow to run every time\n"
        "test_case[task1-forward-float64]     takes 115 s on mylib (timeout at load 2)\n"
        "test_case[no-such-case-float64]      matches nothing\n"
    )
    result = run_suite(
        pytester,
        "-rs",
        "--harness-backend=numpy",
        "--harness-dtype=float64",
        f"--harness-skips={skips}",
        "-k",
        "not gradient and not protocol and (task1-forward or task2-grad-batch-sum)",
    )
    result.assert_outcomes(passed=1, skipped=1)
    text = result.stdout.str()
    assert "takes 115 s on mylib (timeout at load 2)" in text
    assert "harness skips line 3: 'test_case[no-such-case-float64]' matched no test" in text
    skips.write_text("test_case[task1-forward-float64]\n")
    result = run_suite(pytester, "--harness-backend=numpy", f"--harness-skips={skips}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert f"{skips}:1: 'test_case[task1-forward-float64]' has no reason" in result.stderr.str()
