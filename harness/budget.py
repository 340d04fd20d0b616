"""How much work a case asks for, and the budget past which it is refused before it runs.

A run's work is steps x rows per step x parameters: about the multiply-adds of its forward
and backward passes. Every built-in case is under 2e4; the default budget, 1e9, is minutes of
work per backend at homework sizes. A case over it (say `epochs = 10**9`) is refused by
`harness cases` and `harness run` in one line naming the file and the field, unless the user
raises the budget with `--max-work`.
"""

from __future__ import annotations

import math

from harness.cases import Case, CaseError, Run

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
