"""What a pytest session runs: which backends and dtypes, from the options or the environment.

`--harness-backend NAME` (repeatable, or comma-separated) wins over `HARNESS_BACKENDS=a,b`;
with neither, every registered backend runs. `--harness-dtype` narrows the dtypes the same way.
A name that matches nothing is a usage error naming it and what is registered.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from harness import plugins, suggest
from harness.protocol import DTYPES

ENVIRONMENT = "HARNESS_BACKENDS"


def _split(values: Iterable[str] | None) -> list[str]:
    """["a,b", "c"] -> ["a", "b", "c"]: an option given several times, or with commas."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def requested_backends(config: pytest.Config) -> list[str]:
    """The names asked for on the command line, else in $HARNESS_BACKENDS; [] means all."""
    return _split(config.getoption("harness_backend")) or _split([os.environ.get(ENVIRONMENT, "")])


def backends(config: pytest.Config) -> list[str]:
    """Registered backend names to run, in the order asked (or sorted, when none was asked)."""
    registered = plugins.discover()
    asked = requested_backends(config)
    if not asked:
        return list(registered)
    if unknown := [name for name in asked if name not in registered]:
        near = suggest.closest(unknown[0], registered)
        hint = f"; did you mean {near!r}?" if near else ""
        raise pytest.UsageError(
            f"--harness-backend/{ENVIRONMENT}: no backend named {unknown[0]!r}{hint} "
            f"(registered: {', '.join(registered)})"
        )
    entries = plugins.registrations()
    if twice := [name for name in asked if len(entries.get(name, ())) > 1]:
        raise pytest.UsageError(plugins.duplicate_message(twice[0], entries[twice[0]]))
    return list(dict.fromkeys(asked))


def dtypes(config: pytest.Config) -> list[str]:
    """The dtypes to run: --harness-dtype, else every dtype the harness knows."""
    asked = _split(config.getoption("harness_dtype"))
    if unknown := [d for d in asked if d not in DTYPES]:
        raise pytest.UsageError(
            f"--harness-dtype: unknown dtype {unknown[0]!r} (known: {', '.join(DTYPES)})"
        )
    return list(dict.fromkeys(asked)) or list(DTYPES)


def normalise_library(name: str) -> str:
    """ "array_api_strict" and "Array-API-Strict" both name the library "array-api-strict"."""
    return name.strip().lower().replace("_", "-")


def test_id(case: str, backend: str, dtype: str, run: str | None, many: bool) -> str:
    """`case-dtype[-run]`; with more than one backend in the session, `case-backend-dtype[-run]`."""
    parts = [case, backend, dtype] if many else [case, dtype]
    return "-".join([*parts, run] if run else parts)


def protocol_id(backend: str, dtype: str, many: bool) -> str:
    return f"{backend}-{dtype}" if many else dtype


BUILTIN_DISTRIBUTION = "xp-harness"
"""The distribution whose backends the `xp` fixture runs when no library is named."""


def libraries(points: Mapping[str, Any], asked: Sequence[str]) -> dict[str, list[object]]:
    """Backends grouped by library, each group in the order to try them for the `xp` fixture.

    `points` are the registered entry points by name; `asked` holds backend or library names.
    With none asked, only the libraries of this package's own backends run: a plugin that
    someone installed for another purpose does not change what a project's tests run on (and
    cannot break them). A plugin's library runs when it is named. Loading a plugin imports its
    module, never its array library: built-in modules import the library inside their methods.
    """
    wanted = {normalise_library(a) for a in asked}
    chosen = {name: point for name, point in points.items() if wanted or _builtin(point)}
    everything: dict[str, list[tuple[str, object]]] = {}
    for name in chosen:
        backend = plugins.load(name, dict(points))
        library = normalise_library(getattr(backend, "library", "?"))
        if library == "?":  # a plugin that failed to load: shown, and skipped with its reason
            library = normalise_library(name)
        everything.setdefault(library, []).append((name, backend))
    known = set(everything) | {normalise_library(n) for n in points}
    if unmatched := sorted(wanted - known):
        raise pytest.UsageError(_no_such_library(unmatched[0], everything, points))
    groups = {
        library: [b for name, b in group if _chosen(wanted, name, library)]
        for library, group in everything.items()
    }
    groups = {library: group for library, group in groups.items() if group}
    for library, group in groups.items():
        group.sort(key=lambda b: _preference(b, library))
    return dict(sorted(groups.items()))


def _chosen(wanted: set[str], name: str, library: str) -> bool:
    """Nothing asked: every loaded (built-in) backend; else those named, or of a named library."""
    return not wanted or bool(wanted & {normalise_library(name), library})


def _builtin(point: Any) -> bool:
    dist = getattr(point, "dist", None)
    return dist is not None and normalise_library(dist.name) == BUILTIN_DISTRIBUTION


def _no_such_library(name: str, everything: Mapping[str, Any], points: Mapping[str, Any]) -> str:
    """The one-line error for a name that is neither a library nor a backend, with the
    closest of either and both lists."""
    libraries, backends = sorted(everything), sorted(points)
    near = suggest.closest(name, [*libraries, *backends])
    hint = f"; did you mean {near!r}?" if near else ""
    return (
        f"--harness-backend/{ENVIRONMENT}: no backend or library named {name!r}{hint} "
        f"(libraries: {', '.join(libraries) or 'none'}; backends: {', '.join(backends)})"
    )


def _preference(backend, library: str) -> tuple[bool, bool, str]:
    """The backend named after its library first, fast ones before `slow` ones (torch.compile)."""
    return (backend.name != library, bool(getattr(backend, "slow", False)), backend.name)
