"""Write a reproducer: one standalone Python script for one case, backend library and dtype.

The script holds the case's data (parameters, each run's x and y, the dropout masks the
harness draws for each step), the step as straight-line code in the library's own calls
(`harness.codegen`, one function per batch shape), the optimizer's rule copied from
`harness.optimizers`, the float64 reference values the harness computed for every tensor,
the tolerance, and the comparison (`harness.repro.runtime`). It imports NumPy and the
library, nothing else.
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from harness import __version__
from harness.codegen import emit, trace_manual, trace_objective
from harness.repro import runtime
from harness.repro.libraries import Description, library_of
from harness.repro.literals import INLINE_LIMIT, Arrays, count
from harness.tasks import batches

ALIASES = {"numpy": "np", "array-api-strict": "xp", "torch": "torch", "jax": "jnp"}
IMPORTS = {
    "numpy": (),
    "array-api-strict": ("import array_api_strict as xp",),
    "torch": ("import torch",),
    "jax": ("import jax", "import jax.numpy as jnp"),
}


@dataclass
class Script:
    text: str
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    """What goes in the .npz beside the script (empty: everything is inline)."""


def steps_of(network, run) -> list[tuple[tuple[int, int], dict[str, np.ndarray]]]:
    """((start, stop), masks) for each step of a run, checked against the harness's own
    batches (harness.tasks), which draw the masks."""
    task, rows = run.task, run.x.shape[0]
    size = (task.batch_size if task.kind == "train" else None) or rows
    epochs = task.epochs if task.kind == "train" else 1
    spans = [(s, min(s + size, rows)) for _ in range(epochs) for s in range(0, rows, size)]
    found = []
    for (start, stop), batch in zip(spans, batches(network, run), strict=True):
        if not np.array_equal(batch["x"], run.x[start:stop]):
            raise AssertionError(f"run {run.name}: rows {start}:{stop} are not the harness's")
        found.append(((start, stop), {k: v for k, v in batch.items() if k not in ("x", "y")}))
    return found


def build(case, backend: Description, dtype: str, reference, command: str, npz: str = ""):
    """The script (and its .npz arrays when `npz`, the .npz's file name, is given and the
    data is too large to inline). `reference`: {run name: {tensor: float64 value}}."""
    library, wrap = library_of(backend)
    steps = {run.name: steps_of(case.network, run) for run in case.runs}
    data = [case.params.values(), *(reference[r.name].values() for r in case.runs)]
    numbers = count(a for group in data for a in group) + sum(r.x.size for r in case.runs)
    arrays = Arrays(inline=not npz or numbers <= INLINE_LIMIT)
    manual = backend.strategy == "manual"
    shapes = {
        (stop - start, *r.x.shape[1:]) for r in case.runs for (start, stop), _ in steps[r.name]
    }
    functions, table = [], []
    for shape in sorted(shapes):
        trace = trace_manual if manual else trace_objective
        name = f"{'step' if manual else 'objective'}_{'x'.join(map(str, shape))}"
        functions.append(emit(trace(case.network, shape, dtype), library.target, name))
        table.append(f"    {shape!r}: {wrap.format(f=name)},")
    alias = ALIASES[library.target]
    optimizers = sorted({type(r.task.rule) for r in case.runs if r.task.kind == "train"}, key=str)
    imports = ["import math", "import sys"] if optimizers else ["import sys"]
    imports += ["from pathlib import Path"] if not arrays.inline else []
    imports += ["from typing import NamedTuple"] if optimizers else []
    settings = [f"DTYPE = {dtype!r}", f"TITLE = {_title(case, backend, dtype)!r}"]
    settings += [f"RTOL = {case.tolerance_for(dtype).rtol!r}"]
    settings += [f"ATOL = {case.tolerance_for(dtype).atol!r}"]
    if not arrays.inline:
        settings.append(f'DATA = np.load(Path(__file__).with_name("{npz}"))')
    parts = [
        _docstring(case, backend, dtype, command),
        "from __future__ import annotations",
        "\n".join(imports) + "\n\n" + "\n".join(("import numpy as np", *IMPORTS[library.target])),
        "\n".join(library.float64) if dtype == "float64" else "",
        "\n".join(settings),
        _section("the step, in the order the harness's network computes it, per batch shape"),
        *functions,
        "" if manual else library.helpers.strip(),
        "STEPS = {\n" + "\n".join(table) + "\n}",
        _conversions(library, dtype),
    ]
    if optimizers:
        parts.append(_section("the update, copied from harness.optimizers"))
        parts += [inspect.getsource(kind) for kind in optimizers]
    parts.append(_section("the case's data, and the float64 reference values"))
    parts.append(f"PARAMS = {_mapping(case.params, 'params', arrays)}")
    parts.append(f"RUNS = {_runs(case, steps, alias, arrays)}")
    expected = {f"{r.name}/{k}": v for r in case.runs for k, v in reference[r.name].items()}
    parts.append(f"EXPECTED = {_mapping(expected, 'expected', arrays)}")
    parts.append(_section("running and comparing, as the harness does"))
    parts += [inspect.getsource(function) for function in runtime.EMBEDDED]
    parts.append(MAIN)
    return Script(_join(part.strip("\n") for part in parts if part), arrays.stored)


def _join(parts) -> str:
    """Two blank lines around definitions and sections, one between other statements."""
    text, before = "", None
    for part in parts:
        if before is not None:
            wide = part.startswith(("def ", "class ", "# --")) or before.startswith(
                ("def ", "class ")
            )
            text += "\n\n\n" if wide and not before.startswith("# --") else "\n\n"
        text, before = text + part, part
    return text + "\n"


MAIN = """def main():
    computed = run_case(RUNS, PARAMS, STEPS, array, host)
    return report(computed, EXPECTED, RTOL, ATOL, TITLE)


if __name__ == "__main__":
    sys.exit(main())"""


def _title(case, backend: Description, dtype: str) -> str:
    how = (
        backend.strategy
        if backend.execution == "eager"
        else f"{backend.strategy}, {backend.execution}"
    )
    return f"{case.name} on {backend.name} ({backend.library} {how}), {dtype}"


def _section(text: str) -> str:
    return f"# -- {text} " + "-" * max(3, 95 - len(text))


def _docstring(case, backend: Description, dtype: str, command: str) -> str:
    library = backend.library
    how = {
        "manual": "the forward and the hand-written backward, written out",
        "autograd": f"the forward and loss written out, differentiated by {library}'s autograd",
    }[backend.strategy]
    kinds = ", ".join(sorted({r.task.kind for r in case.runs}))
    layers = ", ".join(case.network.label(i) for i in range(len(case.network.layers)))
    description = " ".join(case.description.split())
    paragraphs = [
        f"Written by `{command}` (xp-harness {__version__}), {datetime.now(UTC):%Y-%m-%d %H:%M}"
        f" UTC. Needs NumPy and {library} only, not the harness.",
        f"It computes the case's runs ({kinds}) with {library}'s own operations: {how}, in the"
        " order the harness's network computes them, one straight-line function per batch"
        " shape. Every tensor is compared with the float64 value the harness's NumPy reference"
        " computed when this script was written (embedded below), by the harness's tolerance"
        f" for {dtype} on this case. Exit status 0: every tensor agrees; 1: one or more do not"
        " (the worst is printed, with the index of its worst element).",
        f"Case {case.name}: {description}",
        f"Layers: {layers}; loss: {case.network.loss.kind}.",
    ]
    body = "\n\n".join(textwrap.fill(p, 92) for p in paragraphs)
    return f'"""Reproducer: {_title(case, backend, dtype)}.\n\n{body}\n"""'


def _conversions(library, dtype: str) -> str:
    return (
        "def array(value):\n"
        '    """NumPy data as the library\'s arrays: token ids as integers, the rest in DTYPE."""\n'
        '    if value.dtype.kind in "iu":\n'
        f"        return {library.ids}\n"
        f"    return {library.floats.format(dtype=dtype)}\n\n\n"
        "def host(value):\n"
        f"    return {library.host}"
    )


def _mapping(values, group: str, arrays: Arrays, indent: int = 0) -> str:
    pad = " " * (indent + 4)
    items = [f"{pad}{k!r}: {arrays(f'{group}/{k}', v, indent + 4)}," for k, v in values.items()]
    return "{\n" + "\n".join(items) + "\n" + " " * indent + "}"


def _runs(case, steps, alias: str, arrays: Arrays) -> str:
    """One dict per run: name, task, optimizer and namespace (training), x, y, and each
    step's rows and dropout masks."""
    out = []
    for run in case.runs:
        lines = [f"        'name': {run.name!r},", f"        'task': {run.task.kind!r},"]
        if run.task.kind == "train":
            lines += [f"        'optimizer': {run.task.rule!r},", f"        'xp': {alias},"]
        lines.append(f"        'x': {arrays(f'{run.name}/x', run.x, 8)},")
        lines.append(f"        'y': {arrays(f'{run.name}/y', run.y, 8)},")
        lines.append("        'steps': [")
        for index, (rows, masks) in enumerate(steps[run.name]):
            named = {k: (f"{run.name}/step{index}/{k}", v) for k, v in masks.items()}
            shown = ", ".join(f"{k!r}: {arrays(key, v, 12)}" for k, (key, v) in named.items())
            lines.append(f"            ({rows!r}, {{{shown}}}),")
        lines.append("        ],")
        out.append("    {\n" + "\n".join(lines) + "\n    },")
    return "[\n" + "\n".join(out) + "\n]"
