"""Case files: every malformed one is a one-line CaseError naming the file and the field, the
others still load; the array recipes rebuild exactly what the files say."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness import cases
from harness.cases import CaseError
from harness.recipes import build_arrays
from harness.tolerance import DEFAULT

F64 = DEFAULT["float64"]
NO_WHY = 'rtol = 1e-5\nwhy = """'
TASK1_X1_GOLDEN = "[golden.x1.output]\nvalue = [[0.13238887, 0.86761113]]\n"


def edited(tmp_path: Path, case: str, *edits: tuple[str, str], name: str | None = None) -> Path:
    """A copy of a built-in case file with each `old` text (which must occur once) replaced."""
    text = (cases.builtin_dir() / f"{case}.toml").read_text()
    for old, new in edits:
        assert text.count(old) == 1, f"{case}.toml: expected {old!r} exactly once"
        text = text.replace(old, new)
    path = tmp_path / f"{name or case}.toml"
    path.write_text(text)
    return path


def appended(tmp_path: Path, case: str, extra: str) -> Path:
    path = tmp_path / f"{case}.toml"
    path.write_text((cases.builtin_dir() / f"{case}.toml").read_text() + extra)
    return path


T1 = "task1-forward"
T2M = "task2-grad-sample-mean"
T2S = "task2-grad-batch-sum"
T3 = "task3-train"
T3D = "task3-train-dropout"
MLP = "mlp-regression"

# (id, case file, old text, new text, the field the message must name)
# fmt: off
MALFORMED = [
    # a field is missing
    ("no-task-kind", T1, '[task]\nkind = "forward"', "[task]", "task.kind"),
    ("no-loss-eps", T1, ", eps = 1e-7 }", " }", "model.loss.eps"),
    ("no-layer-in", T1, '{ type = "linear", in = 4, ', '{ type = "linear", ', "model.layers[2].in"),
    ("no-param", T1, "w2 = { arange", "w3 = { arange", "arrays.w2"),
    ("no-run-x", T1, 'name = "x1"\nx = "x1"', 'name = "x1"', "runs[0].x"),
    ("no-decimals", T1, TASK1_X1_GOLDEN + "decimals = 8\n", TASK1_X1_GOLDEN,
     "golden.x1.output.decimals"),
    ("no-dropout-seed", T3D, "dropout_seed = 0\n", "", "task.dropout_seed"),
    ("no-random-seed", MLP, "[random]\nseed = 0\n", "", "arrays.x"),
    # shapes that do not fit
    ("param-shape", T1, "shape = [3, 4]", "shape = [4, 3]", "arrays.w1"),
    ("arange-shape", T1, "shape = [3, 4]", "shape = [3, 5]", "arrays.w1.shape"),
    ("golden-shape", T1, "[[0.13238887, 0.86761113]]", "[[0.13238887, 0.86761113, 0.0]]",
     "golden.x1.output.value"),
    ("golden-ragged", T1, "[[0.13238887, 0.86761113]]", "[[0.1], [0.2, 0.3]]",
     "golden.x1.output.value"),
    ("golden-text", T1, "[[0.13238887, 0.86761113]]", '[["a", 0.86761113]]',
     "golden.x1.output.value"),
    ("loss-golden-shape", T2M, "value = 0.14201156044285512", "value = [0.14201156044285512]",
     "golden.x1.loss.value"),
    ("data-x-shape", T1, "x1 = [[1.0, 2.0, 3.0]]", "x1 = [[1.0, 2.0]]", "runs[0].x"),
    ("data-y-shape", T2M, "y2 = [[1.0, 0.0]]", "y2 = [[1.0, 0.0, 0.0]]", "runs[1].y"),
    ("data-ragged", T1, "x1 = [[1.0, 2.0, 3.0]]", "x1 = [[1.0, 2.0, 3.0], [4.0]]", "arrays.x1"),
    ("layer-chain", T1, '"linear", in = 4, out = 2', '"linear", in = 5, out = 2',
     "model.layers[2].in"),
    # non-finite numbers
    ("nan-in-array", T1, "x1 = [[1.0, 2.0, 3.0]]", "x1 = [[1.0, nan, 3.0]]", "arrays.x1"),
    ("inf-in-array", T2S, "[4.0, 5.0, 6.0]]", "[4.0, 5.0, -inf]]", "arrays.x"),
    ("inf-in-arange", T1, "arange = [0.2, 1.0, 0.1]", "arange = [0.2, inf, 0.1]",
     "arrays.w2.arange"),
    ("nan-in-golden", T1, "[[0.01448572, 0.98551428]]", "[[nan, 0.98551428]]",
     "golden.x2.output.value"),
    ("inf-golden-loss", T2M, "value = 4.234584763119424", "value = inf", "golden.x2.loss.value"),
    ("nan-rtol", T2S, "rtol = 1e-5", "rtol = nan", "golden.batch.grad.w1.tolerance.float64.rtol"),
    # unknown names
    ("unknown-layer", T1, '{ type = "relu" }', '{ type = "relu6" }', "model.layers[1].type"),
    ("unknown-layer-dropout", T3D, '"dropout", p', '"droput", p', "model.layers[2].type"),
    ("unknown-loss", T1, 'type = "cross_entropy"', 'type = "hinge"', "model.loss.type"),
    ("unknown-reduction", T1, 'reduction = "mean"', 'reduction = "max"', "model.loss.reduction"),
    ("unknown-task", T1, 'kind = "forward"', 'kind = "predict"', "task.kind"),
    ("unknown-dtype", T2S, "tolerance.float64]", "tolerance.float16]",
     "golden.batch.grad.w1.tolerance.float16"),
    ("why-as-note", T2S, NO_WHY, 'rtol = 1e-5\nnote = """',
     "golden.batch.grad.w1.tolerance.float64.note"),
    ("golden-unknown-tensor", T1, "[golden.x1.output]", "[golden.x1.outputs]", "golden.x1.outputs"),
    ("golden-grad-of-no-param", MLP, "[golden.sample-0.grad.w3]", "[golden.sample-0.grad.w4]",
     "golden.sample-0.grad.w4"),
    ("golden-forward-has-no-loss", T1, "[golden.x2.output]", "[golden.x2.loss]", "golden.x2.loss"),
    ("golden-unknown-run", T1, "[golden.x2.output]", "[golden.x3.output]", "golden.x3"),
    # semantics that would otherwise run quietly wrong
    ("rows-past-end", MLP, "rows = [0, 1]", "rows = [100, 101]", "runs[0].rows"),
    ("no-targets-for-gradient", T2M, 'x = "x2"\ny = "y2"', 'x = "x2"', "runs[1].y"),
    ("duplicate-run", T2M, 'name = "x2"', 'name = "x1"', "runs"),
    ("bool-dropout-seed", T3D, "dropout_seed = 0", "dropout_seed = true", "task.dropout_seed"),
    ("missing-reduction", T1, 'reduction = "mean", ', "", "model.loss.reduction"),
    # misspelt fields are named, never silently ignored
    ("typo-top-level", T1, "[task]", "[tasks]", "tasks"),
    ("typo-description", T1, 'description = """', 'summary = """', "summary"),
    ("typo-task", T3, "epochs = 100", "epoch = 100", "task.epoch"),
    ("typo-run", T2M, 'name = "x1"', 'name = "x1"\nrow = [0, 1]', "runs[0].row"),
    ("typo-layer", T1, "{ type = \"linear\", in = 3, out = 4 }",
     "{ type = \"linear\", in = 3, out = 4, biass = true }", "model.layers[0].biass"),
    ("typo-loss", T1, "eps = 1e-7", "eps = 1e-7, reductoin = 1", "model.loss.reductoin"),
    ("typo-recipe", MLP, "fan_in = 2, shape = [2, 10]", "fanin = 2, shape = [2, 10]",
     "arrays.w1.fanin"),
    ("typo-golden", T2S, "decimals = 8\n", "decimal = 8\ndecimals = 8\n",
     "golden.batch.grad.w1.decimal"),
    ("typo-tolerance", T2S, "rtol = 1e-5", "rtoll = 1e-5",
     "golden.batch.grad.w1.tolerance.float64.rtoll"),
    ("typo-tolerance-why", T2S, "rtol = 1e-5\nwhy", "rtol = 1e-5\nwhyy",
     "golden.batch.grad.w1.tolerance.float64.whyy"),
    ("typo-golden-value", T1, TASK1_X1_GOLDEN, TASK1_X1_GOLDEN.replace("value", "valu"),
     "golden.x1.output.valu"),
    ("typo-layer-type", T1, '{ type = "relu" }', '{ typ = "relu" }', "model.layers[1].typ"),
    ("typo-loss-type", T1, 'loss = { type = "cross_entropy"', 'loss = { kind = "cross_entropy"',
     "model.loss.kind"),
    ("draw-not-text", MLP, 'draw = "random"', 'draw = ["random"]', "arrays.x.draw"),
    ("typo-provenance", T1, 'c9.txt"\nwhere', 'c9.txt"\nwher', "provenance[0].wher"),
    ("empty-provenance-field", T1, 'c9.txt"\nwhere = "Assignment 1"', 'c9.txt"\nwhere = ""',
     "provenance[0].where"),
    ("unknown-draw", MLP, 'draw = "random"', 'draw = "normal"', "arrays.x.draw"),
    ("unknown-compute", MLP, '"half_sum_of_squares"', '"sum"', "arrays.y.compute"),
    ("run-names-no-array", T1, 'x = "x2"', 'x = "x9"', "runs[1].x"),
    # wrong types and values
    ("lr-text", T3, "lr = 0.01", 'lr = "fast"', "task.lr"),
    ("batch-size-text", MLP, "batch_size = 1", 'batch_size = "one"', "task.batch_size"),
    ("batch-size-zero", MLP, "batch_size = 1", "batch_size = 0", "runs[0].task.batch_size"),
    ("seed-text", MLP, "seed = 0", 'seed = "zero"', "random.seed"),
    ("run-task-text", MLP, 'task = { kind = "gradient" }', 'task = "gradient"', "runs[0].task"),
    ("rows-reversed", MLP, "rows = [0, 1]", "rows = [1, 0]", "runs[0].rows"),
    ("rows-three", MLP, "rows = [0, 1]", "rows = [0, 1, 2]", "runs[0].rows"),
    ("fan-in-zero", MLP, "fan_in = 2, shape = [2, 10]", "fan_in = 0, shape = [2, 10]",
     "arrays.w1.fan_in"),
    ("arange-step-zero", T1, "[0.1, 1.3, 0.1]", "[0.1, 1.3, 0.0]", "arrays.w1.arange"),
    ("arange-too-long", T1, "[0.1, 1.3, 0.1]", "[0.0, 1e300, 1e-300]", "arrays.w1.arange"),
    ("compute-of-list", MLP, 'of = "x"', 'of = ["x"]', "arrays.y.of"),
    ("dropout-p-one", T3D, '"dropout", p = 0.4', '"dropout", p = 1.0', "model.layers[2].p"),
    # issue 10: accepted before, and then every cell failed or compared inf with inf
    ("negative-atol", T2S, "rtol = 1e-5", "rtol = 1e-5\natol = -1",
     "golden.batch.grad.w1.tolerance.float64.atol"),
    ("negative-rtol", T2S, "rtol = 1e-5", "rtol = -1e-5",
     "golden.batch.grad.w1.tolerance.float64.rtol"),
    ("inf-atol", T2S, "rtol = 1e-5", "rtol = 1e-5\natol = inf",
     "golden.batch.grad.w1.tolerance.float64.atol"),
    ("absurd-lr", T3, "lr = 0.01", "lr = 1e300", "task.lr"),
    ("inf-lr", T3, "lr = 0.01", "lr = inf", "task.lr"),
    ("nan-lr", T3, "lr = 0.01", "lr = nan", "task.lr"),
    ("absurd-run-lr", MLP, 'task = { kind = "gradient" }', 'task = { kind = "train", lr = 1e9 }',
     "runs[0].task.lr"),
    ("run-name-newline", T1, 'name = "x1"', 'name = "x\\n1"', "runs[0].name"),
    ("deep-golden", T1, "value = [[0.13238887, 0.86761113]]",
     "value = " + "[" * 40 + "0.1" + "]" * 40, "golden.x1.output.value"),
]
# fmt: on


def assert_case_error(path: Path, field: str) -> str:
    with pytest.raises(CaseError) as info:
        cases.load(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert message.startswith(f"{path}: {field}: "), message
    return message


@pytest.mark.parametrize(
    ("description", "says"), [("", "missing"), ('description = " "', "is empty")]
)
def test_missing_or_empty_description(tmp_path, description, says):
    text = (cases.builtin_dir() / f"{T1}.toml").read_text()
    start = text.index('description = """')
    end = text.index('"""', start + len('description = """')) + len('"""')
    (tmp_path / "bare.toml").write_text(text[:start] + description + text[end:])
    assert assert_case_error(tmp_path / "bare.toml", "description").startswith(
        f"{tmp_path / 'bare.toml'}: description: {says}"
    )


@pytest.mark.parametrize(
    ("case", "old", "new", "field"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_case_names_file_and_field(tmp_path, case, old, new, field):
    assert_case_error(edited(tmp_path, case, (old, new)), field)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('\n[tolerance.bfloat16]\nrtol = 1e-3\nwhy = "no such dtype"\n', "tolerance.bfloat16"),
        ("\n[tolerance.float32]\nrtol = 1e-4\n", "tolerance.float32.why"),
        ('\n[tolerance.float32]\nrtol = "loose"\nwhy = "a word"\n', "tolerance.float32.rtol"),
        ('\n[tolerance.float32]\natol = -1\nwhy = "a word"\n', "tolerance.float32.atol"),
        ('\n[tolerance.float64]\nrtol = nan\nwhy = "a word"\n', "tolerance.float64.rtol"),
    ],
    ids=["unknown-dtype", "override-without-why", "rtol-text", "negative-atol", "nan-rtol"],
)
def test_malformed_case_tolerance(tmp_path, extra, field):
    assert_case_error(appended(tmp_path, "task1-forward", extra), field)


def test_case_tolerance_override_with_why_applies_to_its_dtype_only(tmp_path):
    extra = '\n[tolerance.float32]\nrtol = 1e-4\nwhy = "a test that the override is read"\n'
    case = cases.load(appended(tmp_path, "task1-forward", extra))
    assert case.tolerance_for("float32").rtol == 1e-4
    assert case.tolerance_for("float32").atol == DEFAULT["float32"].atol
    assert case.tolerance_for("float64") == DEFAULT["float64"]


def test_golden_override_inherits_the_fields_it_leaves_out_from_the_case(tmp_path):
    """grad.w1's float64 override sets rtol only: its atol is the case's, not the default."""
    extra = '\n[tolerance.float64]\natol = 1e-9\nwhy = "a test that the golden inherits it"\n'
    case = cases.load(appended(tmp_path, "task2-grad-batch-sum", extra))
    golden = case.runs[0].golden["grad.w1"]
    assert case.tolerance_for("float64", golden).atol == 1e-9 != DEFAULT["float64"].atol
    assert case.tolerance_for("float64", golden).rtol == 1e-5


def test_golden_override_carries_its_why(registry):
    case = registry["task2-grad-batch-sum"]
    golden = case.runs[0].golden["grad.w1"]
    assert case.tolerance_for("float64", golden) != case.tolerance_for("float64")
    assert case.tolerance_for("float32", golden) == case.tolerance_for("float32")
    assert "eps" in golden.why


def test_invalid_toml_names_the_file_and_line(tmp_path):
    path = edited(tmp_path, "task1-forward", ('kind = "forward"', "kind = forward"))
    with pytest.raises(CaseError) as info:
        cases.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: not valid TOML")
    assert "line" in message


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b'description = "\xff\xfe"\n', "not valid TOML"), (None, "not a regular file")],
    ids=["not-utf8", "unreadable"],
)
def test_unreadable_file_is_a_case_error(tmp_path, content, problem):
    path = tmp_path / "broken.toml"
    if content is None:
        path.mkdir()  # a directory named *.toml: open() fails
    else:
        path.write_bytes(content)
    with pytest.raises(CaseError, match=problem) as info:
        cases.load(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_load_dir_keeps_the_valid_cases_and_reports_the_malformed_one(tmp_path):
    for name in ("task1-forward", "mlp-regression", "task3-train-dropout"):
        shutil.copy(cases.builtin_dir() / f"{name}.toml", tmp_path / f"copy-{name}.toml")
    bad = edited(tmp_path, "task1-forward", ('{ type = "relu" }', '{ type = "relu6" }'), name="bad")
    (tmp_path / "notes.txt").write_text("not a case")
    loaded, errors = cases.load_dir(tmp_path)
    assert sorted(c.name for c in loaded) == [
        "copy-mlp-regression",
        "copy-task1-forward",
        "copy-task3-train-dropout",
    ]
    assert len(errors) == 1
    assert str(errors[0]).startswith(f"{bad}: model.layers[1].type: ")


def test_load_dir_survives_every_kind_of_malformed_file(tmp_path):
    """All the malformed variants side by side: one error each, the valid copy still loads."""
    for label, case, old, new, _ in MALFORMED:
        edited(tmp_path, case, (old, new), name=label)
    shutil.copy(cases.builtin_dir() / "task1-forward.toml", tmp_path / "valid.toml")
    loaded, errors = cases.load_dir(tmp_path)
    assert [c.name for c in loaded] == ["valid"]
    assert len(errors) == len(MALFORMED)


def test_every_builtin_case_loads_with_provenance(registry):
    assert set(registry) >= {
        "task1-forward",
        "task2-grad-sample-mean",
        "task2-grad-batch-sum",
        "task3-train",
        "task3-train-dropout",
        "mlp-regression",
    }
    for case in registry.values():
        assert case.description.strip()
        assert case.provenance and all("seed" in p and "printed" in p for p in case.provenance)
        assert all(g.source for run in case.runs for g in run.golden.values())


# ---- the array recipes ----


def test_arange_recipe_is_numpy_arange_reshaped_row_major():
    spec = {"w1": {"arange": [0.1, 1.3, 0.1], "shape": [3, 4]}, "v": {"arange": [0, 3, 1]}}
    arrays = build_arrays(spec, None)
    np.testing.assert_array_equal(arrays["w1"], np.arange(0.1, 1.3, 0.1).reshape(3, 4))
    # The homework's w1: 0.1 ... 1.2 filled row by row.
    homework = np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.6, 0.7, 0.8], [0.9, 1.0, 1.1, 1.2]])
    np.testing.assert_allclose(arrays["w1"], homework, rtol=F64.rtol, atol=F64.atol)
    np.testing.assert_array_equal(arrays["v"], [0.0, 1.0, 2.0])
    assert arrays["v"].dtype == np.float64


def test_homework_parameters_in_the_cases(registry):
    for name in ("task1-forward", "task2-grad-sample-mean", "task2-grad-batch-sum", "task3-train"):
        params = registry[name].params
        assert set(params) == {"w1", "w2"}  # no biases
        np.testing.assert_array_equal(params["w1"], np.arange(0.1, 1.3, 0.1).reshape(3, 4))
        np.testing.assert_array_equal(params["w2"], np.arange(0.2, 1.0, 0.1).reshape(4, 2))


def test_draws_follow_one_generator_in_file_order():
    spec = {
        "a": {"draw": "random", "shape": [3, 2]},
        "inline": [1.0, 2.0],  # inline arrays draw nothing
        "b": {"draw": "uniform", "low": -2, "high": 3, "shape": [4]},
        "c": {"draw": "uniform_fan_in", "fan_in": 4, "shape": [4, 2]},
    }
    arrays = build_arrays(spec, 7)
    rng = np.random.default_rng(7)
    np.testing.assert_array_equal(arrays["a"], rng.random((3, 2)))
    np.testing.assert_array_equal(arrays["b"], rng.uniform(-2, 3, (4,)))
    np.testing.assert_array_equal(arrays["c"], rng.uniform(-0.5, 0.5, (4, 2)))
    swapped = build_arrays({"b": spec["b"], "a": spec["a"]}, 7)
    assert not np.array_equal(swapped["a"], arrays["a"])  # the order is part of the recipe


def test_mlp_regression_draws_reproduce_default_rng_0(registry):
    """Seed 004's recipe: X, then W and b of each Linear in order, U(-k, k), k = 1/sqrt(fan_in)."""
    case = registry["mlp-regression"]
    rng = np.random.default_rng(0)
    x = rng.random((100, 2))
    expected = {}
    for number, (fan_in, fan_out) in enumerate([(2, 10), (10, 10), (10, 1)], start=1):
        k = 1 / math.sqrt(fan_in)
        expected[f"w{number}"] = rng.uniform(-k, k, (fan_in, fan_out))
        expected[f"b{number}"] = rng.uniform(-k, k, (fan_out,))
    assert case.params.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_array_equal(case.params[name], value, err_msg=name)
    epoch = next(r for r in case.runs if r.name == "epoch")
    np.testing.assert_array_equal(epoch.x, x)


def test_mlp_regression_data_follows_seed_004_rule(registry):
    """y = (x0² + x1²) / 2 on 100 points of the unit square, one target column."""
    epoch = next(r for r in registry["mlp-regression"].runs if r.name == "epoch")
    x, y = epoch.x, epoch.y
    assert x.shape == (100, 2) and y.shape == (100, 1)
    assert np.all((x >= 0) & (x < 1))
    np.testing.assert_allclose(
        y[:, 0], (x[:, 0] ** 2 + x[:, 1] ** 2) / 2, rtol=F64.rtol, atol=F64.atol
    )


def test_rows_slice_the_named_arrays(registry, tmp_path):
    case = registry["mlp-regression"]
    runs = {r.name: r for r in case.runs}
    np.testing.assert_array_equal(runs["sample-0"].x, runs["epoch"].x[0:1])
    np.testing.assert_array_equal(runs["sample-0"].y, runs["epoch"].y[0:1])
    assert runs["sample-0"].task.kind == "gradient" and runs["epoch"].task.kind == "train"
    moved = cases.load(edited(tmp_path, "mlp-regression", ("rows = [0, 1]", "rows = [5, 6]")))
    sample = next(r for r in moved.runs if r.name == "sample-0")
    np.testing.assert_array_equal(sample.x, runs["epoch"].x[5:6])
    np.testing.assert_array_equal(sample.y, runs["epoch"].y[5:6])


@pytest.mark.parametrize(
    ("nesting", "field"),
    [
        ("x1 = " + "[" * 100_000 + "]" * 100_000, "arrays.x1"),  # overflows the TOML parser
        ("x1 = { a = " + "{ b = " * 1000 + "1" + " }" * 1001, "arrays.x1"),
        ("x1 = " + "[" * 200 + "]" * 200, "arrays.x1"),  # parsed, then refused
    ],
    ids=["array-100k", "inline-tables-1k", "array-200"],
)
def test_nesting_too_deep_names_the_field(tmp_path, nesting, field):
    """Before issue 10: "cannot load: RecursionError: maximum recursion depth exceeded"."""
    path = edited(tmp_path, T1, ("x1 = [[1.0, 2.0, 3.0]]", nesting))
    message = assert_case_error(path, field)
    assert message.endswith("nested more than 32 deep"), message
    assert len(message) < 300


def test_deep_golden_tables_name_the_field(tmp_path):
    header = "[golden.x1." + ".".join(["g"] * 5000) + "]\nvalue = 1\n"
    field = "golden.x1.g.g.g.g.g.g.(...)"
    assert_case_error(appended(tmp_path, T1, "\n" + header), field)


@pytest.mark.parametrize("control", ["\n", "\x1b[31m", "\u202e", "\r", "\x00"])
def test_control_characters_are_escaped_in_case_errors(tmp_path, control):
    """A key holding a newline or an ANSI escape was printed raw into the one-line error."""
    key = f'"bad{control}key"'
    path = edited(tmp_path, T1, ("[task]", f"[task]\n{_toml_key(key)} = 1"))
    message = assert_case_error(path, f"task.bad{control.encode('unicode_escape').decode()}key")
    assert all(ch.isprintable() for ch in message), message


def test_control_characters_in_a_file_name_are_escaped(tmp_path):
    path = edited(tmp_path, T1, ("[task]", "[task]"), name="bad\x1b[2Jname")
    with pytest.raises(CaseError) as info:
        cases.load(path)
    message = str(info.value)
    assert "bad\\x1b[2Jname.toml: file name: holds a control character" in message
    assert all(ch.isprintable() for ch in message)


def _toml_key(quoted: str) -> str:
    """A TOML basic-string key with its control characters written as TOML escapes."""
    return quoted.encode("unicode_escape").decode().replace("\\x", "\\u00")


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('description = """\n', 'description = """\n\\u001b[2J', "description"),
        (
            'c9.txt"\nwhere = "Assignment 1"',
            'c9.txt"\nwhere = "A\\u001b[31m 1"',
            "provenance[0].where",
        ),
        (
            'source = "seed 000, Assignment 1, NumPy"\n\n[golden.x2',
            'source = "seed 000\\u0007"\n\n[golden.x2',
            "golden.x1.output.source",
        ),
    ],
    ids=["description", "provenance", "golden-source"],
)
def test_free_text_that_gets_printed_holds_no_control_character(tmp_path, old, new, field):
    """`harness cases` prints the description: an ANSI escape there restyled the terminal."""
    message = assert_case_error(edited(tmp_path, T1, (old, new)), field)
    assert "holds a control character" in message
    assert all(ch.isprintable() for ch in message)


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("snapshot = true", "snapshot = false", "is false but the source names the harness's"),
        ("snapshot = true\n", "", "is false but the source names the harness's"),
        ("snapshot = true", 'snapshot = "yes"', "must be true or false"),
    ],
)
def test_a_golden_from_the_harness_says_it_is_a_snapshot(tmp_path, old, new, says):
    """55 of the 66 goldens before issue 16 were the harness's own float64 output: each says
    so in its source and with `snapshot = true`, or the file is refused."""
    text = (cases.builtin_dir() / "relu-mixed-signs.toml").read_text()
    path = tmp_path / "relu-mixed-signs.toml"
    path.write_text(text.replace(old, new, 1))
    message = assert_case_error(path, "golden.batch.output.snapshot")
    assert says in message


def test_only_a_source_naming_the_harness_may_be_a_snapshot(tmp_path):
    text = (cases.builtin_dir() / "log-softmax-nll.toml").read_text()
    path = tmp_path / "log-softmax-nll.toml"
    path.write_text(text.replace('decimals = "repr"\n', 'decimals = "repr"\nsnapshot = true\n', 1))
    assert "names another source" in assert_case_error(path, "golden.batch.output.snapshot")


def test_every_builtin_golden_is_a_snapshot_or_independent(registry):
    """Snapshots are the harness's own output; the rest come from the seeds or torch."""
    goldens = [g for case in registry.values() for run in case.runs for g in run.golden.values()]
    snapshots = [g for g in goldens if g.snapshot]
    assert all(g.source.startswith("xp-harness float64 reference") for g in snapshots)
    independent = [g for g in goldens if not g.snapshot]
    assert all(g.source.startswith(("seed ", "torch.nn.functional")) for g in independent)
    assert len(snapshots) == 55
