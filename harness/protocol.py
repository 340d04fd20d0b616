"""The contract between the harness and a backend adapter.

A backend is one module holding one object that satisfies `Backend`. The harness never
imports an array library itself: it asks the backend to convert NumPy arrays in, run a
step, and convert results out. Everything here is importable without any array library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from harness.network import Network

Array = Any
"""An array of whatever library the backend wraps."""

DTYPES = ("float32", "float64")

INDEX_DTYPE = "int64"
"""What `from_numpy` is asked for integer data (token ids): `from_numpy(ids, "int64")`. The
backend keeps the values exactly, in int64 or in any integer dtype its library indexes with
(JAX without x64 gives int32)."""


@dataclass(frozen=True)
class Availability:
    """Whether a backend can run here, and if not, why not."""

    available: bool
    reason: str = ""
    version: str = ""
    warnings: tuple[str, ...] = ()
    """Warnings the library raised while it was imported or checked, one line each: recorded,
    never raised, so that `filterwarnings = error` cannot make a working backend unavailable."""


@dataclass
class StepResult:
    """What one forward-and-backward step returns, in backend arrays.

    `trace` is filled only when the step was made with `trace=True`: the network's named
    intermediates (forward activations in order, then the gradients flowing backwards),
    which the harness compares one by one to find where two backends first part.
    """

    loss: Array
    grads: dict[str, Array]
    output: Array
    trace: dict[str, Array] = field(default_factory=dict)


StepFn = Callable[[Mapping[str, Array], Mapping[str, Array]], StepResult]
"""`step(params, batch)`: batch holds "x", "y" and one "mask.<layer>" per dropout layer.

x is floats of the cell's dtype, (batch, features) or (batch, sequence, features), or, for a
network that starts with an embedding, integer token ids (batch, sequence), converted with
`from_numpy(ids, INDEX_DTYPE)`.

A mask is the harness's keep-mask as data: 1.0 where a unit is kept, 0.0 where dropped, drawn
by the harness so every backend sees the same one. The Dropout layer applies the inverted
scaling 1/(1 - p) itself; a backend must neither rescale the mask nor draw its own."""


@runtime_checkable
class Backend(Protocol):
    """One way of computing loss and gradients on one array library."""

    name: str
    """The name the plugin's entry point registers: cells are labelled with it, and a backend
    whose `name` differs is an error."""
    library: str
    """The array library its arrays belong to ("torch"): backends of one library meet in the
    gradient check, and the `xp` fixture groups them; see `distribution` for the version."""
    dtypes: tuple[str, ...]

    def availability(self) -> Availability:
        """Say whether the library imports here, without raising."""
        ...

    def numerics(self, dtype: str) -> AbstractContextManager[object]:
        """Scope the library settings a dtype needs (JAX x64, say); entered around a cell."""
        ...

    def from_numpy(self, array: np.ndarray, dtype: str) -> Array:
        """Copy a NumPy array into a backend array of `dtype`: one of DTYPES, or
        INDEX_DTYPE for integer data (token ids), whose values must come through exactly."""
        ...

    def to_numpy(self, array: Array) -> np.ndarray:
        """Copy a backend array back to NumPy, detached and on the host."""
        ...

    def make_step(self, network: Network, dtype: str, *, trace: bool = False) -> StepFn:
        """Build the step that returns loss, output and the gradient of every parameter."""
        ...


OPTIONAL_ATTRIBUTES = {
    "strategy": '"manual" or "autograd": how gradients are made; pairs backends of one library'
    " for the three-way gradient check (default: manual for ManualBackend, else autograd)",
    "slow": "True when a backend's first step costs seconds (torch.compile): its pytest cells"
    " carry the `slow` marker and are left out of the default run, and its calls get the"
    " longer default time limit (harness.runner.SLOW_TIMEOUT)",
    "distribution": "the distribution whose version availability() reports, when it is not"
    " `library` (a HIPS-autograd plugin on NumPy arrays: library numpy, distribution autograd)",
    "device": "where from_numpy puts arrays (torch: 'cpu' or 'cuda'); the benchmarks set it for"
    " `--device cuda`, and skip a backend without it there",
    "optimizer_update": "optimizer_update(optimizer, params, grads, state) -> (params, state):"
    " one training update on the backend's arrays, state a dict carried between steps ({}"
    " before the first); default harness.optimizers.update, the optimizer's Array-API rule"
    " (a lazy library settles the new arrays here, as dask does)",
}
"""Attributes a backend may add; the harness reads them with getattr and a default."""
