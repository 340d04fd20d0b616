"""Golden values for a case file from torch.nn.functional, independent of the harness's network.

    python tools/torch_goldens.py CASE >> cases/CASE.toml
    python tools/torch_goldens.py --cases DIR CASE >> DIR/CASE.toml

The model is rebuilt from the case file's `[model]` table by tools/torch_reference.py (torch
functions, torch autograd, torch.optim), in float64. Only the case's data comes through the
harness (`harness.cases.load`: its arrays, runs and task settings); minibatches and dropout
masks follow the rule cases/README.md documents, drawn here. A tensor that already has a
golden is left out, so a second run appends nothing. Each value is written by repr, with
its source; these goldens are independent (no `snapshot = true`), so the suspect-golden
diagnosis judges them.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import sys
import tomllib
from pathlib import Path

import numpy as np
import torch

from harness import cases
from harness.goldens import _key, _toml

_SPEC = importlib.util.spec_from_file_location(
    "torch_reference", Path(__file__).with_name("torch_reference.py")
)
reference = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(reference)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/torch_goldens.py", description=__doc__)
    parser.add_argument("case", metavar="CASE")
    parser.add_argument("--cases", type=Path, metavar="DIR", help="default: built-in")
    args = parser.parse_args(argv)
    path = (args.cases or cases.builtin_dir()) / f"{args.case}.toml"
    try:
        case = cases.load(path)
    except cases.CaseError as exc:
        print(f"torch_goldens: error: {exc}", file=sys.stderr)
        return 2
    model = tomllib.loads(path.read_text())["model"]
    source = (
        f"torch.nn.functional float64 (tools/torch_goldens.py, torch {torch.__version__}), "
        f"{datetime.date.today().isoformat()}"
    )
    for run in case.runs:
        for name, value in compute(model, case.params, run).items():
            if name not in run.golden:
                print(f"\n[golden.{_key(run.name)}.{name}]")
                print(f"value = {_toml(value)}")
                print('decimals = "repr"')
                print(f'source = "{source}"')
    return 0


def compute(model: dict, params: dict, run) -> dict[str, np.ndarray]:
    """Every tensor the run's task names, from torch."""
    task = run.task
    rng = np.random.default_rng(task.dropout_seed)
    network = reference.Model(model["layers"], model["loss"], rng)
    if task.kind != "train":
        loss, output, grads = reference.step(network, params, {"x": run.x, "y": run.y})
        if task.kind == "forward":
            return {"output": output}
        return {"output": output, "loss": loss, **{f"grad.{k}": g for k, g in grads.items()}}
    optimizer = None
    if task.optimizer is not None:
        optimizer = {"type": type(task.optimizer).__name__.lower(), **task.optimizer._asdict()}
    losses, final = reference.train(
        network, params, minibatches(run), lr=task.lr, optimizer=optimizer
    )
    return {"step_losses": losses, **{f"final.{k}": v for k, v in final.items()}}


def minibatches(run):
    """Rows in order, `batch_size` at a time (all at once by default), `epochs` times."""
    rows = run.x.shape[0]
    size = run.task.batch_size or rows
    for _ in range(run.task.epochs):
        for start in range(0, rows, size):
            yield {"x": run.x[start : start + size], "y": run.y[start : start + size]}


if __name__ == "__main__":
    sys.exit(main())
