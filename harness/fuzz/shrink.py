"""The fuzzer's own shrinking pass, after Hypothesis's: edits a failing example directly.

Hypothesis shrinks the choices an example was drawn from; this pass edits the example
itself, keeping each edit that still fails on the same backend and dtype: fewer layers
(a layer dropped, a block unwrapped), a gradient instead of training, fewer rows, a shorter
sequence, and values rounded to one or two decimals (which also makes ties and exact zeros).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import numpy as np

from harness.assembly import assemble
from harness.fuzz.example import Example, Layer, specs
from harness.specs import SpecError

TRIES = 150
SECONDS = 90.0


def simplify(example: Example, fails: Callable[[Example], bool]) -> Example:
    """The simplest edit of `example` that still `fails`, edit after edit, within TRIES
    tries and SECONDS."""
    tries, start = 0, time.monotonic()
    improved = True
    while improved:
        improved = False
        for candidate in _candidates(example):
            if tries >= TRIES or time.monotonic() - start > SECONDS:
                return example
            if not _valid(candidate):
                continue
            tries += 1
            if fails(candidate):
                example, improved = candidate, True
                break
    return example


def _valid(example: Example) -> bool:
    try:
        network = assemble(specs(example.layers), example.loss)
        return network.output_shape(example.x.shape) == example.y.shape
    except (SpecError, ValueError):
        return False


def _candidates(example: Example) -> Iterator[Example]:
    for layers in _fewer_layers(example.layers):
        if layers:
            yield dataclasses.replace(example, layers=layers)
    if example.task["kind"] == "train":
        task = {"kind": "gradient"}
        if "dropout_seed" in example.task:
            task["dropout_seed"] = example.task["dropout_seed"]
        yield dataclasses.replace(example, task=task)
    rows = example.x.shape[0]
    for keep in sorted({1, 2, 4, 8, rows // 2, rows - 1}):
        if 0 < keep < rows:
            yield _rows(example, keep)
    ids = example.x.dtype.kind in "iu"
    if example.x.ndim == 3 or (ids and example.x.ndim == 2):
        for keep in range(1, example.x.shape[1]):
            yield dataclasses.replace(example, x=example.x[:, :keep], y=example.y[:, :keep])
    yield from _simpler_values(example)


def _fewer_layers(layers: tuple[Layer, ...]) -> Iterator[tuple[Layer, ...]]:
    """Each way of dropping one layer, or unwrapping one block, at any depth."""
    for i, layer in enumerate(layers):
        before, after = layers[:i], layers[i + 1 :]
        yield before + after
        if layer.inner:
            yield before + layer.inner + after
            for inner in _fewer_layers(layer.inner):
                if inner:
                    yield (*before, dataclasses.replace(layer, inner=inner), *after)


def _rows(example: Example, keep: int) -> Example:
    task = dict(example.task)
    if "batch_size" in task:
        task["batch_size"] = min(task["batch_size"], keep)
    return dataclasses.replace(example, x=example.x[:keep], y=example.y[:keep], task=task)


def _simpler_values(example: Example) -> Iterator[Example]:
    """One array at a time rounded to 1, then 2, decimals (x, y, then each layer's)."""
    if example.x.dtype.kind == "f":
        for rounded in _rounded(example.x):
            yield dataclasses.replace(example, x=rounded)
    for rounded in _rounded(example.y):  # one-hot targets are already round
        yield dataclasses.replace(example, y=rounded)
    for path, layer in _paths(example.layers):
        for stem, value in layer.params.items():
            for rounded in _rounded(value):
                params = {**layer.params, stem: rounded}
                changed = dataclasses.replace(layer, params=params)
                yield dataclasses.replace(example, layers=_put(example.layers, path, changed))


def _rounded(value: np.ndarray) -> Iterator[np.ndarray]:
    for decimals in (1, 2):
        rounded = np.round(value, decimals) + 0.0  # + 0.0: no negative zeros
        if not np.array_equal(rounded, value):
            yield rounded


def _paths(layers: tuple[Layer, ...], prefix: tuple[int, ...] = ()):
    for i, layer in enumerate(layers):
        yield from _paths(layer.inner, (*prefix, i))
        if layer.params:
            yield (*prefix, i), layer


def _put(layers: tuple[Layer, ...], path: tuple[int, ...], new: Layer) -> tuple[Layer, ...]:
    i, rest = path[0], path[1:]
    if rest:
        new = dataclasses.replace(layers[i], inner=_put(layers[i].inner, rest, new))
    return (*layers[:i], new, *layers[i + 1 :])
