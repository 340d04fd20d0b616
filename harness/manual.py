"""The hand-written backward, as a backend for any library that follows the Array API.

One class serves NumPy, the strict reference namespace, and (later) torch or JAX arrays
without autograd: the namespace is resolved once, when a step is made, and the network's
`manual_step` does the rest. The float64 NumPy instance is the harness's reference.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from contextlib import nullcontext
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from harness.protocol import DTYPES, Availability


@dataclass
class ManualBackend:
    name: str
    module: str
    """Importable module that creates arrays, e.g. "numpy" or "array_api_strict"."""
    library: str
    dtypes: tuple[str, ...] = DTYPES
    _xp: Any = field(default=None, init=False, repr=False, compare=False)

    def availability(self) -> Availability:
        try:
            importlib.import_module(self.module)
            import array_api_compat  # noqa: F401
        except Exception as exc:  # any import failure makes the backend unavailable
            return Availability(False, f"cannot import {self.module}: {exc}")
        return Availability(True, version=_version(self.library))

    def numerics(self, dtype: str):
        return nullcontext()

    def namespace(self):
        """The Array-API namespace of this library's arrays, resolved once per backend."""
        if self._xp is None:
            from array_api_compat import array_namespace

            module = importlib.import_module(self.module)
            self._xp = _direct_reductions(array_namespace(module.asarray([0.0])))
        return self._xp

    def from_numpy(self, array, dtype: str):
        xp = self.namespace()
        return xp.asarray(array, dtype=getattr(xp, dtype), copy=True)

    def to_numpy(self, array):
        import numpy as np

        if hasattr(array, "__dlpack__"):
            return np.array(np.from_dlpack(array), copy=True)
        return np.array(array, copy=True)  # NumPy reductions return scalars

    def make_step(self, network, dtype: str, *, trace: bool = False):
        xp = self.namespace()

        def step(params, batch):
            return network.manual_step(xp, params, batch, trace)

        return step


def _direct_reductions(xp):
    """NumPy's `sum` and `max` are Python functions that end in a ufunc's `reduce`: at homework
    size that detour is half of each call. Call the reduce directly; other namespaces pass."""
    np = sys.modules.get("numpy")
    if np is None or xp.sum is not np.sum or xp.max is not np.max:
        return xp

    def sum(x, /, *, axis=None, dtype=None, keepdims=False):
        return np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(x, /, *, axis=None, keepdims=False):
        return np.maximum.reduce(x, axis=axis, keepdims=keepdims)

    return SimpleNamespace(**{**vars(xp), "sum": sum, "max": max})


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


REFERENCE = ManualBackend("reference", "numpy", "numpy")
"""The float64 NumPy manual backward every cell is compared against."""
