"""Central differences of the float64 reference loss, every coordinate or a fixed sample.

Two loss evaluations per coordinate is cheap on the homework's 20 parameters and hopeless on
a 300k-parameter case (over 120 s and counting). Past `FD_ALL_UP_TO` parameters in all, the
check takes a sample of `FD_SAMPLE_SIZE` coordinates instead, the idea of torch's
`gradcheck(fast_mode=True)`: drawn with a fixed seed, each parameter getting its share by size
but never fewer than `FD_MIN_PER_PARAMETER` (so a 10-entry bias beside a 300k weight is still
checked). The time is then bounded by 2 x (FD_SAMPLE_SIZE + FD_MIN_PER_PARAMETER x parameters)
forward passes of the case's first batch, whatever the size (about 3 s for a 784-384-10 MLP
at batch 32 on a busy 2-core machine), and the result says how many coordinates it sampled.
The others are NaN and are not compared.
"""

from __future__ import annotations

import numpy as np

from harness.manual import REFERENCE

FD_STEP = 1e-6
"""Central-difference step, relative to max(1, |parameter|): near float64's optimum eps**(1/3)."""

FD_ALL_UP_TO = 1000
"""Up to this many parameters in all, every coordinate is differenced."""

FD_SAMPLE_SIZE = 256
"""Above FD_ALL_UP_TO, about this many coordinates are differenced, shared out by size."""

FD_MIN_PER_PARAMETER = 8
"""When sampling, each parameter gets at least this many coordinates (or all it has)."""

FD_SAMPLE_SEED = 0
"""The sample is drawn from numpy.random.default_rng(FD_SAMPLE_SEED): runs are reproducible."""


class FiniteDifferences(dict):
    """Gradient arrays by parameter name; `sampled` holds, when the coordinates were sampled,
    a boolean mask per parameter of the coordinates that were differenced (the rest are NaN)."""

    def __init__(self, grads: dict, sampled: dict | None = None) -> None:
        super().__init__(grads)
        self.sampled = sampled or {}

    @property
    def note(self) -> str:
        """`fd sampled 288 of 305,290 coordinates (seed 0)`, or "" when all were taken."""
        if not self.sampled:
            return ""
        count = sum(int(mask.sum()) for mask in self.sampled.values())
        total = sum(mask.size for mask in self.sampled.values())
        return f"fd sampled {count} of {total:,} coordinates (seed {FD_SAMPLE_SEED})"


def central_difference(network, params: dict, batch: dict) -> FiniteDifferences:
    """d loss / d parameter by central differences of the float64 reference loss."""
    xp = REFERENCE.namespace()
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}

    def loss() -> float:
        return float(network.objective(xp, params, batch)[0])

    masks = sample(params)
    grads = {}
    for name, value in params.items():
        grad = np.full_like(value, np.nan)
        for index in zip(*np.nonzero(masks[name]), strict=True) if value.ndim else [()]:
            saved = value[index]
            step = FD_STEP * max(1.0, abs(saved))
            value[index] = saved + step
            up = loss()
            value[index] = saved - step
            down = loss()
            value[index] = saved
            grad[index] = (up - down) / (2 * step)
        grads[name] = grad
    total = sum(v.size for v in params.values())
    return FiniteDifferences(grads, masks if total > FD_ALL_UP_TO else None)


def sample(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A boolean mask per parameter of the coordinates to difference: all of them up to
    FD_ALL_UP_TO in total, else a seeded sample of about FD_SAMPLE_SIZE shared out by size."""
    total = sum(v.size for v in params.values())
    if total <= FD_ALL_UP_TO:
        return {k: np.ones(v.shape, dtype=bool) for k, v in params.items()}
    rng = np.random.default_rng(FD_SAMPLE_SEED)
    masks = {}
    for name, value in params.items():
        share = round(FD_SAMPLE_SIZE * value.size / total)
        count = min(value.size, max(share, FD_MIN_PER_PARAMETER))
        mask = np.zeros(value.size, dtype=bool)
        mask[rng.choice(value.size, size=count, replace=False)] = True
        masks[name] = mask.reshape(value.shape)
    return masks
