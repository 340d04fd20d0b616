"""The `harness` command: list backends and cases, run the matrix, show one cell."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from harness import __version__
from harness.protocol import DTYPES


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"xp-harness {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("backends", help="list backends: version, available or not, and why")
    _runner_options(p)
    p.set_defaults(command=cmd_backends, jobs=None, scheduler=None)

    p = sub.add_parser("cases", help="list the case registry")
    _cases_option(p)
    p.set_defaults(command=cmd_cases)

    p = sub.add_parser("run", help="run cases x backends x dtypes and compare")
    _cases_option(p)
    _selection_options(p)
    p.add_argument("--json", type=Path, metavar="PATH", help="write one record per cell")
    p.add_argument(
        "--gradcheck",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also compare manual, autograd and finite-difference gradients (default: on)",
    )
    _runner_options(p)
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="backends run at once, each in its own worker (default: the number of cores)",
    )
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="send the cells to this Dask distributed scheduler (tcp://host:8786)",
    )
    p.set_defaults(command=cmd_run)

    p = sub.add_parser("show", help="print one cell's computed tensors, seed-style")
    _cases_option(p)
    p.add_argument("case", metavar="CASE")
    p.add_argument(
        "--backend",
        metavar="B",
        help=f"the backend to run (default: {SHOW_DEFAULT[0]}, the reference's own; said on "
        "stderr when not given)",
    )
    p.add_argument(
        "--dtype",
        metavar="D",
        help=f"float32 or float64 (default: {SHOW_DEFAULT[1]}; said on stderr when not given)",
    )
    _runner_options(p)
    p.set_defaults(command=cmd_show, jobs=1, scheduler=None)

    from harness.bench import command as bench  # standard library only; the rest loads on run

    p = sub.add_parser("bench", help="time every backend against native code and Keras")
    bench.add_arguments(p)
    p.set_defaults(command=bench.run)

    from harness.page import command as page  # standard library only; the rest loads on run

    p = sub.add_parser("report", help="one HTML page of one or more runs' JSON, and what changed")
    page.add_arguments(p)
    p.set_defaults(command=page.run)

    from harness.fuzz import command as fuzz  # standard library only; the rest loads on run

    p = sub.add_parser("fuzz", help="drawn networks on chosen backends; disagreements as cases")
    fuzz.add_arguments(p)
    p.set_defaults(command=fuzz.run)
    return parser


def _cases_option(parser: argparse.ArgumentParser) -> None:
    from harness.budget import DEFAULT_MAX_WORK

    parser.add_argument(
        "--cases", type=Path, metavar="DIR", help="case directory (default: built-in)"
    )
    parser.add_argument(
        "--max-work",
        type=float,
        default=DEFAULT_MAX_WORK,
        metavar="W",
        help="refuse a case whose run needs more than W steps x rows x parameters "
        f"(default: {DEFAULT_MAX_WORK:.0e})",
    )


def _selection_options(parser: argparse.ArgumentParser) -> None:
    """--case, --backend, --dtype: each may be given several times; none means all."""
    for option, metavar, what in (
        ("--case", "C", "case"),
        ("--backend", "B", "backend (`harness backends` lists them)"),
        ("--dtype", "D", "dtype (float32, float64)"),
    ):
        parser.add_argument(
            option,
            action="append",
            default=[],
            metavar=metavar,
            help=f"run this {what}; repeat the option for several (default: all)",
        )


SHOW_DEFAULT = ("numpy", "float64")
"""What `harness show` runs when not told: the float64 reference's own backend and dtype."""


def _runner_options(parser: argparse.ArgumentParser) -> None:
    from harness.runner import DEFAULT_TIMEOUT

    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit of one cell, make_step and compilation included (default: "
        f"{DEFAULT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--isolate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run each backend in its own worker process (default: on; --no-isolate runs "
        "in this process, for pdb, with no time limit)",
    )


def cmd_backends(args) -> int:
    """Each plugin is loaded and asked in its own worker: one that crashes is listed as such;
    a name two distributions register is listed once per distribution, with both."""
    from harness import plugins
    from harness.channel import text

    registered = plugins.registrations()
    unique = [name for name, entries in registered.items() if len(entries) == 1]
    with _runner(args) as runner:
        infos = {info.name: info for info in runner.survey(unique)}
    for name, entries in registered.items():
        if len(entries) > 1:
            for entry in entries:
                where = f"registered by {len(entries)} distributions; this one: {entry.describe()}"
                print(f"{name:<18} {'?':<18} {'?':<18} {'-':<12} error: {text(where)}")
            continue
        info = infos[name]
        version = f"{info.distribution or '?':<18} {info.version or '-':<12}"
        if info.error or info.fault:
            state = f"{info.fault or 'error'}: {info.error or info.reason}"
        else:
            state = "available" if info.available else f"unavailable: {info.reason}"
        print(f"{name:<18} {info.library:<18} {version} {state}")
        for warning in info.warnings:
            print(f"    warning: {warning}")
    return 0


def cmd_cases(args) -> int:
    cases, skipped = _load_cases(args.cases, args.max_work)
    for case in cases:
        runs = ", ".join(r.name for r in case.runs)
        kinds = sorted({r.task.kind for r in case.runs})
        summary = " ".join(case.description.split())
        print(f"{case.name:<24} {'/'.join(kinds):<14} runs: {runs}\n    {summary}")
    return 1 if skipped else 0


def cmd_run(args) -> int:
    from harness import plugins

    _check_json_target(args.json)
    cases, skipped = _load_cases(args.cases, args.max_work)
    cases = _select(cases, args.case, "case")
    names = _pick_backends(list(plugins.discover()), args.backend)
    dtypes = _pick(list(DTYPES), args.dtype, "dtype")
    try:
        with _runner(args) as runner:
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


def _runner(args):
    from harness.runner import CellRunner

    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    return CellRunner(
        isolate=args.isolate, jobs=args.jobs, timeout=args.timeout, scheduler=args.scheduler
    )


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

    case = _select(_load_cases(args.cases, args.max_work)[0], [args.case], "case")[0]
    if args.backend is None or args.dtype is None:
        args.backend, args.dtype = args.backend or SHOW_DEFAULT[0], args.dtype or SHOW_DEFAULT[1]
        print(
            f"harness show: on {args.backend} in {args.dtype} (choose with --backend, --dtype)",
            file=sys.stderr,
        )
    (name,) = _pick_backends(list(plugins.discover()), [args.backend])
    (dtype,) = _pick(list(DTYPES), [args.dtype], "dtype")
    try:
        with _runner(args) as runner:
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


def _load_cases(directory: Path | None, max_work: float):
    """The loadable cases within the work budget, and the files that were not (each named on
    stderr, in one line)."""
    from harness import budget, cases

    if directory is not None and not directory.is_dir():
        raise UsageError(f"--cases {directory}: not a directory")
    if not (math.isfinite(max_work) and max_work > 0):
        raise UsageError(f"--max-work {max_work:g}: must be a positive, finite amount of work")
    loaded, errors = cases.load_dir(directory, max_work)
    if not loaded and not errors:
        raise UsageError(f"--cases {directory}: no *.toml case files in it")
    loaded, refused = budget.split(loaded, max_work)
    errors = [*errors, *refused]
    for error in errors:
        print(f"harness: skipped case file: {error}", file=sys.stderr)
    return loaded, errors


def _select(cases, names: list[str], what: str):
    by_name = {c.name: c for c in cases}
    return [by_name[n] for n in _pick(list(by_name), names, what)]


def _pick_backends(registered: list[str], asked: list[str]) -> list[str]:
    """Like `_pick`; a name two distributions register is a usage error when asked for."""
    from harness import plugins

    chosen = _pick(registered, asked, "backend")
    duplicated = {n: e for n, e in plugins.registrations().items() if len(e) > 1}
    for name in asked:
        if name in duplicated:
            raise UsageError(plugins.duplicate_message(name, duplicated[name]))
    return chosen


def _pick(valid: list[str], asked: list[str], what: str) -> list[str]:
    """The asked-for names in order, or all of them; an unknown name is a usage error that
    suggests the closest valid one."""
    from harness.suggest import unknown

    for name in asked:
        if name not in valid:
            raise UsageError(unknown(what, name, valid))
    return list(dict.fromkeys(asked)) or valid


if __name__ == "__main__":
    sys.exit(main())
