"""The `harness repro` subcommand: write a case's standalone reproducer for one backend.

Everything runs here in the coordinator on NumPy: the case is loaded, the float64 reference
computed, the network traced. The backend's plugin is not imported here: a built-in
backend is described by `plugins.BUILTIN`, any other by its own worker.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from harness.protocol import DTYPES

DEFAULT_DTYPE = "float32"


class _Bad(Exception):
    """Bad input: one line, exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("case", metavar="CASE", help="a registry case name, or a case file")
    parser.add_argument(
        "--backend",
        required=True,
        metavar="B",
        help="the backend whose library and strategy the script uses (`harness backends`)",
    )
    parser.add_argument(
        "--dtype",
        metavar="D",
        help=f"float32 or float64 (default: {DEFAULT_DTYPE}; said on stderr when not given)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="write the script here (a large case's data goes to FILE's .npz beside it); "
        "default: standard output",
    )
    parser.add_argument(
        "--cases", type=Path, metavar="DIR", help="where CASE is looked up (default: built-in)"
    )


def run(args) -> int:
    try:
        return _run(args)
    except _Bad as exc:
        print(f"harness: error: {exc}", file=sys.stderr)
        return 2


def _run(args) -> int:
    from harness.matrix import Reference
    from harness.repro import libraries, script

    told = args.dtype is not None
    args.dtype = args.dtype or DEFAULT_DTYPE
    if args.dtype not in DTYPES:
        raise _Bad(_unknown("dtype", args.dtype, DTYPES))
    _check_out(args.out)
    case = _case(args.case, args.cases)
    backend = _describe(args.backend)
    if args.dtype not in backend.dtypes:
        raise _Bad(f"backend {backend.name!r} does not run {args.dtype}")
    try:
        libraries.library_of(backend)
    except libraries.NoGenerator as exc:
        raise _Bad(str(exc)) from None
    if not told:
        print(f"harness repro: in {args.dtype} (choose with --dtype)", file=sys.stderr)
    reference = Reference()
    expected = {run.name: reference.get(case, run.name).tensors for run in case.runs}
    npz = args.out.with_suffix(".npz").name if args.out else ""
    command = shlex.join(["harness", "repro", args.case, "--backend", args.backend,
                          "--dtype", args.dtype])  # fmt: skip
    written = script.build(case, backend, args.dtype, expected, command, npz)
    if args.out is None:
        sys.stdout.write(written.text)
        return 0
    _write(args.out, written)
    return 0


def _write(out: Path, written) -> None:
    import io

    import numpy as np

    from harness import atomic

    if written.arrays:
        buffer = io.BytesIO()
        np.savez(buffer, **written.arrays)
        data = out.with_suffix(".npz")
        data.write_bytes(buffer.getvalue())
    atomic.write_text(out, written.text)
    extra = f" and {out.with_suffix('.npz')}" if written.arrays else ""
    print(f"wrote {out}{extra}; run it with: python {shlex.quote(str(out))}")


def _check_out(path: Path | None) -> None:
    """--out names a file to (re)write in a writable directory that exists."""
    if path is None:
        return
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise _Bad(f"--out {path}: not a regular file; name a file to write")
    if path.suffix == ".npz":
        raise _Bad(f"--out {path}: name the script (.py); its data goes beside it")
    if not path.parent.is_dir():
        raise _Bad(f"--out {path}: directory {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise _Bad(f"--out {path}: not writable")


def _case(name: str, directory: Path | None):
    """A case file by path, or by name in DIR (default: the built-in registry)."""
    from harness import cases

    path = Path(name)
    if name.endswith(".toml") or path.is_file():
        if not path.is_file():
            raise _Bad(f"case file {name}: no such file")
    else:
        if directory is not None and not directory.is_dir():
            raise _Bad(f"--cases {directory}: not a directory")
        folder = directory or cases.builtin_dir()
        known = sorted(p.stem for p in folder.glob("*.toml"))
        if name not in known:
            raise _Bad(_unknown("case", name, known))
        path = folder / f"{name}.toml"
    try:
        return cases.load(path)
    except cases.CaseError as exc:
        raise _Bad(str(exc)) from None


def _describe(name: str):
    """(library, strategy, dtypes) of a registered backend: the built-in table for our
    own, the plugin's worker for any other (no plugin code runs in this process)."""
    from harness import plugins
    from harness.repro.libraries import Description

    registered = plugins.registrations()
    if name not in registered:
        raise _Bad(_unknown("backend", name, list(registered)))
    entries = registered[name]
    if len(entries) > 1:
        raise _Bad(plugins.duplicate_message(name, entries))
    if name in plugins.BUILTIN and entries[0].distribution == "xp-harness":
        library, strategy = plugins.BUILTIN[name]
        return Description(name, library, strategy)
    from harness.runner import CellRunner

    with CellRunner(jobs=1) as runner:
        info = runner.describe(name)
    if info.error or info.fault:
        raise _Bad(f"backend {name!r}: {info.error or info.reason}")
    return Description(name, info.library, info.strategy, tuple(info.dtypes))


def _unknown(what: str, name: str, valid) -> str:
    from harness.suggest import unknown

    return unknown(what, name, valid)
