"""Print a case's golden tables from the float64 reference, for cases no seed can supply.

    python -m harness.goldens CASE >> cases/CASE.toml
    python -m harness.goldens --cases DIR CASE >> DIR/CASE.toml

Used for golden values that the seeds printed from unseeded RNGs or not at all; a tensor that
already has a golden in the file is left out, so a second run appends nothing. These goldens
are snapshots of the harness's own output (`snapshot = true`): they anchor regressions but are
no independent check, so the suspect-golden diagnosis leaves them out; independent goldens
for the network's layers come from tools/torch_goldens.py. Each value is
written by repr (exact float64) and cross-checked against torch autograd in float64 when torch
is installed; the largest difference goes into the `source` line, so the file says how far an
independent autograd agreed when the golden was made. tests/test_goldens.py regenerates a
case's goldens this way and checks them against the stored ones.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

import numpy as np

from harness import cases, plugins
from harness.driver import execute
from harness.manual import REFERENCE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.goldens", description=__doc__)
    parser.add_argument("case", metavar="CASE")
    parser.add_argument(
        "--cases", type=Path, metavar="DIR", help="case directory (default: built-in)"
    )
    args = parser.parse_args(argv)
    path = (args.cases or cases.builtin_dir()) / f"{args.case}.toml"
    if not path.is_file():
        print(f"harness.goldens: error: no case file {path}", file=sys.stderr)
        return 2
    try:
        case = cases.load(path)
    except cases.CaseError as exc:
        print(f"harness.goldens: error: {exc}", file=sys.stderr)
        return 2
    check = _cross_check_backend()
    day = datetime.date.today().isoformat()
    for run in case.runs:
        tensors = _compute(REFERENCE, case, run)
        others = _compute(check, case, run) if check else {}
        for name, value in tensors.items():
            if name in run.golden:
                continue
            diff = float(np.max(np.abs(value - others[name]), initial=0.0)) if others else None
            agreed = f"; torch float64 autograd agreed to {diff:.1e}" if others else ""
            print(f"\n[golden.{_key(run.name)}.{name}]")
            print(f"value = {_toml(value)}")
            print('decimals = "repr"')
            print(f'source = "xp-harness float64 reference, {day}{agreed}"')
            print("snapshot = true")
    return 0


def _compute(backend, case, run) -> dict[str, np.ndarray]:
    step = backend.make_step(case.network, "float64")
    return execute(backend, case, run, "float64", step)


def _cross_check_backend():
    backend = plugins.load("torch") if "torch" in plugins.discover() else None
    return backend if backend and plugins.availability(backend).available else None


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else f'"{name}"'


def _toml(value: np.ndarray, indent: str = "") -> str:
    """A TOML array, four numbers a line, each nested level indented four more spaces."""
    inner = indent + "    "
    if value.ndim == 0:
        return repr(float(value))
    if value.ndim == 1 and value.size <= 4:
        return "[" + ", ".join(repr(float(v)) for v in value) + "]"
    if value.ndim == 1:
        lines = [value[i : i + 4] for i in range(0, value.size, 4)]
        body = ",\n".join(inner + ", ".join(repr(float(v)) for v in line) for line in lines)
        return "[\n" + body + ",\n" + indent + "]"
    rows = ",\n".join(inner + _toml(row, inner) for row in value)
    return "[\n" + rows + ",\n" + indent + "]"


if __name__ == "__main__":
    sys.exit(main())
