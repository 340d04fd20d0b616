"""The `harness` command: list backends and cases, run the matrix, show one cell."""

from __future__ import annotations

import argparse
import importlib
import sys

from harness import __version__, run_command
from harness.command_line import (
    UsageError,
    cases_option,
    load_cases,
    make_runner,
    runner_options,
)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2


COMMAND_MODULES = (
    ("bench", "harness.bench.command", "time every backend against native code and Keras"),
    ("report", "harness.page.command", "one HTML page of one or more runs' JSON, and what changed"),
    ("repro", "harness.repro.command", "write a standalone script that reproduces a case's step"),
    ("fuzz", "harness.fuzz.command", "drawn networks on chosen backends; disagreements as cases"),
)
"""Commands in modules of their own, each with `add_arguments(parser)` and `run(args)`."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description=__doc__)
    parser.add_argument("--version", action="version", version=f"xp-harness {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("backends", help="list backends: version, available or not, and why")
    runner_options(p)
    p.set_defaults(command=cmd_backends, jobs=None, scheduler=None)

    p = sub.add_parser("cases", help="list the case registry")
    cases_option(p)
    p.set_defaults(command=cmd_cases)

    p = sub.add_parser("run", help="run cases x backends x dtypes and compare")
    run_command.add_run_arguments(p)

    p = sub.add_parser("show", help="print one cell's computed tensors, seed-style")
    run_command.add_show_arguments(p)

    for name, module, what in COMMAND_MODULES:
        command = importlib.import_module(module)  # standard library only; the rest loads on run
        p = sub.add_parser(name, help=what)
        command.add_arguments(p)
        p.set_defaults(command=command.run)
    return parser


def cmd_backends(args) -> int:
    """Each plugin is loaded and asked in its own worker: one that crashes is listed as such;
    a name two distributions register is listed once per distribution, with both."""
    from harness import plugins
    from harness.channel import text

    registered = plugins.registrations()
    unique = [name for name, entries in registered.items() if len(entries) == 1]
    with make_runner(args) as runner:
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
    cases, skipped = load_cases(args.cases, args.max_work)
    for case in cases:
        runs = ", ".join(r.name for r in case.runs)
        kinds = sorted({r.task.kind for r in case.runs})
        summary = " ".join(case.description.split())
        print(f"{case.name:<24} {'/'.join(kinds):<14} runs: {runs}\n    {summary}")
    return 1 if skipped else 0


if __name__ == "__main__":
    sys.exit(main())
