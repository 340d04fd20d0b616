"""Print a case's golden tables from the float64 reference, for cases no seed can supply.

    python -m harness.goldens CASE >> cases/CASE.toml

Used for golden values that the seeds printed from unseeded RNGs or not at all; a tensor that
already has a golden in the file is left out, so a second run appends nothing. Each value is
written by repr (exact float64) and cross-checked against torch autograd in float64 when torch
is installed; the largest difference goes into the `source` line, so the file says how far an
independent autograd agreed when the golden was made. Never run by the tests.
"""

from __future__ import annotations

import argparse
import datetime

import numpy as np

from harness import cases, plugins
from harness.manual import REFERENCE
from harness.tasks import execute


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.goldens")
    parser.add_argument("case")
    args = parser.parse_args(argv)
    case = cases.load(cases.builtin_dir() / f"{args.case}.toml")
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


def _compute(backend, case, run) -> dict[str, np.ndarray]:
    step = backend.make_step(case.network, "float64")
    return execute(backend, case, run, "float64", step).tensors


def _cross_check_backend():
    backend = plugins.load("torch") if "torch" in plugins.discover() else None
    return backend if backend and plugins.availability(backend).available else None


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else f'"{name}"'


def _toml(value: np.ndarray) -> str:
    if value.ndim == 0:
        return repr(float(value))
    if value.ndim == 1 and value.size <= 4:
        return "[" + ", ".join(repr(float(v)) for v in value) + "]"
    if value.ndim == 1:
        lines = [value[i : i + 4] for i in range(0, value.size, 4)]
        body = ",\n".join("    " + ", ".join(repr(float(v)) for v in line) for line in lines)
        return "[\n" + body + ",\n]"
    rows = ",\n".join("    " + _toml(row) for row in value)
    return "[\n" + rows + ",\n]"


if __name__ == "__main__":
    main()
