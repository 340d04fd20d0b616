"""Checks that run inside a backend's worker (through `CellRunner.call`), beside its cells.

Each function takes the backend object first, as `CellRunner.call` passes it, and returns
plain picklable values: a list of problems, empty when the backend keeps the contract. A
backend that raises or crashes here is reported by the runner, as for a cell.
"""

from __future__ import annotations

from contextlib import suppress

import numpy as np

SAMPLE = np.arange(6.0).reshape(2, 3) / 4.0 - 0.5
"""A small array with fractions, negatives and zero: every value exact in float32 too."""


def from_numpy_problems(backend, dtype: str) -> list[str]:
    """`from_numpy` gives the dtype asked for, and a copy: later writes to the source don't show."""
    source = SAMPLE.copy()
    with backend.numerics(dtype):
        array = backend.from_numpy(source, dtype)
        source[...] = 99.0
        back = backend.to_numpy(array)
        own = _own_dtype(array)
    problems = []
    if own is not None and own != dtype:
        problems.append(f"from_numpy(..., {dtype!r}) gave an array of dtype {own}")
    elif own is None and isinstance(back, np.ndarray) and back.dtype != np.dtype(dtype):
        problems.append(f"from_numpy(..., {dtype!r}) gave {back.dtype} (read back by to_numpy)")
    back = np.asarray(back, dtype=np.float64)
    if back.shape == SAMPLE.shape and np.any(back == 99.0):
        problems.append("from_numpy shares memory with its NumPy input: it must copy")
    elif not np.array_equal(back, SAMPLE):
        problems.append(f"to_numpy(from_numpy(a)) is not a: got {back.tolist()}")
    return problems


def to_numpy_problems(backend, dtype: str) -> list[str]:
    """`to_numpy` returns a host NumPy array of its input's dtype and shape, 0-d included."""
    problems = []
    with backend.numerics(dtype):
        for source in (SAMPLE, np.asarray(2.5)):
            array = backend.from_numpy(source, dtype)
            result, expected = backend.to_numpy(array), _own_dtype(array) or dtype
            shape = np.shape(source)
            if not isinstance(result, np.ndarray):
                problems.append(f"to_numpy returned {type(result).__qualname__}, not numpy.ndarray")
            elif result.shape != shape or result.dtype != np.dtype(expected):
                problems.append(
                    f"to_numpy gave shape {result.shape} dtype {result.dtype} "
                    f"for an array of shape {shape} dtype {expected}"
                )
    return problems


def numerics_problems(backend, dtype: str) -> list[str]:
    """`numerics(dtype)` leaves the library as it found it, after an exception too.

    "As it found it" is the state at this worker's first numerics check, so a leak from the
    check of the other dtype cannot pass as the state to return to.
    """
    before = _BASELINE.setdefault(backend.name, library_state(backend))
    with backend.numerics(dtype):
        backend.from_numpy(SAMPLE, dtype)
    problems = _changes(before, library_state(backend), "after `with numerics(...)`")
    with suppress(_Probe), backend.numerics(dtype):
        raise _Probe
    return problems + _changes(before, library_state(backend), "after an exception inside it")


_BASELINE: dict[str, dict[str, str]] = {}


class _Probe(Exception):
    """Raised inside `numerics` to see that the scope is undone on the way out."""


def library_state(backend) -> dict[str, str]:
    """What a backend could leave changed: the library's default dtypes, and known settings."""
    state: dict[str, str] = {}
    with suppress(Exception):  # a library without an Array-API namespace has no defaults here
        from array_api_compat import array_namespace

        xp = array_namespace(backend.from_numpy(SAMPLE, "float32"))
        state["default float dtype"] = str(xp.asarray(1.0).dtype)
        state["default integer dtype"] = str(xp.asarray(1).dtype)
    for name, probe in _SETTINGS.get(getattr(backend, "library", ""), {}).items():
        with suppress(Exception):
            state[name] = repr(probe())
    return state


def _jax_config() -> dict:
    import jax

    return {k: v for k, v in jax.config.values.items() if isinstance(v, bool | int | str)}


def _torch_settings() -> tuple:
    import torch

    return (
        torch.get_default_dtype(),
        torch.backends.cuda.matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        torch.are_deterministic_algorithms_enabled(),
        torch.get_num_threads(),
    )


def _numpy_settings() -> tuple:
    return tuple(sorted(np.geterr().items()))


_SETTINGS = {
    "jax": {"jax.config": _jax_config},
    "torch": {"torch settings": _torch_settings},
    "numpy": {"numpy.geterr": _numpy_settings},
}


def _changes(before: dict, after: dict, when: str) -> list[str]:
    return [
        f"{key} changed {when}: {before.get(key)} -> {after.get(key)}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _own_dtype(array) -> str | None:
    """The array's dtype as its library names it ("float32"), or None if it cannot say."""
    with suppress(Exception):
        from array_api_compat import array_namespace

        xp = array_namespace(array)
        return next(d for d in ("float32", "float64") if array.dtype == getattr(xp, d))
    return None
