"""The `harness bench` subcommand: its options, and running the suite then the report."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from harness.bench import compare, saved
from harness.bench.results import SIZE_ORDER as SIZES

DTYPES = ("float32", "float64")
KINDS = ("step", "grid", "gemm", "train", "compile", "rival")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--backend",
        action="append",
        default=[],
        metavar="B",
        help="harness backend or rival (keras-jax, keras-torch); default: all. "
        "The native code of each chosen backend's library always runs.",
    )
    parser.add_argument("--size", action="append", default=[], choices=SIZES)
    parser.add_argument("--dtype", action="append", default=[], choices=DTYPES)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="homework and medium sizes, few rounds, no torch.compile: a smoke run",
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument(
        "--kind",
        action="append",
        default=[],
        choices=KINDS,
        help="time only these kinds of benchmark (default: all): the step, the shape grid, "
        "the GEMM rate, the training loop, compile time, the Keras rival",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench/results"),
        metavar="DIR",
        help="where the JSON, report.md and plots go (default: bench/results)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="run nothing: render the report of an earlier merged JSON",
    )
    parser.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        help="step time and harness/native ratio per backend, size and dtype, regressions "
        "beyond the measured noise and --threshold flagged (exit 1 if any). `--compare OLD "
        "NEW` runs nothing and compares two runs; `--compare OLD` runs the suite and compares "
        "the new run with OLD. A RUN is a JSON path, a saved run's number, or `last`, the "
        "newest saved run (taken before this run is saved)",
    )
    parser.add_argument(
        "--autosave",
        action="store_true",
        help="save this run's JSON in --storage as the next numbered run, for --compare",
    )
    parser.add_argument(
        "--storage",
        type=Path,
        default=saved.STORAGE,
        metavar="DIR",
        help=f"where --autosave keeps runs and --compare finds them (default: {saved.STORAGE})",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=compare.NOISE_FLOOR * 100,
        metavar="PCT",
        help="the smallest change --compare flags, in percent, whatever the measured noise "
        f"(default: {compare.NOISE_FLOOR * 100:g})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        metavar="N",
        help="threads each library is told to use (torch.set_num_threads, OMP/OpenBLAS/MKL "
        "env) in the main series; a full run adds a 1-thread series at homework size "
        "(default: the machine's cores)",
    )


def run(args) -> int:
    from harness.bench import results, runner

    try:
        baseline = _baseline(args)
    except (saved.NoSuchRun, ValueError) as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2
    if isinstance(baseline, tuple):  # two runs given: compare them, run nothing
        return _compare(*baseline, args.threshold)
    unknown = [b for b in args.backend if b not in runner.known_names()]
    if unknown:
        from harness.suggest import unknown as unknown_name

        print(
            f"harness: error: {unknown_name('backend', unknown[0], runner.known_names())}",
            file=sys.stderr,
        )
        return 2
    if missing := _missing_tools(render_only=bool(args.render)):
        print(
            f"harness: error: harness bench needs {', '.join(missing)}: "
            'pip install -c constraints.txt -e ".[bench-core]"',
            file=sys.stderr,
        )
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    if args.render:
        return _render(results.load(args.render), args.out)
    failed, merged = _run_all(args)
    _render(results.load(merged), args.out)
    if args.autosave:
        print(f"saved {saved.save(merged, args.storage)}")
    regressed = baseline is not None and _compare(baseline, merged, args.threshold) != 0
    return 1 if failed or regressed else 0


def _baseline(args) -> tuple[Path, Path] | Path | None:
    """What --compare names, resolved before this run is saved (so `last` is the one before)."""
    if args.threshold < 0:
        raise ValueError(f"--threshold {args.threshold:g}: must be a percentage, 0 or more")
    if not args.compare:
        return None
    if len(args.compare) > 2:
        raise ValueError(f"--compare takes one run or two, not {len(args.compare)}")
    found = [saved.resolve(reference, args.storage) for reference in args.compare]
    return (found[0], found[1]) if len(found) == 2 else found[0]


def _run_all(args) -> tuple[list[str], Path]:
    from harness.bench import progress, results, runner

    options = {
        "backends": args.backend,
        "sizes": args.size,
        "dtypes": args.dtype,
        "quick": args.quick,
        "device": args.device,
        "kinds": args.kind,
    }
    bar, parts, failed, groups = progress.Progress(), [], [], {}
    planned = runner.plan(args.backend)
    for group in planned:
        group.threads = args.threads
    wants_steps = not args.kind or "step" in args.kind
    if not args.quick and wants_steps and (not args.size or "homework" in args.size):
        planned += runner.single_thread(planned)
    try:
        for group in planned:
            groups[group.name] = {
                "backends": group.backends,
                "skipped": group.skipped,
                "threads": group.threads,
            }
            if group.skipped:
                bar.note(f"{group.name}: skipped ({group.skipped})")
                continue
            ok, part = runner.run_group(group, options, args.out, bar)
            parts += [part] if part else []
            failed += [] if ok else [group.name]
    finally:
        bar.close()
    skipped = [f"{lib}: {why}" for lib, g in groups.items() if (why := g["skipped"])]
    merged = results.merge(parts, args.out / "bench.json", groups, skipped + bar.skipped)
    print(f"wrote {merged} ({len(bar.skipped)} benchmarks skipped, listed in the report)")
    return failed, merged


def _compare(old: Path, new: Path, threshold: float) -> int:
    from harness.bench import results

    floor = threshold / 100
    changes = compare.changes(results.load(old), results.load(new), floor)
    print(compare.report(changes, old, new, floor))
    return 1 if any(c.regressed for c in changes) else 0


def _render(data, out: Path) -> int:
    from harness.bench import tables

    text = tables.report(data)
    (out / "report.md").write_text(text)
    print(text)
    try:
        from harness.bench import plots

        written = plots.write_all(data, out)
    except ImportError as exc:
        print(f"no plots: {exc} (pip install matplotlib)", file=sys.stderr)
    else:
        print("wrote " + ", ".join(str(p) for p in [out / "report.md", *written]))
    return 0


def _missing_tools(render_only: bool) -> list[str]:
    """The bench extra's packages that are not installed (rendering needs only matplotlib)."""
    import importlib.util

    needed = ("matplotlib",) if render_only else ("pytest_benchmark", "matplotlib", "tqdm")
    return [name for name in needed if importlib.util.find_spec(name) is None]
