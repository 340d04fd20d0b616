"""A run's batches, and the named tensors it computed.

Dropout masks are drawn here, never by a backend: `numpy.random.default_rng(seed)`, then for
each step in order and each dropout layer in order, `keep = rng.random(shape) >= p`, `shape`
that of the layer's input ((batch, width), or (batch, sequence, width)).
Every backend gets the same masks as data, so every backend must follow the same path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from harness.cases import Run
from harness.network import Network
from harness.protocol import INDEX_DTYPE


@dataclass
class Outcome:
    """Named tensors a run computed, as NumPy arrays, plus anything wrong with their form."""

    tensors: dict[str, np.ndarray]
    problems: list[str] = field(default_factory=list)


def batches(network: Network, run: Run) -> Iterator[dict[str, np.ndarray]]:
    """Every step's batch, in order: x, y and the dropout keep-masks, all as NumPy."""
    task = run.task
    rows = run.x.shape[0]
    # only training walks the data in minibatches; forward and gradient see every row at once
    size = (task.batch_size if task.kind == "train" else None) or rows
    rng = np.random.default_rng(task.dropout_seed)
    epochs = task.epochs if task.kind == "train" else 1
    for _ in range(epochs):
        for start in range(0, rows, size):
            batch = {"x": run.x[start : start + size], "y": run.y[start : start + size]}
            for name, shape, rate in network.masks(batch["x"].shape):
                keep = rng.random(shape) >= rate
                batch[name] = keep.astype(np.float64)
            yield batch


def data_dtype(value: np.ndarray, dtype: str) -> str:
    """The dtype a batch array is handed to `from_numpy` in: INDEX_DTYPE for integer data
    (token ids), else the cell's float dtype."""
    return INDEX_DTYPE if value.dtype.kind in "iu" else dtype
