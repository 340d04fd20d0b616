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
IDIOMATIC_EPS = 1e-300
"""The idiomatic native steps (`native_*.step`) compute the textbook softmax cross-entropy,
-sum(t * log_softmax(z)), with no eps: what `F.cross_entropy` and `jax.nn.log_softmax` give.
For the float64 reference that is the seeds' loss with this eps, which leaves p + eps == p for
any p above 1e-284. Measured against eps = 1e-7 (tests/test_bench_baselines.py): the loss moves
by 2.8e-7 (homework) and 2.3e-6 (medium) of itself, the gradients by at most 2.2e-7 and 5.8e-5
of their largest entry; the float32 tolerance is 2e-5."""


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
