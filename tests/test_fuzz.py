"""`harness fuzz` (issue 15): four broken backends whose bugs hide from every built-in case are
each found, shrunk to a case of a few layers that `harness run` fails on them and passes on
numpy; correct backends give exit 0; bad input is one line and exit 2.

The broken backends (tests/broken_backends): wide_weight_grad.py (a weight gradient's last
column dropped once the weight is 16 wide), deep_first_grad.py (the first gradient of a
network of five or more Linear layers 1% off), batch_tail.py (parameter gradients summed
over the rows of full blocks of 8 only), negative_bias_sign.py (a bias gradient's sign
flipped where the bias is below -1). Each test uses the --examples its bug needs with seed
0, within the default (300): `harness fuzz --backend NAME` finds them at examples 3, 7, 7
and 126 (one seed and --examples draw the same examples in any process and directory).
"""

from __future__ import annotations

import pytest

from harness import cases, cli
from harness.fuzz import example as E
from harness.matrix import Reference, run_cell
from harness.protocol import DTYPES

BROKEN = {
    # name: (entry point, --examples enough at seed 0)
    "wide-weight-grad": ("broken_backends.wide_weight_grad:backend", 5),
    "deep-first-grad": ("broken_backends.deep_first_grad:backend", 10),
    "batch-tail": ("broken_backends.batch_tail:backend", 10),
    "negative-bias-sign": ("broken_backends.negative_bias_sign:backend", 130),
}
MAX_LAYERS = 8


@pytest.fixture
def broken(install_plugins):
    install_plugins({name: target for name, (target, _) in BROKEN.items()})


@pytest.mark.parametrize("name", BROKEN)
def test_each_broken_backend_passes_every_built_in_case(name, broken, registry):
    from harness import plugins

    backend, reference = plugins.load(name), Reference()
    failed = [
        (case.name, dtype, cell.message)
        for case in registry.values()
        for dtype in DTYPES
        if (cell := run_cell(case, backend, dtype, reference)).status != "pass"
    ]
    assert not failed


@pytest.mark.parametrize("name", BROKEN)
def test_fuzz_finds_each_bug_and_leaves_a_small_failing_case(name, broken, tmp_path, capsys):
    from harness import plugins

    examples = BROKEN[name][1]
    args = ["fuzz", "--backend", name, "--examples", str(examples), "--out", str(tmp_path)]
    assert cli.main(args) == 1
    out = capsys.readouterr().out
    assert "1 disagreement(s)" in out and "first divergence" in out
    (path,) = tmp_path.glob("*.toml")
    case = cases.load(path)
    layers = len(case.network.layers)
    print(f"{name}: {path.name}, {layers} layers, x {case.runs[0].x.shape}")
    assert layers <= MAX_LAYERS
    assert "found by harness fuzz, seed 0" in case.provenance[0]["printed"]
    reference = Reference()
    statuses = {run_cell(case, plugins.load(name), d, reference).status for d in DTYPES}
    assert "fail" in statuses
    for dtype in DTYPES:
        cell = run_cell(case, plugins.load("numpy"), dtype, reference)
        assert cell.status == "pass", cell.message


def test_the_written_case_fails_harness_run_with_the_first_divergence(broken, tmp_path, capsys):
    name = "wide-weight-grad"
    args = ["fuzz", "--backend", name, "--examples", "10", "--out", str(tmp_path)]
    assert cli.main(args) == 1
    capsys.readouterr()
    assert cli.main(["run", "--cases", str(tmp_path), "--backend", name, "--no-gradcheck"]) == 1
    out = capsys.readouterr().out
    assert "first divergence" in out and "layer 0 (Linear) backward" in out
    assert cli.main(["run", "--cases", str(tmp_path), "--backend", "numpy"]) == 0


def test_a_correct_backend_gives_exit_0(tmp_path, capsys):
    args = ["fuzz", "--backend", "numpy", "--examples", "40", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    assert "40 examples judged on numpy" in capsys.readouterr().out
    assert not list(tmp_path.glob("*.toml"))


def test_a_seed_repeats_exactly(tmp_path, capsys):
    outputs = []
    for _ in range(2):
        args = ["fuzz", "--backend", "numpy", "--examples", "15", "--seed", "7"]
        assert cli.main([*args, "--out", str(tmp_path)]) == 0
        captured = capsys.readouterr()
        outputs.append((captured.out, captured.err))
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--examples", "0"], "--examples 0"),
        (["--seed", "-1"], "--seed -1"),
        (["--timeout", "0"], "--timeout 0"),
        (["--dtype", "float16"], "float16"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, names, capsys):
    assert cli.main(["fuzz", "--backend", "numpy", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and names in err


def test_an_unknown_backend_or_an_out_that_is_a_file_is_exit_2(tmp_path, capsys):
    assert cli.main(["fuzz", "--backend", "nmupy"]) == 2
    assert "numpy" in capsys.readouterr().err  # the suggestion
    afile = tmp_path / "file"
    afile.write_text("")
    assert cli.main(["fuzz", "--backend", "numpy", "--out", str(afile)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_without_hypothesis_the_error_is_one_line(monkeypatch, capsys):
    monkeypatch.setitem(__import__("sys").modules, "hypothesis", None)
    assert cli.main(["fuzz", "--backend", "numpy"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "xp-harness[fuzz]" in err


def test_a_case_file_round_trips_the_example_exactly(tmp_path):
    """What the judge and the workers load is the drawn example, value for value."""
    from hypothesis import given, settings

    from harness.fuzz.draw import examples

    @settings(max_examples=20, database=None)
    @given(examples())
    def check(example):
        path = tmp_path / "example.toml"
        path.write_text(E.case_text(example, "drawn", {"seed": "s", "where": "w", "printed": "p"}))
        case = cases.load(path)
        for name, value in E.arrays(example).items():
            loaded = case.params.get(name)
            if name in ("x", "y"):
                loaded = getattr(case.runs[0], name)
            assert loaded.shape == value.shape and (loaded == value).all(), name

    check()


def test_a_dtype_a_backend_lacks_is_skipped_with_the_reason(install_plugins, tmp_path, capsys):
    install_plugins({"float32-only": "broken_backends.float32_only:backend"})
    args = ["fuzz", "--backend", "float32-only", "--examples", "10", "--out", str(tmp_path)]
    assert cli.main(args) == 0
    captured = capsys.readouterr()
    assert "float32-only: float64 skipped: the backend does not support it" in captured.err
    assert "cell pass" in captured.out and "cell skip" in captured.out
    assert "fail" not in captured.out
