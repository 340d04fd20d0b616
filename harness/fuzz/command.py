"""The `harness fuzz` subcommand: drawn networks on chosen backends, disagreements kept as cases.

Standard library only at import (the `harness` parser is built from it); Hypothesis and the
rest load when the command runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import textwrap
from pathlib import Path

DEFAULT_EXAMPLES = 300
DEFAULT_OUT = Path("fuzz-cases")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from harness.runner import DEFAULT_TIMEOUT

    parser.add_argument(
        "--backend",
        action="append",
        default=[],
        required=True,
        metavar="B",
        help="a backend to test; repeat the option for several",
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=DEFAULT_EXAMPLES,
        metavar="N",
        help=f"examples to judge, those the screen leaves out not counted (default: "
        f"{DEFAULT_EXAMPLES})",
    )
    parser.add_argument(
        "--seed", type=int, default=0, metavar="S", help="Hypothesis's seed (default: 0)"
    )
    parser.add_argument(
        "--dtype",
        action="append",
        default=[],
        metavar="D",
        help="float32 or float64; repeat for both (default: both)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"where a disagreement's shrunk case file is written (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit of one cell (default: {DEFAULT_TIMEOUT:g})",
    )


def run(args) -> int:
    from harness.command_line import UsageError

    try:
        names, dtypes = _checked(args)
    except UsageError as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        message = "harness fuzz needs Hypothesis: pip install 'xp-harness[fuzz]'"
        print(f"harness: error: {message}", file=sys.stderr)
        return 2
    try:
        return _fuzz(args, names, dtypes)
    except KeyboardInterrupt:
        print("\nharness: interrupted", file=sys.stderr)
        return 130


def _checked(args) -> tuple[list[str], list[str]]:
    from harness import plugins
    from harness.command_line import UsageError, pick, pick_backends
    from harness.protocol import DTYPES

    if args.examples < 1:
        raise UsageError(f"--examples {args.examples}: must be at least 1")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed}: must be a non-negative integer")
    if not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout {args.timeout:g}: must be a positive number of seconds")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: is not a directory")
    names = pick_backends(list(plugins.discover()), args.backend)
    return names, pick(list(DTYPES), args.dtype, "dtype")


def _fuzz(args, names: list[str], dtypes: list[str]) -> int:
    from harness.fuzz.judge import Judge
    from harness.fuzz.search import search, stderr
    from harness.runner import CellRunner

    with (
        tempfile.TemporaryDirectory(prefix="xp-harness-fuzz-") as work,
        CellRunner(timeout=args.timeout) as runner,
    ):
        for info in runner.survey(names):
            if not info.available:
                stderr(f"{info.name}: every example skipped: {info.skip_reason()}")
            for dtype in sorted(set(dtypes) - set(info.dtypes)):
                stderr(f"{info.name}: {dtype} skipped: the backend does not support it")
        judge = Judge(runner, names, dtypes, Path(work))
        findings = search(judge, args.examples, args.seed, stderr)
        written = [_keep(runner, judge, finding, args) for finding in findings]
    counts = ", ".join(f"{n} {w}" for w, n in sorted(judge.counts.items()) if w != "files")
    where = f"{', '.join(names)} ({', '.join(dtypes)}), seed {args.seed}"
    shrunk = f", {judge.tries} more tried while shrinking" if judge.tries else ""
    print(f"\n{judge.judged} examples judged on {where}: {len(written)} disagreement(s){shrunk}")
    print(f"  {counts}")
    for path in written:
        print(f"  wrote {path}")
    return 1 if written else 0


def _keep(runner, judge, finding, args) -> Path:
    """Write the shrunk example to --out, run it as `harness run` would, and show the result."""
    from harness import report
    from harness.fuzz.example import depth, describe

    args.out.mkdir(parents=True, exist_ok=True)
    cell = finding.verdict.failures[0]
    # screened again in every dtype (shrinking screened the failing one); a dtype too
    # ill-conditioned to search in is kept with the tolerance it needs, and why
    final = judge(dataclasses.replace(finding.example, tolerance={}))
    kept = final.example if not final.rejected else finding.example
    example = dataclasses.replace(kept, tolerance={**kept.tolerance, **final.needed})
    name = f"fuzz-{finding.backend}-seed{args.seed}"
    options = f"--backend {finding.backend} --examples {args.examples} --seed {args.seed}"
    command = f"harness fuzz {options}"
    rows = example.x.shape[0]
    found = (
        f"Found by harness fuzz, seed {args.seed} (example {finding.found_at}): "
        f"{finding.backend} disagrees with the float64 reference in {finding.dtype}. "
        f"Shrunk to {_count(depth(example), 'layer')} and {_count(rows, 'row')}: "
        f"{describe(example)}."
    )
    description = textwrap.fill(found.replace("\\", "/").replace('"""', "'''"), 95)
    provenance = {
        "seed": "harness fuzz",
        "where": command,
        "printed": f"found by harness fuzz, seed {args.seed}; no goldens: every backend is "
        "judged against the float64 reference",
    }
    path = judge.write(example, args.out, name, description, provenance)
    cells = runner.cells([(path, finding.backend, finding.dtype)])
    cells += runner.cells([(path, "numpy", dtype) for dtype in judge.dtypes])
    print(f"\n{name}: {finding.backend} {finding.dtype} {cell.status}, {describe(example)}")
    print(report.header())
    for each in cells:
        print(report.table_row(each))
    if diverged := report.divergences(cells):
        print(diverged)
    return path


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
