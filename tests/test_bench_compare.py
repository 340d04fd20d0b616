"""`harness bench --compare OLD NEW` on the committed run against copies of it changed here:
which rows move, by how much, and which of them the measured noise cannot explain."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from harness import cli
from harness.bench import compare, results

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
