"""The case registry: one TOML file per case, validated into a `Case` or a one-line error.

A case file holds a description, provenance (which seed document, what it printed), the
model, its arrays (inline or seeded recipes), the task, the runs, golden values with the
precision they were printed at, and optional tolerance overrides. See cases/README.md.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from harness import network as net
from harness import optimizers, vocabulary
from harness.case_text import MAX_DEPTH, deepest_field, plain_text, printable, too_deep
from harness.network import SpecError, reject_unknown
from harness.protocol import DTYPES
from harness.recipes import build_arrays
from harness.specs import read
from harness.tolerance import DEFAULT, Tolerance

TASKS = ("forward", "gradient", "train")
MAX_LR = 10.0
"""Largest learning rate a case may ask for: a step of more than ten gradients overshoots on
any of these networks, and 1e300 turns every parameter into inf before the first comparison."""


class CaseError(ValueError):
    """A case file is malformed. The message names the file and the field."""


@dataclass(frozen=True)
class Golden:
    value: np.ndarray
    decimals: int | None
    source: str
    tolerance: dict[str, Tolerance] = field(default_factory=dict)
    why: str = ""
    snapshot: bool = False
    """The harness's own float64 reference, recorded once: a regression anchor, not an
    independent check (the suspect-golden diagnosis leaves it out)."""


@dataclass(frozen=True)
class Task:
    kind: str
    lr: float = 0.0
    epochs: int = 1
    batch_size: int | None = None
    dropout_seed: int | None = None
    optimizer: optimizers.Optimizer | None = None
    """The task's `optimizer = {...}`; None when it gives only `lr` (SGD)."""

    @property
    def rule(self) -> optimizers.Optimizer:
        """The update a train task steps with: its optimizer, or SGD with its lr."""
        return self.optimizer or optimizers.SGD(self.lr)


@dataclass(frozen=True)
class Run:
    name: str
    task: Task
    x: np.ndarray
    y: np.ndarray
    golden: dict[str, Golden]


@dataclass(frozen=True)
class Case:
    name: str
    path: Path
    description: str
    provenance: tuple[dict[str, Any], ...]
    network: net.Network
    params: dict[str, np.ndarray]
    runs: tuple[Run, ...]
    tolerance: dict[str, Tolerance]

    def tolerance_for(self, dtype: str, golden: Golden | None = None) -> Tolerance:
        if golden is not None and dtype in golden.tolerance:
            return golden.tolerance[dtype]
        return self.tolerance[dtype]


def builtin_dir() -> Path:
    """Where the installed case files live (the repository's cases/ directory)."""
    from importlib.resources import files

    return Path(str(files("harness_cases")))


def load_dir(
    directory: Path | None = None, max_work: float | None = None
) -> tuple[list[Case], list[CaseError]]:
    """Load every *.toml in a directory; a malformed file becomes an error, not a crash, and
    so does anything that is not a regular file (a FIFO would block the read)."""
    directory = directory or builtin_dir()
    cases, errors = [], []
    for path in sorted(Path(directory).glob("*.toml")):
        try:
            cases.append(load(path, max_work))
        except CaseError as exc:
            errors.append(exc)
    return cases, errors


def load(path: Path, max_work: float | None = None) -> Case:
    """Load and validate one case file; any problem is a one-line, printable CaseError. With
    `max_work`, a case over that budget is refused from its declared shapes, before any of
    its arrays is drawn (harness.budget)."""
    try:
        return _load(path, max_work)
    except CaseError as exc:
        raise CaseError(printable(str(exc))) from None


def _load(path: Path, max_work: float | None) -> Case:
    if Path(path).exists() and not Path(path).is_file():
        raise CaseError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        doc = tomllib.loads(raw.decode("utf-8"))
        if deep := too_deep(doc):
            raise SpecError(deep, f"nested more than {MAX_DEPTH} deep")
        return _case(path, doc, max_work)
    except RecursionError:
        field = deepest_field(raw.decode("utf-8")) or "file"
        raise CaseError(f"{path}: {field}: nested more than {MAX_DEPTH} deep") from None
    except tomllib.TOMLDecodeError as exc:
        raise CaseError(f"{path}: not valid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise CaseError(f"{path}: not valid TOML: not UTF-8 at byte {exc.start}") from None
    except SpecError as exc:
        raise CaseError(f"{path}: {exc}") from None
    except OSError as exc:
        raise CaseError(f"{path}: cannot read: {exc.strerror}") from None
    except Exception as exc:  # any other surprise in one file must not stop the others
        text = (str(exc).strip().splitlines() or [""])[0]
        raise CaseError(f"{path}: cannot load: {type(exc).__name__}: {text}") from None


TOP_FIELDS = (
    "description",
    "provenance",
    "model",
    "random",
    "arrays",
    "task",
    "runs",
    "golden",
    "tolerance",
)
PROVENANCE_FIELDS = ("seed", "where", "printed")
TASK_FIELDS = ("kind", "lr", "optimizer", "epochs", "batch_size", "dropout_seed")
RUN_FIELDS = ("name", "x", "y", "rows", "task")
GOLDEN_FIELDS = ("value", "decimals", "source", "snapshot", "tolerance")
TOLERANCE_FIELDS = ("rtol", "atol", "why")


def _case(path: Path, doc: Mapping[str, Any], max_work: float | None = None) -> Case:
    if printable(path.stem) != path.stem:
        raise SpecError("file name", "holds a control character (the name is the case name)")
    reject_unknown(doc, TOP_FIELDS, "")  # first: `[tasks]` is a typo, not a missing `[task]`
    description = plain_text(_require(doc, "description", str, ""), "description")
    if not description.strip():
        raise SpecError("description", "is empty: say what the case checks")
    provenance = _provenance(_require(doc, "provenance", list, ""))
    model = _require(doc, "model", Mapping, "")
    reject_unknown(model, ("layers", "loss"), "model")
    reject_unknown(doc.get("random"), ("seed",), "random")
    network = net.build(_require(model, "layers", list, "model"), model.get("loss", {}))
    if max_work is not None:
        from harness import budget

        budget.check_declared(doc, network, max_work)
    seed = _seed(doc.get("random", {}))
    arrays = build_arrays(doc.get("arrays"), seed)
    params = _params(network, arrays)
    task = _task(_require(doc, "task", Mapping, ""), network, "task")
    tolerance = {**DEFAULT, **_tolerances(doc.get("tolerance", {}), "tolerance", DEFAULT)}
    golden = doc.get("golden", {})
    if not isinstance(golden, Mapping):
        raise SpecError("golden", "must be a table of runs")
    runs = tuple(
        _run(i, spec, task, network, arrays, golden, tolerance)
        for i, spec in enumerate(_require(doc, "runs", list, ""))
    )
    names = [run.name for run in runs]
    if duplicate := next((n for n in names if names.count(n) > 1), None):
        raise SpecError("runs", f"two runs are named {duplicate!r}")
    if unknown := set(golden) - {run.name for run in runs}:
        raise SpecError(f"golden.{sorted(unknown)[0]}", "names no run")
    return Case(path.stem, path, description, tuple(provenance), network, params, runs, tolerance)


def _provenance(entries: list) -> list[dict[str, str]]:
    """`[[provenance]]` seed, where, printed: at least one, each field a non-empty string."""
    if not entries:
        raise SpecError("provenance", "is empty: say where the numbers come from")
    for i, entry in enumerate(entries):
        where = f"provenance[{i}]"
        reject_unknown(entry, PROVENANCE_FIELDS, where)
        for key in PROVENANCE_FIELDS:
            if not plain_text(_require(entry, key, str, where), f"{where}.{key}").strip():
                raise SpecError(f"{where}.{key}", "is empty")
    return entries


def _params(network: net.Network, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    params = {}
    for name, shape in network.param_shapes.items():
        if name not in arrays:
            needed = ", ".join(network.param_shapes)
            raise SpecError(f"arrays.{name}", f"missing (the model's parameters: {needed})")
        if arrays[name].shape != shape:
            raise SpecError(f"arrays.{name}", f"shape {arrays[name].shape}, model needs {shape}")
        params[name] = arrays[name]
    return params


def _task(spec: Mapping[str, Any], network: net.Network, where: str, base: Task | None = None):
    if not isinstance(spec, Mapping):
        raise SpecError(where, "must be a table")
    reject_unknown(spec, TASK_FIELDS, where)
    kind = spec.get("kind", base.kind if base else None)
    if kind not in TASKS:
        raise SpecError(f"{where}.kind", f"must be one of {', '.join(TASKS)}, got {kind!r}")
    inherited = base.__dict__ if base else {}
    values = {**inherited, **{k: v for k, v in spec.items() if k != "kind"}}
    values.update(_optimizer(spec, base, where))
    batch_size = values.get("batch_size")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)):
        raise SpecError(f"{where}.batch_size", f"must be an integer, got {batch_size!r}")
    task = Task(
        kind,
        lr=float(_number(values, "lr", where, 0.0)),
        epochs=_integer(values, "epochs", where, 1),
        batch_size=batch_size,
        dropout_seed=values.get("dropout_seed"),
        optimizer=values.get("optimizer"),
    )
    seed = task.dropout_seed
    if seed is not None and not (_is_int(seed) and seed >= 0):
        raise SpecError(f"{where}.dropout_seed", f"must be a non-negative integer, got {seed!r}")
    if network.mask_layers and seed is None:
        raise SpecError(f"{where}.dropout_seed", "the model has dropout: give the mask seed")
    if kind == "train" and (task.lr <= 0 or task.epochs < 1):
        raise SpecError(where, "a train task needs lr > 0 and epochs >= 1")
    if abs(task.lr) > MAX_LR:
        raise SpecError(f"{where}.lr", f"{task.lr!r} is absurd: at most {MAX_LR} (a typo?)")
    return task


def _optimizer(spec: Mapping[str, Any], base: Task | None, where: str) -> dict[str, Any]:
    """`optimizer = {type = "adam", lr = ..., ...}`, checked against the vocabulary, and its
    lr; a bare `lr` is SGD's, and cannot retune an optimizer [task] set."""
    if "optimizer" not in spec:
        if "lr" in spec and base is not None and base.optimizer is not None:
            kind = type(base.optimizer).__name__
            raise SpecError(f"{where}.lr", f"[task] sets optimizer {kind}: give optimizer here")
        return {}
    if "lr" in spec:
        raise SpecError(f"{where}.lr", "the optimizer table gives the rate: set optimizer.lr")
    kind, values = read(spec["optimizer"], vocabulary.OPTIMIZERS, "optimizer", f"{where}.optimizer")
    optimizer = kind.make(values)
    return {"optimizer": optimizer, "lr": optimizer.lr}


def _run(index, spec, task, network, arrays, golden_table, tolerance) -> Run:
    where = f"runs[{index}]"
    reject_unknown(spec, RUN_FIELDS, where)
    name = _require(spec, "name", str, where)
    if printable(name) != name:
        raise SpecError(f"{where}.name", f"holds a control character: {name!r}")
    rows = _rows(spec, where)
    x = _data(spec, "x", arrays, where)[rows]
    y = _data(spec, "y", arrays, where)[rows] if "y" in spec else None
    if x.shape[0] == 0:
        raise SpecError(f"{where}.rows", "selects no rows of x")
    try:
        expect_y = network.output_shape(x.shape)
    except ValueError as exc:
        raise SpecError(f"{where}.x", str(exc)) from None
    x = _token_ids(x, network, f"{where}.x") if network.takes.ids else x
    run_task = _task(spec.get("task", {}), network, f"{where}.task", task)
    if y is None and run_task.kind != "forward":
        raise SpecError(f"{where}.y", f"missing (a {run_task.kind} task needs targets)")
    if y is None:
        y = np.zeros(expect_y)  # a forward task computes no loss worth reading
    elif y.shape != expect_y:
        raise SpecError(f"{where}.y", f"shape {y.shape}, model gives {expect_y}")
    if run_task.batch_size is not None and not 0 < run_task.batch_size <= x.shape[0]:
        raise SpecError(f"{where}.task.batch_size", f"must be in 1..{x.shape[0]}")
    shapes = expected_shapes(run_task, network, x.shape[0], expect_y)
    table = golden_table.get(name, {})
    if not isinstance(table, Mapping):
        raise SpecError(f"golden.{name}", "must be a table of tensors")
    goldens = {
        tensor: _golden(entry, f"golden.{name}.{tensor}", shapes, tolerance)
        for tensor, entry in _flatten(table)
    }
    return Run(name, run_task, x, y, goldens)


def expected_shapes(
    task: Task, network: net.Network, rows: int, output: tuple[int, ...] | None = None
) -> dict[str, tuple[int, ...]]:
    """Every tensor a task computes, by name, with its shape (`output`: the run's output
    shape; by default (rows, out_features))."""
    params = network.param_shapes
    output = output or (rows, network.out_features)
    if task.kind == "forward":
        return {"output": output}
    if task.kind == "gradient":
        grads = {f"grad.{name}": shape for name, shape in params.items()}
        return {"output": output, "loss": (), **grads}
    steps = task.epochs * -(-rows // (task.batch_size or rows))
    return {"step_losses": (steps,), **{f"final.{name}": s for name, s in params.items()}}


def _golden(entry: Any, where: str, shapes, case_tolerance: Mapping[str, Tolerance]) -> Golden:
    tensor = where.split(".", 2)[2]
    reject_unknown(entry, GOLDEN_FIELDS, where)
    if tensor not in shapes:
        raise SpecError(where, f"this task computes no such tensor (it has: {', '.join(shapes)})")
    try:
        value = np.asarray(_require(entry, "value", (list, int, float), where), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{where}.value", f"not an array of numbers: {exc}") from None
    if value.shape != shapes[tensor]:
        raise SpecError(f"{where}.value", f"shape {value.shape}, expected {shapes[tensor]}")
    if not np.all(np.isfinite(value)):
        raise SpecError(f"{where}.value", "holds a non-finite number")
    decimals = _require(entry, "decimals", (int, str), where)
    if decimals != "repr" and not (isinstance(decimals, int) and decimals >= 0):
        raise SpecError(f"{where}.decimals", f'must be an integer or "repr", got {decimals!r}')
    source = plain_text(_require(entry, "source", str, where), f"{where}.source")
    snapshot = _snapshot(entry, source, where)
    overrides = _tolerances(entry.get("tolerance", {}), f"{where}.tolerance", case_tolerance)
    why = "; ".join(e["why"] for e in entry.get("tolerance", {}).values())
    places = None if decimals == "repr" else decimals
    return Golden(value, places, source, overrides, why, snapshot)


SNAPSHOT_SOURCE = "xp-harness"
"""How a snapshot's source begins (`xp-harness float64 reference, DATE; ...`): a golden
from the harness's own output says so in both its source and `snapshot = true`."""


def _snapshot(entry: Mapping[str, Any], source: str, where: str) -> bool:
    """`snapshot = true` exactly when the source is the harness's own output."""
    snapshot = entry.get("snapshot", False)
    if not isinstance(snapshot, bool):
        raise SpecError(f"{where}.snapshot", f"must be true or false, got {snapshot!r}")
    if snapshot != source.startswith(SNAPSHOT_SOURCE):
        says = "names the harness's own output" if not snapshot else "names another source"
        raise SpecError(
            f"{where}.snapshot",
            f"is {str(snapshot).lower()} but the source {says}: a golden from the harness "
            f"says so twice (source {SNAPSHOT_SOURCE} ..., snapshot = true)",
        )
    return snapshot


def _tolerances(spec: Any, where: str, inherit: Mapping[str, Tolerance]) -> dict[str, Tolerance]:
    """`[tolerance.float32] rtol = ..., atol = ..., why = "..."`: the overridden dtypes only,
    a field left out inherited from `inherit` (the case's tolerance, or the harness default)."""
    if not isinstance(spec, Mapping):
        raise SpecError(where, "must be a table of per-dtype overrides")
    result = {}
    for dtype, entry in spec.items():
        here = f"{where}.{dtype}"
        if dtype not in DTYPES:
            raise SpecError(here, f"unknown dtype (known: {', '.join(DTYPES)})")
        reject_unknown(entry, TOLERANCE_FIELDS, here)
        plain_text(_require(entry, "why", str, here), f"{here}.why")
        base = inherit[dtype]
        rtol = _number(entry, "rtol", here, base.rtol)
        atol = _number(entry, "atol", here, base.atol)
        for key, value in (("rtol", rtol), ("atol", atol)):
            if value < 0:
                raise SpecError(f"{here}.{key}", f"must be >= 0, got {value!r}")
        result[dtype] = Tolerance(rtol, atol)
    return result


def _token_ids(x: np.ndarray, network: net.Network, where: str) -> np.ndarray:
    """x as int64 token ids: whole numbers in [0, vocab), or a SpecError naming the first not."""
    vocab = network.takes.vocab
    bad = np.argwhere((x != np.round(x)) | (x < 0) | (x >= vocab))
    if bad.size:
        at = tuple(int(i) for i in bad[0])
        raise SpecError(where, f"token ids must be integers in [0, {vocab}), got {x[at]!r} at {at}")
    return x.astype(np.int64)


def _seed(spec: Any) -> int | None:
    """`[random] seed = N` for the case's drawn arrays: a non-negative integer, or absent."""
    if not isinstance(spec, Mapping):
        raise SpecError("random", "must be a table")
    seed = spec.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise SpecError("random.seed", f"must be a non-negative integer, got {seed!r}")
    return seed


def _data(spec, key, arrays, where) -> np.ndarray:
    name = _require(spec, key, str, where)
    if name not in arrays:
        raise SpecError(f"{where}.{key}", f"names no array: {name!r} (have: {', '.join(arrays)})")
    return np.atleast_2d(arrays[name])


def _rows(spec: Mapping[str, Any], where: str) -> slice:
    """`rows = [start, stop]` picks a slice of the named arrays; the default is all rows."""
    rows = spec.get("rows")
    if rows is None:
        return slice(None)
    if not (isinstance(rows, list) and len(rows) == 2 and all(_is_int(r) for r in rows)):
        raise SpecError(f"{where}.rows", f"must be [start, stop], got {rows!r}")
    if not 0 <= rows[0] < rows[1]:
        raise SpecError(f"{where}.rows", f"needs 0 <= start < stop, got {rows!r}")
    return slice(*rows)


def _flatten(table: Mapping[str, Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Yield ("grad.w1", entry) for nested golden tables; an entry is a table holding any
    golden field (so that `valu = [...]` is named as a typo, not taken for a group)."""
    for key, entry in table.items():
        name = f"{prefix}{key}"
        if isinstance(entry, Mapping) and not any(k in entry for k in GOLDEN_FIELDS):
            yield from _flatten(entry, f"{name}.")
        else:
            yield name, entry


def _require(table: Any, key: str, kind, where: str):
    here = f"{where}.{key}" if where else key
    if not isinstance(table, Mapping):
        raise SpecError(where or "file", "must be a table")
    if key not in table:
        raise SpecError(here, "missing")
    if isinstance(table[key], bool) or not isinstance(table[key], kind):
        raise SpecError(here, f"has the wrong type: {type(table[key]).__name__}")
    return table[key]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(table: Mapping[str, Any], key: str, where: str, default: int) -> int:
    value = table.get(key, default)
    if not _is_int(value):
        raise SpecError(f"{where}.{key}", f"must be an integer, got {value!r}")
    return value


def _number(table: Any, key: str, where: str, default: float):
    value = table.get(key, default) if isinstance(table, Mapping) else default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SpecError(f"{where}.{key}", f"must be a finite number, got {value!r}")
    return value
