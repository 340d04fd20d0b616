"""Find backends through the `harness.backends` entry-point group and load them lazily.

Nothing is imported until a backend is asked for by name. A plugin that fails to import,
or whose object is not a Backend, becomes an unavailable backend that carries the error,
so that every other backend still runs. Warnings raised while a plugin or its library is
imported are recorded in its availability, never raised: under `filterwarnings = error`
(pytest here) an import-time warning would otherwise make a working backend unavailable.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
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
        with _recording(name):
            backend = points[name].load()
    except Exception as exc:  # a plugin's import error must not break the others
        reason = f"plugin failed to import: {type(exc).__name__}: {_first_line(exc)}"
        return BrokenBackend(name, reason)
    if not isinstance(backend, Backend):
        missing = [m for m in _MEMBERS if not hasattr(backend, m)]
        return BrokenBackend(name, f"plugin object is not a Backend (missing {', '.join(missing)})")
    return backend


def availability(backend: Backend) -> Availability:
    """A backend's own availability check, which must not be able to crash the harness; any
    warning raised on the way (or when its plugin was loaded) is recorded in the result."""
    name = str(getattr(backend, "name", "?"))
    try:
        with _recording(name):
            status = backend.availability()
    except Exception as exc:
        status = Availability(False, f"availability check raised {type(exc).__name__}: {exc}")
    if isinstance(status, Availability) and _WARNINGS.get(name):
        status = dataclasses.replace(status, warnings=tuple(_WARNINGS[name]))
    return status


_WARNINGS: dict[str, list[str]] = {}
"""Per backend name, the warnings seen while loading and checking it: a module warns only on
its first import, so later checks must still report what the first one saw."""


@contextmanager
def _recording(name: str) -> Iterator[None]:
    """Record, never raise, the warnings of a plugin's import and availability check."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            seen = _WARNINGS.setdefault(name, [])
            for warning in caught:
                line = f"{warning.category.__name__}: {_first_line(warning.message)}"
                if line not in seen:
                    seen.append(line)


def _first_line(message) -> str:
    return (str(message).strip().splitlines() or [""])[0]


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
