"""NumPy with the hand-written backward: the students' side of the comparison."""

from types import SimpleNamespace

from harness.manual import ManualBackend


def direct_reductions(xp):
    """NumPy's `sum` and `max` are Python functions that end in a ufunc's `reduce`: at homework
    size that detour is half of each call. Call the reduce directly, same results."""
    import numpy as np

    def sum(x, /, *, axis=None, dtype=None, keepdims=False):
        return np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(x, /, *, axis=None, keepdims=False):
        return np.maximum.reduce(x, axis=axis, keepdims=keepdims)

    return SimpleNamespace(**{**vars(xp), "sum": sum, "max": max})


def tuned(xp):
    """Direct reductions, and NumPy's own kernels for the composites (numpy_kernels)."""
    from harness_backends.numpy_kernels import delegate

    return delegate(direct_reductions(xp))


backend = ManualBackend(name="numpy", module="numpy", library="numpy", tune=tuned)
