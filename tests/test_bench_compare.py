"""`harness bench --compare OLD NEW` on the committed run against copies of it changed here:
which rows move, by how much, and which of them the measured noise cannot explain."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness import cli
from harness.bench import compare, results, saved

COMMITTED_RUN = Path(__file__).parent.parent / "docs" / "bench" / "bench.json"


@pytest.fixture(scope="module")
def committed_json() -> dict:
    return json.loads(COMMITTED_RUN.read_text())


def changed(data: dict, label: str, size: str, dtype: str, factor: float) -> dict:
    """A copy where one step record's times (and its interleaved ratio) grew by `factor`."""
    new = copy.deepcopy(data)
    for bench in new["benchmarks"]:
        info = bench["extra_info"]
        if (info.get("kind"), info.get("label"), info.get("size"), info.get("dtype")) == (
            "step",
            label,
            size,
            dtype,
        ):
            for key in ("min", "max", "mean", "median", "q1", "q3", "iqr", "p10"):
                if key in bench["stats"]:
                    bench["stats"][key] *= factor
            if info.get("interleaved_to_native") is not None:
                info["interleaved_to_native"] *= factor
            return new
    raise AssertionError(f"no {label} {size} {dtype} in the committed run")


def write(tmp_path: Path, name: str, data: dict) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_the_committed_run_against_itself_changes_nothing(committed_json, tmp_path):
    run = results.load(write(tmp_path, "same.json", committed_json))
    found = compare.changes(run, run)
    assert len(found) > 50
    assert {c.time_change for c in found} == {0.0}
    assert not [c for c in found if c.regressed]


def test_a_step_half_again_as_slow_is_flagged_and_nothing_else(committed_json, tmp_path):
    old = results.load(write(tmp_path, "old.json", committed_json))
    slower = changed(committed_json, "harness numpy", "medium", "float32", 1.5)
    new = results.load(write(tmp_path, "new.json", slower))
    flagged = [c for c in compare.changes(old, new) if c.regressed]
    assert [c.key for c in flagged] == [("step", "harness numpy", "medium", "float32", "")]
    (c,) = flagged
    assert c.slower and c.ratio_up
    assert c.time_change == pytest.approx(0.5)


def test_a_change_within_the_noise_is_not_flagged(committed_json, tmp_path):
    old = results.load(write(tmp_path, "old.json", committed_json))
    new = results.load(
        write(
            tmp_path,
            "new.json",
            changed(committed_json, "harness numpy", "medium", "float32", 1.01),
        )
    )
    (c,) = [
        c for c in compare.changes(old, new) if c.key[1:4] == ("harness numpy", "medium", "float32")
    ]
    assert c.time_change == pytest.approx(0.01)
    assert not c.regressed


def test_the_command_prints_the_table_and_exits_1_on_a_regression(committed_json, tmp_path, capsys):
    old = write(tmp_path, "old.json", committed_json)
    new = write(
        tmp_path, "new.json", changed(committed_json, "harness jax", "homework", "float64", 2.0)
    )
    assert cli.main(["bench", "--compare", str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert "| harness jax | homework | float64 |" in out
    assert "**slower**, **ratio up**" in out
    assert "1 beyond the measured noise" in out
    assert cli.main(["bench", "--compare", str(old), str(old)]) == 0


def test_a_missing_file_is_a_one_line_usage_error(tmp_path, capsys):
    assert cli.main(["bench", "--compare", str(COMMITTED_RUN), str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err.strip().endswith("no such file " + str(tmp_path / "nope.json"))


def test_the_threshold_sets_the_smallest_change_flagged(committed_json, tmp_path, capsys):
    old = write(tmp_path, "old.json", committed_json)
    new = write(
        tmp_path, "new.json", changed(committed_json, "harness numpy", "medium", "float32", 1.5)
    )
    assert cli.main(["bench", "--compare", str(old), str(new)]) == 1
    assert cli.main(["bench", "--compare", str(old), str(new), "--threshold", "60"]) == 0
    assert "0 beyond the measured noise (and the 60.0% threshold)" in capsys.readouterr().out


def test_saved_runs_are_numbered_and_found_by_number_or_last(committed_json, tmp_path):
    storage = tmp_path / "saved"
    run = write(tmp_path, "run.json", committed_json)
    with pytest.raises(saved.NoSuchRun, match="no saved run in"):
        saved.resolve("last", storage)
    first, second = saved.save(run, storage), saved.save(run, storage)
    assert [p.name[:5] for p in (first, second)] == ["0001_", "0002_"]
    assert saved.saved(storage) == [first, second]
    assert saved.resolve("last", storage) == second
    assert saved.resolve("1", storage) == saved.resolve("0001", storage) == first
    assert saved.resolve(str(run), storage) == run
    with pytest.raises(saved.NoSuchRun, match=r"no saved run 7 in .*0001_"):
        saved.resolve("7", storage)


def test_autosave_then_compare_last_runs_against_the_run_before(
    committed_json, tmp_path, monkeypatch, capsys
):
    """The suite itself is replaced by a stand-in that 'measures' a prepared JSON: what is
    tested is the wiring (save, resolve `last` before saving, compare, exit status)."""
    from harness.bench import command

    measured = [write(tmp_path, "monday.json", committed_json)]
    slower = changed(committed_json, "harness jax", "homework", "float64", 2.0)
    measured.append(write(tmp_path, "tuesday.json", slower))
    monkeypatch.setattr(command, "_missing_tools", lambda render_only: [])
    monkeypatch.setattr(command, "_run_all", lambda args: ([], measured.pop(0)))
    monkeypatch.setattr(command, "_render", lambda data, out: 0)
    storage = tmp_path / "saved"
    options = ["bench", "--out", str(tmp_path / "out"), "--storage", str(storage), "--autosave"]
    assert cli.main([*options, "--compare", "last"]) == 2  # nothing saved yet
    assert "--compare last: no saved run in" in capsys.readouterr().err
    assert cli.main(options) == 0
    assert cli.main([*options, "--compare", "last"]) == 1
    out = capsys.readouterr().out
    first, second = saved.saved(storage)
    assert f"# {second} against {first}" not in out  # compared before saving: the new run's JSON
    assert f"against {first}" in out and "| harness jax | homework | float64 |" in out
    assert json.loads(second.read_text()) == slower


def test_compare_takes_one_run_or_two(tmp_path, capsys):
    assert cli.main(["bench", "--compare", "a", "b", "c"]) == 2
    assert "--compare takes one run or two, not 3" in capsys.readouterr().err


def test_an_unknown_bench_backend_suggests_the_closest(capsys):
    assert cli.main(["bench", "--backend", "jaxx"]) == 2
    line = capsys.readouterr().err.strip()
    assert line.startswith("harness: error: unknown backend 'jaxx' (did you mean 'jax")
    assert "keras-jax" in line  # every valid name, rivals included
