"""A drawn example as plain values, and the case file that holds it.

The generator draws an `Example` and the shrinker edits one; `case_text` writes it in the
registry's format, arrays inline. That file is what every backend's worker and the judge load
(`harness.cases`): the search and the case it leaves behind are read by one loader.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness import vocabulary as V
from harness.tolerance import Tolerance

LINE = 96
"""Characters of numbers on one line of an inline array."""


@dataclass(frozen=True)
class Layer:
    """One layer: its spec table (a block's nested list left out), its parameters by stem,
    and, for a block, its own layers."""

    spec: Mapping[str, Any]
    params: Mapping[str, np.ndarray] = field(default_factory=dict)
    inner: tuple[Layer, ...] = ()

    @property
    def kind(self) -> V.LayerKind:
        return V.LAYERS[self.spec["type"]]


@dataclass(frozen=True)
class Widened:
    """A dtype's tolerance, widened because rounding alone moves the example's tensors."""

    tolerance: Tolerance
    why: str


@dataclass(frozen=True)
class Example:
    layers: tuple[Layer, ...]
    loss: Mapping[str, Any]
    x: np.ndarray
    y: np.ndarray
    task: Mapping[str, Any]
    """The case file's [task] table."""
    tolerance: Mapping[str, Widened] = field(default_factory=dict)


def walk(layers: tuple[Layer, ...]) -> Iterator[Layer]:
    """Every layer in reading order, a block's own layers before the block (the order
    `harness.assembly` numbers parameters in)."""
    for layer in layers:
        yield from walk(layer.inner)
        yield layer


def specs(layers: tuple[Layer, ...]) -> list[dict[str, Any]]:
    """The `model.layers` list."""
    out = []
    for layer in layers:
        spec = dict(layer.spec)
        if block := layer.kind.block:
            spec[block] = specs(layer.inner)
        out.append(spec)
    return out


def arrays(example: Example) -> dict[str, np.ndarray]:
    """x, y and every parameter under the name the network gives it (`w2`, `gamma1`)."""
    named = {"x": example.x, "y": example.y}
    counts: Counter[str] = Counter()
    for layer in walk(example.layers):
        if layer.params:
            counts[layer.spec["type"]] += 1
            number = counts[layer.spec["type"]]
            named.update({f"{stem}{number}": value for stem, value in layer.params.items()})
    return named


def depth(example: Example) -> int:
    """Layers in the flat list, blocks and their own layers each counted once."""
    return sum(1 for _ in walk(example.layers))


def describe(example: Example) -> str:
    """One line: the layers, the loss, the task and the rows."""

    def one(layer: Layer) -> str:
        kind, spec = layer.kind, layer.spec
        if layer.inner:
            return f"{kind.label}[{' '.join(one(i) for i in layer.inner)}]"
        shown = [f"{k}={_value(v)}" for k, v in spec.items() if k != "type"]
        return f"{kind.label}({', '.join(shown)})" if shown else kind.label

    task = example.task
    steps = task["kind"]
    if task["kind"] == "train":
        rule = task.get("optimizer", {}).get("type", "sgd")
        steps = f"train ({rule}, {task.get('epochs', 1)} epoch(s))"
    loss = f"{example.loss['type']} ({example.loss['reduction']})"
    shape = "x".join(map(str, example.x.shape))
    return f"{' '.join(one(layer) for layer in example.layers)}; {loss}; {steps}; x {shape}"


def case_text(example: Example, description: str, provenance: Mapping[str, str]) -> str:
    """The case file: description, provenance, model, arrays inline, task, one run."""
    lines = [f'description = """\n{description}"""', "", "[[provenance]]"]
    lines += [f"{key} = {_string(value)}" for key, value in provenance.items()]
    lines += ["", "[model]", "layers = ["]
    lines += [f"    {_table(spec, '    ')}," for spec in specs(example.layers)]
    lines += ["]", f"loss = {_table(example.loss, '')}", "", "[arrays]"]
    ids = example.x.dtype.kind in "iu"
    for name, value in arrays(example).items():
        lines.append(f"{name} = {_array(value, '', ids and name == 'x')}")
    lines += ["", "[task]"]
    lines += [f"{key} = {_toml(value, '')}" for key, value in example.task.items()]
    lines += ["", "[[runs]]", 'name = "drawn"', 'x = "x"', 'y = "y"']
    for dtype, widened in example.tolerance.items():
        tol = widened.tolerance
        lines += ["", f"[tolerance.{dtype}]", f"rtol = {tol.rtol!r}", f"atol = {tol.atol!r}"]
        lines.append(f"why = {_string(widened.why)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any, indent: str) -> str:
    if isinstance(value, Mapping):
        return _table(value, indent)
    if isinstance(value, list):
        inner = indent + "    "
        return "[\n" + "".join(f"{inner}{_toml(v, inner)},\n" for v in value) + indent + "]"
    if isinstance(value, str):
        return _string(value)
    return _value(value)


def _table(spec: Mapping[str, Any], indent: str) -> str:
    return "{ " + ", ".join(f"{k} = {_toml(v, indent)}" for k, v in spec.items()) + " }"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _string(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _array(value: np.ndarray, indent: str, ints: bool = False) -> str:
    """A TOML array; a row of numbers wraps at LINE characters, each nested level indented."""
    inner = indent + "    "
    if value.ndim == 0:
        return _number(value, ints)
    if value.ndim == 1:
        numbers = [_number(v, ints) for v in value]
        flat = ", ".join(numbers)
        if len(flat) <= LINE:
            return f"[{flat}]"
        rows, row = [], ""
        for number in numbers:
            if row and len(row) + len(number) + 2 > LINE:
                rows.append(row)
                row = ""
            row = f"{row}, {number}" if row else number
        rows.append(row)
        return "[\n" + "".join(f"{inner}{r},\n" for r in rows) + indent + "]"
    return "[\n" + "".join(f"{inner}{_array(r, inner, ints)},\n" for r in value) + indent + "]"


def _number(value: Any, ints: bool) -> str:
    return str(int(value)) if ints else repr(float(value))
