"""How `harness bench` sets up its processes: threads told to every library, the 1-thread
series, and the grid's tables and heat map from a run made up here (nothing is timed)."""

from __future__ import annotations

import json

import pytest

from harness.bench import fmt, grid, results, runner, stability, tables, targets

X = fmt.TIMES
OPTIONS = {"backends": [], "sizes": [], "dtypes": [], "quick": False, "device": "cpu"}


def test_a_group_tells_every_library_its_threads():
    env = runner.Group("torch", ["torch"], threads=2).env
    assert [env[k] for k in runner.THREAD_ENV] == ["2", "2", "2"]
    assert runner.SINGLE_THREAD_XLA not in env.get("XLA_FLAGS", "")
    command = runner.command(runner.Group("torch", ["torch"], threads=2), OPTIONS, "x.json")
    assert command[command.index("--bench-threads") + 1] == "2"


def test_the_single_thread_series_is_homework_steps_on_one_thread(monkeypatch):
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    main = [
        runner.Group("numpy", ["numpy"], threads=2),
        runner.Group("jax", ["jax", "jax-manual"], threads=2),
        runner.Group("keras-jax", ["keras-jax"], threads=2),
        runner.Group("dask", [], skipped="not installed"),
    ]
    series = runner.single_thread(main)
    assert [(g.name, g.threads) for g in series] == [("numpy-1-thread", 1), ("jax-1-thread", 1)]
    env = series[1].env
    assert env["OMP_NUM_THREADS"] == "1"
    assert env["XLA_FLAGS"] == f"--xla_dump_to=/tmp/x {runner.SINGLE_THREAD_XLA}"
    command = runner.command(series[1], {**OPTIONS, "sizes": ["large"]}, "x.json")
    assert command[command.index("--bench-size") + 1] == "homework"
    assert "large" not in command
    assert command[command.index("-k") + 1] == "bench_step and not compile"
    assert command[command.index("--bench-series") + 1] == runner.SINGLE_THREAD
    assert main[1].threads == 2  # the main series is left as it was


def test_kinds_select_benchmark_modules():
    group = runner.Group("jax", ["jax"], threads=2)
    command = runner.command(group, {**OPTIONS, "kinds": ["step", "grid"]}, "x.json")
    assert command[command.index("-k") + 1] == "bench_step or bench_grid"
    assert "-k" not in runner.command(group, OPTIONS, "x.json")


def grid_record(batch: int, width: int, ratio: float, disturbed: bool = False) -> dict:
    native = [1e-4] * 20 if not disturbed else [1e-4] * 10 + [3e-4] * 10
    measured = stability.summarise([ratio * 1e-4] * 20, native[::-1])
    return {
        "extra_info": {
            "kind": "grid",
            "size": f"b{batch}-w{width}",
            "batch": batch,
            "width": width,
            "dtype": "float32",
            "role": "harness",
            "name": "jax",
            "library": "jax",
            "label": "harness jax",
            "interleaved_to_native": measured.ratio,
            "interleaved": measured.to_json(),
        },
        "stats": {"min": ratio * 1e-4, "median": ratio * 1e-4, "iqr": 0.0},
    }


@pytest.fixture
def grid_run(tmp_path) -> results.Results:
    cells = [grid_record(2, 4, 1.1), grid_record(2, 64, 1.0), grid_record(1024, 4, 1.6)]
    cells.append(grid_record(1024, 64, 0.9, disturbed=True))
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": cells, "machine_info": {}}))
    return results.load(path)


def test_the_grid_table_has_a_row_per_batch_and_marks_unstable_cells(grid_run):
    text = grid.table(grid_run)
    assert "| B \\ W | 4 | 64 |" in text
    assert f"| 2 | 1.10{X} | 1.00{X} |" in text
    assert f"| 1024 | 1.60{X} | 0.90{X} ? |" in text
    assert text in tables.report(grid_run)


def jax_float32_grid_row(run: results.Results) -> targets.Row:
    (row,) = [
        r
        for r in targets.rows(run)
        if r.size == "grid" and "jax" in r.target and r.dtype == "float32"
    ]
    return row


def test_the_worst_stable_grid_cell_decides_the_target(grid_run):
    row = jax_float32_grid_row(grid_run)
    assert (round(row.figure, 2), row.verdict) == (1.6, "missed by 39.1%")
    assert row.note == "worst b1024-w4; unstable: b1024-w64"


def test_an_unstable_cell_makes_an_otherwise_met_grid_unstable(tmp_path):
    cells = [grid_record(2, 4, 1.1), grid_record(1024, 64, 0.9, disturbed=True)]
    path = tmp_path / "bench.json"
    path.write_text(json.dumps({"benchmarks": cells, "machine_info": {}}))
    row = jax_float32_grid_row(results.load(path))
    assert row.verdict == "unstable"


def test_the_heat_map_is_written(grid_run, tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    path = grid.heatmap(grid_run, tmp_path / "grid.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
