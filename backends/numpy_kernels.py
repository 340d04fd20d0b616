"""NumPy's own way to write the network's composites, for the NumPy manual backend.

The same operations as the compositions in harness.composites, in the same order (so the
same results, bit for bit), but writing into arrays they made themselves (`out=`, `/=`) rather
than leaving a fresh temporary per operation: at batch 1024 each temporary is megabytes. ReLU
is `maximum(x, 0)`: NumPy has no autograd to split its tie, the hand-written backward decides.
"""

from __future__ import annotations

import numpy as np

from harness.composites import GELU_CUBIC, GELU_SCALE, delegating


def _relu(xp, x):
    return np.maximum(x, 0.0)


def _sigmoid(xp, x):
    y = np.negative(x)
    np.exp(y, out=y)
    y += 1.0
    return np.divide(1.0, y, out=y)


def _softmax(xp, z):
    e = np.subtract(z, np.maximum.reduce(z, axis=-1, keepdims=True))
    np.exp(e, out=e)
    e /= np.add.reduce(e, axis=-1, keepdims=True)
    return e


def _cross_entropy(xp, p, t, eps):
    q = np.add(p, eps)
    np.log(q, out=q)
    q *= t
    return -np.add.reduce(q, axis=None)


def _gelu(xp, x):
    inner = np.multiply(x, x)
    inner *= x
    inner *= GELU_CUBIC
    inner += x
    inner *= GELU_SCALE
    np.tanh(inner, out=inner)
    inner += 1.0
    inner *= x
    inner *= 0.5
    return inner


def _layer_norm(xp, x, gamma, beta, eps):
    centred = np.subtract(x, np.mean(x, axis=-1, keepdims=True))
    variance = np.multiply(centred, centred)
    variance = np.mean(variance, axis=-1, keepdims=True)
    variance += eps
    np.sqrt(variance, out=variance)
    centred /= variance
    centred *= gamma
    centred += beta
    return centred


def _log_softmax(xp, z):
    shifted = np.subtract(z, np.maximum.reduce(z, axis=-1, keepdims=True))
    total = np.exp(shifted)
    total = np.add.reduce(total, axis=-1, keepdims=True)
    np.log(total, out=total)
    shifted -= total
    return shifted


KERNELS = {
    "relu": _relu,
    "sigmoid": _sigmoid,
    "softmax": _softmax,
    "cross_entropy": _cross_entropy,
    "gelu": _gelu,
    "layer_norm": _layer_norm,
    "log_softmax": _log_softmax,
}


def delegate(xp):
    """The NumPy namespace `xp` with these kernels in it."""
    return delegating(xp, KERNELS)
