"""The `harness report` subcommand: one HTML page from the JSON of one or more runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "runs",
        nargs="+",
        type=Path,
        metavar="RUN.json",
        help="a run's JSON (harness run --json) or a scoreboard's (board.json); given two or "
        "more, the page shows the last first, each with what changed since the one before",
    )
    parser.add_argument(
        "--html",
        type=Path,
        required=True,
        metavar="OUT.html",
        help="write the page here: one file, inline style and script, nothing fetched",
    )


def run(args) -> int:
    from harness import atomic
    from harness.page import model, render

    if not args.html.parent.is_dir():
        where = f"--html {args.html}: no directory {args.html.parent}"
        print(f"harness: error: {where}", file=sys.stderr)
        return 2
    try:
        results = [model.load(path) for path in args.runs]
    except model.NotAResult as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    atomic.write_text(args.html, render.page(results))
    print(f"wrote {args.html}")
    return 0
