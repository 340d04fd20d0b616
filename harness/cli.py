"""The `harness` command: list backends and cases, run the matrix, show one cell."""

from __future__ import annotations

import argparse
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
    p.set_defaults(command=cmd_backends)

    p = sub.add_parser("cases", help="list the case registry")
    _cases_option(p)
    p.set_defaults(command=cmd_cases)

    p = sub.add_parser("run", help="run cases x backends x dtypes and compare")
    _cases_option(p)
    p.add_argument("--case", action="append", default=[], metavar="C")
    p.add_argument("--backend", action="append", default=[], metavar="B")
    p.add_argument("--dtype", action="append", default=[], metavar="D")
    p.add_argument("--json", type=Path, metavar="PATH", help="write one record per cell")
    p.add_argument(
        "--gradcheck",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also compare manual, autograd and finite-difference gradients (default: on)",
    )
    p.set_defaults(command=cmd_run)

    p = sub.add_parser("show", help="print one cell's computed tensors, seed-style")
    _cases_option(p)
    p.add_argument("case", metavar="CASE")
    p.add_argument("--backend", default="numpy", metavar="B")
    p.add_argument("--dtype", default="float64", metavar="D")
    p.set_defaults(command=cmd_show)

    from harness.bench import command as bench  # standard library only; the rest loads on run

    p = sub.add_parser("bench", help="time every backend against native code and Keras")
    bench.add_arguments(p)
    p.set_defaults(command=bench.run)
    return parser


def _cases_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cases", type=Path, metavar="DIR", help="case directory (default: built-in)"
    )


def cmd_backends(args) -> int:
    from harness import plugins

    for name in plugins.discover():
        backend = plugins.load(name)
        status = plugins.availability(backend)
        state = "available" if status.available else f"unavailable: {status.reason}"
        version = status.version or "-"
        print(f"{name:<18} {backend.library:<18} {version:<14} {state}")
    return 0


def cmd_cases(args) -> int:
    cases, skipped = _load_cases(args.cases)
    for case in cases:
        runs = ", ".join(r.name for r in case.runs)
        kinds = sorted({r.task.kind for r in case.runs})
        summary = " ".join(case.description.split())
        print(f"{case.name:<24} {'/'.join(kinds):<14} runs: {runs}\n    {summary}")
    return 1 if skipped else 0


def cmd_run(args) -> int:
    from harness import matrix, plugins, report

    if args.json and not args.json.parent.is_dir():
        raise UsageError(f"--json {args.json}: directory {args.json.parent} does not exist")

    cases, skipped = _load_cases(args.cases)
    cases = _select(cases, args.case, "case")
    backends = [plugins.load(n) for n in _pick(list(plugins.discover()), args.backend, "backend")]
    dtypes = _pick(list(DTYPES), args.dtype, "dtype")
    print(report.header(), flush=True)
    show_row = lambda cell: print(report.table_row(cell), flush=True)  # noqa: E731
    cells = matrix.run_matrix(cases, backends, dtypes, show_row)
    print(report.summary(cells))
    if skipped:
        print(f"{len(skipped)} case file(s) skipped, not run (reasons above, on stderr)")
    if diagnosed := report.divergences(cells):
        print(f"\n{diagnosed}")
    checks = _gradcheck(cases, backends, dtypes) if args.gradcheck else []
    if args.json:
        meta = {"harness": __version__, "backends": _versions(backends)}
        meta["gradcheck"] = [check.as_record() for check in checks]
        meta["skipped_case_files"] = [str(error) for error in skipped]
        report.write_json(args.json, cells, meta)
        print(f"wrote {args.json}")
    failed = skipped or any(c.status in ("fail", "error") for c in cells)
    return 1 if failed or any(c.status in ("disagree", "error") for c in checks) else 0


def _gradcheck(cases, backends, dtypes):
    """Print the three-way check as its rows arrive; return them."""
    from harness import gradcheck, plugins, report

    if all(run.task.kind == "forward" for case in cases for run in case.runs):
        return []
    registered = [plugins.load(name) for name in plugins.discover()]
    pairings = gradcheck.pairings(backends, registered)
    print(f"\n{report.gradcheck_header()}", flush=True)

    def show(check) -> None:
        print(report.gradcheck_row(check), flush=True)

    return gradcheck.run_checks(cases, pairings, dtypes, show)


def cmd_show(args) -> int:
    from harness import matrix, plugins, report

    case = _select(_load_cases(args.cases)[0], [args.case], "case")[0]
    (name,) = _pick(list(plugins.discover()), [args.backend], "backend")
    (dtype,) = _pick(list(DTYPES), [args.dtype], "dtype")
    cell = matrix.run_cell(case, plugins.load(name), dtype, matrix.Reference())
    for run in case.runs:
        print(f"{name} {dtype} : {run.name} {'-' * 48}\n")
        for tensor, value in getattr(cell.outcomes.get(run.name), "tensors", {}).items():
            print(report.seed_style(tensor, value) + "\n")
    print(f"status: {cell.status}" + (f"  {cell.message}" if cell.message else ""))
    for comparison in cell.comparisons:
        print(f"  {comparison.describe()}")
    if cell.diagnosis:
        print(cell.diagnosis.describe())
    return 1 if cell.status in ("fail", "error") else 0


def _load_cases(directory: Path | None):
    """The loadable cases, and the files that were not (each named on stderr, in one line)."""
    from harness import cases

    if directory is not None and not directory.is_dir():
        raise UsageError(f"--cases {directory}: not a directory")
    loaded, errors = cases.load_dir(directory)
    if not loaded and not errors:
        raise UsageError(f"--cases {directory}: no *.toml case files in it")
    for error in errors:
        print(f"harness: skipped case file: {error}", file=sys.stderr)
    return loaded, errors


def _select(cases, names: list[str], what: str):
    by_name = {c.name: c for c in cases}
    return [by_name[n] for n in _pick(list(by_name), names, what)]


def _pick(valid: list[str], asked: list[str], what: str) -> list[str]:
    """The asked-for names in order, or all of them; an unknown name is a usage error."""
    for name in asked:
        if name not in valid:
            raise UsageError(f"unknown {what} {name!r}; valid: {', '.join(valid)}")
    return list(dict.fromkeys(asked)) or valid


def _versions(backends) -> dict[str, str]:
    from harness import plugins

    return {b.name: plugins.availability(b).version for b in backends}


if __name__ == "__main__":
    sys.exit(main())
