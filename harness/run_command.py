"""`harness run` and `harness show`: the matrix, the gradient check, one cell seed-style."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness import __version__
from harness.command_line import (
    UsageError,
    cases_option,
    load_cases,
    make_runner,
    pick,
    pick_backends,
    runner_options,
    select,
    selection_options,
)
from harness.protocol import DTYPES

SHOW_DEFAULT = ("numpy", "float64")
"""What `harness show` runs when not told: the float64 reference's own backend and dtype."""


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    cases_option(parser)
    selection_options(parser)
    parser.add_argument("--json", type=Path, metavar="PATH", help="write one record per cell")
    parser.add_argument(
        "--gradcheck",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also compare manual, autograd and finite-difference gradients (default: on)",
    )
    runner_options(parser)
    parser.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="backends run at once, each in its own worker (default: the number of cores)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="send the cells to this Dask distributed scheduler (tcp://host:8786)",
    )
    parser.set_defaults(command=cmd_run)


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    cases_option(parser)
    parser.add_argument("case", metavar="CASE")
    parser.add_argument(
        "--backend",
        metavar="B",
        help=f"the backend to run (default: {SHOW_DEFAULT[0]}, the reference's own; said on "
        "stderr when not given)",
    )
    parser.add_argument(
        "--dtype",
        metavar="D",
        help=f"float32 or float64 (default: {SHOW_DEFAULT[1]}; said on stderr when not given)",
    )
    runner_options(parser)
    parser.set_defaults(command=cmd_show, jobs=1, scheduler=None)


def cmd_run(args) -> int:
    from harness import plugins

    _check_json_target(args.json)
    cases, skipped = load_cases(args.cases, args.max_work)
    cases = select(cases, args.case, "case")
    names = pick_backends(list(plugins.discover()), args.backend)
    dtypes = pick(list(DTYPES), args.dtype, "dtype")
    try:
        with make_runner(args) as runner:
            return _run(args, runner, cases, skipped, names, dtypes)
    except KeyboardInterrupt:
        print("\nharness: interrupted; the JSON holds the cells finished so far", file=sys.stderr)
        return 130


def _run(args, runner, cases, skipped, names, dtypes) -> int:
    from harness import environment, journal, progress, report
    from harness.suspects import golden_suspects

    tasks = [(case.path, name, dtype) for case in cases for name in names for dtype in dtypes]
    meta = {"harness": __version__, "skipped_case_files": [str(error) for error in skipped]}
    meta["environment"] = environment.record()
    out = journal.Journal(args.json, meta, len(tasks))
    print(report.header(), flush=True)
    shown = progress.Progress(len(tasks), lambda cell: print(report.table_row(cell), flush=True))

    def on_cell(index, cell) -> None:
        out.add(index, cell)
        shown.done(index, cell)

    cells = runner.cells(tasks, on_cell, first=runner.slow_backends(names))
    shown.finish()
    print(report.summary(cells))
    if skipped:
        print(f"{len(skipped)} case file(s) skipped, not run (reasons above, on stderr)")
    if diagnosed := report.divergences(cells):
        print(f"\n{diagnosed}")
    if suspects := golden_suspects(cells, cases):
        print(f"\n{suspects}")
    checks = _gradcheck(runner, cases, names, dtypes) if args.gradcheck else []
    versions = {name: runner.describe(name).version for name in names}
    records = [check.as_record() for check in checks]
    out.finish(backends=versions, gradcheck=records, golden_suspects=suspects)
    if args.json:
        print(f"wrote {args.json}")
    failed = skipped or any(c.status in FAILED for c in cells)
    return 1 if failed or any(c.status in ("disagree", "error") for c in checks) else 0


FAILED = ("fail", "error", "crashed", "timeout")
"""Cell statuses that make `harness run` and `harness show` exit 1."""


def _check_json_target(path: Path | None) -> None:
    """--json names a regular file to (re)write, in a directory that exists: never a
    directory, a device, a FIFO or a symbolic link, which a rename would replace."""
    if path is None:
        return
    if path.is_symlink():
        raise UsageError(f"--json {path}: is a symbolic link; name the file itself")
    if path.exists() and not path.is_file():
        kind = "a directory" if path.is_dir() else "not a regular file"
        raise UsageError(f"--json {path}: is {kind}; name a file to write")
    if not path.parent.is_dir():
        raise UsageError(f"--json {path}: directory {path.parent} does not exist")


def _gradcheck(runner, cases, names, dtypes):
    """Print the three-way check as its rows arrive; return them."""
    from harness import gradcheck, report

    if all(run.task.kind == "forward" for case in cases for run in case.runs):
        return []
    pairings = runner.pairings(names)
    print(f"\n{report.gradcheck_header()}", flush=True)
    asked = [
        (backend.name, case.path, run.name, dtype)
        for case in cases
        for run in case.runs
        if run.task.kind != "forward"
        for pairing in pairings
        for backend in (pairing.manual, pairing.autograd)
        if backend is not None
        for dtype in dtypes
        if dtype in backend.dtypes
    ]
    unique = list(dict.fromkeys(asked))
    found = dict(zip(unique, runner.gradients(unique), strict=True))  # backends in parallel

    def gradient(info, case, run, dtype):
        result = found[info.name, case.path, run.name, dtype]
        if isinstance(result, Exception):
            raise result
        return result

    def show(check) -> None:
        print(report.gradcheck_row(check), flush=True)

    checks = gradcheck.run_checks(cases, pairings, dtypes, show, gradient=gradient)
    print(report.gradcheck_summary(checks))
    return checks


def cmd_show(args) -> int:
    from harness import plugins, report

    case = select(load_cases(args.cases, args.max_work)[0], [args.case], "case")[0]
    if args.backend is None or args.dtype is None:
        args.backend, args.dtype = args.backend or SHOW_DEFAULT[0], args.dtype or SHOW_DEFAULT[1]
        print(
            f"harness show: on {args.backend} in {args.dtype} (choose with --backend, --dtype)",
            file=sys.stderr,
        )
    (name,) = pick_backends(list(plugins.discover()), [args.backend])
    (dtype,) = pick(list(DTYPES), [args.dtype], "dtype")
    try:
        with make_runner(args) as runner:
            cell = runner.cell(case.path, name, dtype)
    except KeyboardInterrupt:
        print("\nharness: interrupted", file=sys.stderr)
        return 130
    for run in case.runs:
        print(f"{name} {dtype} : {run.name} {'-' * 48}\n")
        for tensor, value in getattr(cell.outcomes.get(run.name), "tensors", {}).items():
            print(report.seed_style(tensor, value) + "\n")
    print(f"status: {cell.status}" + (f"  {cell.message}" if cell.message else ""))
    for comparison in cell.comparisons:
        print(f"  {comparison.describe()}")
    if cell.diagnosis:
        print(cell.diagnosis.describe())
    return 1 if cell.status in FAILED else 0
