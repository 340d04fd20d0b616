"""Find backends through the `harness.backends` entry-point group and load them lazily.

Nothing is imported until a backend is asked for by name. A plugin that fails to import,
or whose object is not a Backend, becomes an unavailable backend that carries the error,
so that every other backend still runs.
"""

from __future__ import annotations

import importlib.metadata
from contextlib import nullcontext
from dataclasses import dataclass

from harness.protocol import DTYPES, Availability, Backend

GROUP = "harness.backends"


@dataclass
class BrokenBackend:
    """Stands in for a plugin that could not be loaded; it only reports why."""

    name: str
    reason: str
    library: str = "?"
    dtypes: tuple[str, ...] = DTYPES

    def availability(self) -> Availability:
        return Availability(False, self.reason)

    def numerics(self, dtype):
        return nullcontext()

    def from_numpy(self, array, dtype):
        raise RuntimeError(self.reason)

    to_numpy = from_numpy

    def make_step(self, network, dtype, *, trace=False):
        raise RuntimeError(self.reason)


def discover() -> dict[str, importlib.metadata.EntryPoint]:
    """Every registered backend entry point, by name, without importing any of them."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for point in importlib.metadata.entry_points(group=GROUP):
        found.setdefault(point.name, point)
    return dict(sorted(found.items()))


def load(name: str, points: dict[str, importlib.metadata.EntryPoint] | None = None) -> Backend:
    """Import one backend; any failure becomes a BrokenBackend naming the error."""
    points = discover() if points is None else points
    if name not in points:
        raise KeyError(name)
    try:
        backend = points[name].load()
    except Exception as exc:  # a plugin's import error must not break the others
        first_line = (str(exc).strip().splitlines() or [""])[0]
        return BrokenBackend(name, f"plugin failed to import: {type(exc).__name__}: {first_line}")
    if not isinstance(backend, Backend):
        missing = [m for m in _MEMBERS if not hasattr(backend, m)]
        return BrokenBackend(name, f"plugin object is not a Backend (missing {', '.join(missing)})")
    return backend


def availability(backend: Backend) -> Availability:
    """A backend's own availability check, which must not be able to crash the harness."""
    try:
        return backend.availability()
    except Exception as exc:
        return Availability(False, f"availability check raised {type(exc).__name__}: {exc}")


_MEMBERS = (
    "name",
    "library",
    "dtypes",
    "availability",
    "numerics",
    "from_numpy",
    "to_numpy",
    "make_step",
)
