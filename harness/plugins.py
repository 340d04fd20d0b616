"""Find backends through the `harness.backends` entry-point group and load them lazily.

Nothing is imported until a backend is asked for by name, and then only in that backend's
worker process (see harness.worker_calls): the coordinator reads entry points, never plugin
modules. A plugin that fails to import, or whose object is not a Backend, becomes an
unavailable backend that carries the error, so that every other backend still runs. A name
that two distributions register is refused (`DuplicateName`), never silently resolved to one.
Warnings raised while a plugin or its library is imported are recorded in its availability,
never raised: under `filterwarnings = error` (pytest here) an import-time warning would
otherwise make a working backend unavailable.
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


@dataclass(frozen=True)
class Registration:
    """One entry point of the group: the name, what it loads, and the distribution behind it."""

    name: str
    target: str
    distribution: str
    version: str

    def describe(self) -> str:
        return f"{self.distribution} {self.version} ({self.target})"


def registrations() -> dict[str, list[Registration]]:
    """Every registered name and each distinct registration of it, without importing any."""
    found: dict[str, list[Registration]] = {}
    for point in importlib.metadata.entry_points(group=GROUP):
        dist = getattr(point, "dist", None)
        entry = Registration(
            point.name,
            point.value,
            getattr(dist, "name", None) or "?",
            getattr(dist, "version", None) or "?",
        )
        if entry not in found.setdefault(point.name, []):
            found[point.name].append(entry)
    return dict(sorted(found.items()))


class DuplicateName(KeyError):
    """Two distributions register one backend name: neither is loaded."""

    def __str__(self) -> str:
        return str(self.args[0])


def duplicate_message(name: str, entries: list[Registration]) -> str:
    """One line naming both registrations, and what to do."""
    listed = "; ".join(entry.describe() for entry in entries)
    return (
        f"backend {name!r} is registered by {len(entries)} distributions ({listed}): "
        "uninstall all but one"
    )


def discover() -> dict[str, importlib.metadata.EntryPoint]:
    """Every registered backend entry point, by name, without importing any of them (a name
    registered twice maps to its first registration; `load` refuses it)."""
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for point in importlib.metadata.entry_points(group=GROUP):
        found.setdefault(point.name, point)
    return dict(sorted(found.items()))


BUILTIN = {
    "numpy": ("numpy", "manual"),
    "torch": ("torch", "autograd"),
    "jax": ("jax", "autograd"),
    "torch-manual": ("torch", "manual"),
    "jax-manual": ("jax", "manual"),
    "jax-eager": ("jax", "autograd"),
    "array-api-strict": ("array-api-strict", "manual"),
    "torch-compile": ("torch", "autograd"),
    "dask": ("dask", "manual"),
}
"""The backends this distribution registers, with their library and strategy: the gradient
check pairs a selected backend with a built-in counterpart without importing any plugin that
was not selected (a test checks the table against the backend objects)."""


def builtin_counterparts(libraries: set[str], selected: list[str]) -> list[str]:
    """Built-in backends of these libraries that were not selected, registered once, by us."""
    ours = registrations()
    return [
        name
        for name, (library, _) in BUILTIN.items()
        if library in libraries
        and name not in selected
        and [entry.distribution for entry in ours.get(name, [])] == ["xp-harness"]
    ]


def strategy(backend) -> str:
    """ "manual" or "autograd": how this backend computes its gradients (its `strategy`
    attribute; without one, a ManualBackend is manual and anything else autograd)."""
    from harness.manual import ManualBackend

    declared = getattr(backend, "strategy", None)
    if declared in ("manual", "autograd"):
        return declared
    return "manual" if isinstance(backend, ManualBackend) else "autograd"


def load(name: str, points: dict[str, importlib.metadata.EntryPoint] | None = None) -> Backend:
    """Import one backend; any failure becomes a BrokenBackend naming the error."""
    if points is None:
        entries = registrations().get(name, [])
        if len(entries) > 1:
            raise DuplicateName(duplicate_message(name, entries))
        points = discover()
    if name not in points:
        raise KeyError(name)
    try:
        with recording(name):
            backend = points[name].load()
    except Exception as exc:  # a plugin's import error must not break the others
        reason = f"plugin failed to import: {type(exc).__name__}: {_first_line(exc)}"
        return BrokenBackend(name, reason)
    if missing := [m for m in _MEMBERS if not _has(backend, m)]:
        return BrokenBackend(name, f"plugin object is not a Backend (missing {', '.join(missing)})")
    return backend


def warnings_of(name: str) -> tuple[str, ...]:
    """The warnings recorded while this backend was loaded and checked in this process."""
    return tuple(_WARNINGS.get(name, ()))


def _has(backend: object, member: str) -> bool:
    """hasattr, but an attribute whose getter raises is there (describe reports the raise)."""
    try:
        getattr(backend, member)
    except AttributeError:
        return False
    except Exception:
        return True
    return True


def availability(backend: Backend) -> Availability:
    """A backend's own availability check, which must not be able to crash the harness; any
    warning raised on the way (or when its plugin was loaded) is recorded in the result."""
    name = str(getattr(backend, "name", "?"))
    try:
        with recording(name):
            status = backend.availability()
    except Exception as exc:
        status = Availability(False, f"availability check raised {type(exc).__name__}: {exc}")
    if not isinstance(status, Availability):
        kind = type(status).__name__
        return Availability(False, f"availability() returned {kind}, expected Availability")
    if _WARNINGS.get(name):
        status = dataclasses.replace(status, warnings=tuple(_WARNINGS[name]))
    return status


_WARNINGS: dict[str, list[str]] = {}
"""Per backend name, the warnings seen while loading and checking it: a module warns only on
its first import, so later checks must still report what the first one saw."""


@contextmanager
def recording(name: str) -> Iterator[None]:
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
