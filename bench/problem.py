"""The benchmark problem: the homework's ReLU/softmax MLP at three sizes, with its FLOP count.

Every variant, harness or native or rival, is timed on the same seeded data so that their
results could be compared; nothing here imports an array library beyond NumPy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.bench.results import SHAPES

EPS = 1e-7
"""The seeds' cross-entropy epsilon, -sum(t * log(p + eps))."""


@dataclass(frozen=True)
class Size:
    name: str
    batch: int
    d_in: int
    hidden: int
    d_out: int

    @property
    def forward_flops(self) -> int:
        return 2 * self.batch * (self.d_in * self.hidden + self.hidden * self.d_out)

    @property
    def step_flops(self) -> int:
        """The matmul FLOPs a step cannot avoid: the forward's two, and in the backward both
        weight gradients and the hidden layer's input gradient. The batch's own input needs no
        gradient, so the backward costs one forward, not the usual two."""
        return 2 * self.forward_flops


SIZES = {name: Size(name, *shape) for name, shape in SHAPES.items()}


def layer_specs(size: Size) -> list[dict]:
    """The homework architecture (Linear, ReLU, Linear, Softmax, no biases) at `size`."""
    return [
        {"type": "linear", "in": size.d_in, "out": size.hidden},
        {"type": "relu"},
        {"type": "linear", "in": size.hidden, "out": size.d_out},
        {"type": "softmax"},
    ]


LOSS_SPEC = {"type": "cross_entropy", "reduction": "mean", "eps": EPS}


def arrays(size: Size, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded float64 inputs, one-hot targets and He-scaled weights, as NumPy."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, size.d_out, size.batch)
    return {
        "x": rng.standard_normal((size.batch, size.d_in)),
        "y": np.eye(size.d_out)[labels],
        "w1": rng.standard_normal((size.d_in, size.hidden)) * np.sqrt(2.0 / size.d_in),
        "w2": rng.standard_normal((size.hidden, size.d_out)) * np.sqrt(2.0 / size.hidden),
    }
