"""How much work a case asks for, and the budget past which it is refused before it runs.

A run's work is steps x rows per step x parameters: about the multiply-adds of its forward
and backward passes. Every built-in case is under 2e4; the default budget, 1e9, is minutes of
work per backend at homework sizes. A case over it (say `epochs = 10**9`) is refused by
`harness cases` and `harness run` in one line naming the file and the field, unless the user
raises the budget with `--max-work`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from harness.cases import Case, CaseError, Run
from harness.network import SpecError

DEFAULT_MAX_WORK = 1e9


def work(case: Case, run: Run) -> tuple[int, int, int]:
    """(steps, rows per step, parameters) of one run; a row is one position of x's leading
    axes (a sequence of 5 is 5 rows)."""
    task, rows = run.task, run.x.shape[0]
    size = (task.batch_size if task.kind == "train" else None) or rows
    steps = (task.epochs if task.kind == "train" else 1) * math.ceil(rows / size)
    features = () if case.network.takes.ids else run.x.shape[-1:]
    positions = math.prod(run.x.shape[1 : run.x.ndim - len(features)])
    params = sum(math.prod(shape) for shape in case.network.param_shapes.values())
    return steps, size * positions, params


def check(case: Case, max_work: float = DEFAULT_MAX_WORK) -> None:
    """Raise a one-line CaseError when a run of the case is beyond the budget."""
    for run in case.runs:
        steps, rows, params = work(case, run)
        total = steps * rows * params
        if total > max_work:
            field = "task.epochs" if steps > 1 else "arrays"
            raise CaseError(
                f"{case.path}: runs.{run.name}.{field}: work {total:.1e} "
                f"(steps {steps} x rows {rows} x parameters {params}) is over the budget of "
                f"{max_work:.0e}; raise it with --max-work"
            )


def check_declared(doc: Mapping[str, Any], network, max_work: float) -> None:
    """Refuse a case file over the budget from the shapes it declares, before any array is
    drawn or built (a 2e8-row recipe must not cost gigabytes to refuse). What the declared
    shapes cannot tell (a malformed entry) is left to the full validation that follows."""
    from harness.recipes import declared_shape

    table = doc.get("arrays")
    shapes = {n: declared_shape(e) for n, e in table.items()} if isinstance(table, Mapping) else {}
    for name, shape in shapes.items():
        if shape is not None and math.prod(shape) > max_work:
            raise SpecError(
                f"arrays.{name}",
                f"{math.prod(shape):.1e} elements is over the budget of {max_work:.0e} "
                "(raise it with --max-work)",
            )
    params = sum(math.prod(shape) for shape in network.param_shapes.values())
    base = doc.get("task") if isinstance(doc.get("task"), Mapping) else {}
    for index, spec in enumerate(doc.get("runs") or []):
        try:
            shape = shapes.get(spec["x"])
            rows = len(range(shape[0])[slice(*spec.get("rows", (None, None)))])
            task = {**base, **(spec.get("task") or {})}
            train = task.get("kind") == "train"
            size = min(rows, (task.get("batch_size") if train else None) or rows)
            steps = (int(task.get("epochs", 1)) if train else 1) * math.ceil(rows / size)
            size *= math.prod(shape[1:] if network.takes.ids else shape[1:-1])
        except (TypeError, ValueError, KeyError, ZeroDivisionError, AttributeError):
            continue  # the full validation names what is wrong with it
        if (total := steps * size * params) > max_work:
            field = "task.epochs" if steps > 1 else "x"
            name = spec.get("name") if isinstance(spec.get("name"), str) else f"[{index}]"
            raise SpecError(
                f"runs.{name}.{field}",
                f"work {total:.1e} (steps {steps} x rows {size} x parameters {params}) is over "
                f"the budget of {max_work:.0e}; raise it with --max-work",
            )


def split(cases: list[Case], max_work: float) -> tuple[list[Case], list[CaseError]]:
    """The cases within budget, and an error for each one that is not."""
    kept, refused = [], []
    for case in cases:
        try:
            check(case, max_work)
            kept.append(case)
        except CaseError as exc:
            refused.append(exc)
    return kept, refused
