"""What the `harness` commands share: their options, how a bad one is said (one line, exit
status 2), and how cases, backends and dtypes are chosen."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit status 2."""


def cases_option(parser: argparse.ArgumentParser) -> None:
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


def selection_options(parser: argparse.ArgumentParser) -> None:
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


def runner_options(parser: argparse.ArgumentParser) -> None:
    from harness.runner import DEFAULT_TIMEOUT, SLOW_TIMEOUT

    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help=f"time limit of one cell, make_step and compilation included (default: "
        f"{DEFAULT_TIMEOUT:g}; {SLOW_TIMEOUT:g} for a backend declared slow, e.g. torch-compile)",
    )
    parser.add_argument(
        "--isolate",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run each backend in its own worker process (default: on; --no-isolate runs "
        "in this process, for pdb, with no time limit)",
    )


def make_runner(args):
    from harness.runner import CellRunner

    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: must be at least 1")
    return CellRunner(
        isolate=args.isolate, jobs=args.jobs, timeout=args.timeout, scheduler=args.scheduler
    )


def load_cases(directory: Path | None, max_work: float):
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


def select(cases, names: list[str], what: str):
    by_name = {c.name: c for c in cases}
    return [by_name[n] for n in pick(list(by_name), names, what)]


def pick_backends(registered: list[str], asked: list[str]) -> list[str]:
    """Like `_pick`; a name two distributions register is a usage error when asked for."""
    from harness import plugins

    chosen = pick(registered, asked, "backend")
    duplicated = {n: e for n, e in plugins.registrations().items() if len(e) > 1}
    for name in asked:
        if name in duplicated:
            raise UsageError(plugins.duplicate_message(name, duplicated[name]))
    return chosen


def pick(valid: list[str], asked: list[str], what: str) -> list[str]:
    """The asked-for names in order, or all of them; an unknown name is a usage error that
    suggests the closest valid one."""
    from harness.suggest import unknown

    for name in asked:
        if name not in valid:
            raise UsageError(unknown(what, name, valid))
    return list(dict.fromkeys(asked)) or valid
