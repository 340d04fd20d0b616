"""The hand-written backward, as a backend for any library that follows the Array API.

One class serves NumPy, the strict reference namespace, and torch or JAX arrays without
autograd: the namespace is resolved once per backend, and the network's `manual_step`, traced
into straight-line code once per network signature and input shape (`harness.generated`), does
the rest. A plugin may pass `tune`, a function that swaps faster equivalents into the namespace
(the NumPy plugin does); the float64 reference uses the plain namespace and runs the network's
own code (`generated=False`), so that generated code is judged against the code it came from.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from harness.protocol import DTYPES, Availability


@dataclass
class ManualBackend:
    name: str
    module: str
    """Importable module that creates arrays, e.g. "numpy" or "array_api_strict"."""
    library: str
    dtypes: tuple[str, ...] = DTYPES
    tune: Callable[[Any], Any] | None = None
    """Optional: takes the resolved namespace, returns one with faster equivalent functions."""
    device: Any = None
    """Where `from_numpy` puts arrays (`"cuda"` for torch, say); None: the library's default."""
    generated: bool = True
    """The untraced step runs generated straight-line code; False: the network's own code."""
    spelling: Callable[[], tuple[Any, dict[str, Any]]] | None = None
    """Optional: returns (codegen target, the names its code reads), for generated code that
    calls the library by its own spelling; None: every call through the namespace."""
    _xp: Any = field(default=None, init=False, repr=False, compare=False)
    _steps: dict = field(default_factory=dict, init=False, repr=False, compare=False)

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
            xp = array_namespace(module.asarray([0.0]))
            self._xp = self.tune(xp) if self.tune else xp
        return self._xp

    def from_numpy(self, array, dtype: str):
        xp = self.namespace()
        placement = {} if self.device is None else {"device": self.device}
        return xp.asarray(array, dtype=getattr(xp, dtype), copy=True, **placement)

    def to_numpy(self, array):
        """DLPack, or whatever route the library offers (see harness.host), as a host copy."""
        from harness.host import to_numpy

        return to_numpy(array, home=lambda: self.namespace().asarray(0.0).device)

    def make_step(self, network, dtype: str, *, trace: bool = False):
        """The generated step, made once per network signature (networks with one signature
        compute one function); traced, or with `generated` off, the network's own code."""
        xp = self.namespace()
        if trace or not self.generated:

            def step(params, batch):
                return network.manual_step(xp, params, batch, trace)

            return step
        key = (network.signature, dtype)
        if key not in self._steps:
            from harness.generated import manual_step

            spelling = self.spelling() if self.spelling else None
            self._steps[key] = manual_step(network, dtype, xp, spelling)
        return self._steps[key]


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


REFERENCE = ManualBackend("reference", "numpy", "numpy", generated=False)
"""The float64 NumPy manual backward every cell is compared against."""
