"""Dropout whose mask the backend draws itself instead of taking the harness's.

Drawn the way seed 002's PyTorch code did, `randn + 0.5 > p` (about 54% kept, not 60%), from a
generator of the backend's own, so no other backend can follow the same path.
"""

import numpy as np

from broken_backends import Bugged, swap_layers

OWN_SEED = 2002


def own_mask(layer):
    rng = np.random.default_rng(OWN_SEED)
    scale = 1.0 / (1.0 - layer.rate)

    def forward(xp, params, x, data):
        keep = rng.standard_normal(tuple(x.shape)) + 0.5 > layer.rate  # ignores data[mask]
        kept = xp.asarray(keep, dtype=x.dtype) * scale
        return x * kept, kept

    def backward(xp, params, kept, dy):
        return dy * kept, {}

    return layer._replace(forward=forward, backward=backward)


backend = Bugged("dropout-own-mask", network_bug=swap_layers("Dropout", own_mask))
