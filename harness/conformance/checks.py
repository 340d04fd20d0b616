"""The Backend protocol's promises: observed in the backend's worker, judged here.

Each promise has two halves. A probe (`PROBES`) runs in the backend's worker through
`CellRunner`/`Channel.probe`: it only calls the plugin and reports what it saw, as plain data
(arrays, dtype names, settings as strings). A judge (`JUDGES`) runs in the test's own process
and turns those observations into problems, one line each; none is a pass. A plugin cannot
reach the judge, so it cannot make a broken promise look kept, only lie about what it did,
and what it returns is checked against what it was given.
"""

from __future__ import annotations

from contextlib import suppress

import numpy as np

from harness.driver import numerics

SAMPLE = np.arange(6.0).reshape(2, 3) / 4.0 - 0.5
"""A small array with fractions, negatives and zero: every value exact in float32 too."""


# ---- probes: in the backend's worker ----


def observe_from_numpy(backend, dtype: str) -> dict:
    """Convert SAMPLE, then overwrite the source: what comes back, and its own dtype."""
    source = SAMPLE.copy()
    with numerics(backend, dtype):
        array = backend.from_numpy(source, dtype)
        source[...] = 99.0
        back = backend.to_numpy(array)  # whether it is an ndarray is to_numpy's own check
        own = _own_dtype(array)
    if not isinstance(back, np.ndarray):
        with suppress(Exception):  # a list or a scalar still shows what was converted
            back = np.asarray(back, dtype=np.float64)
    return {"back": back if isinstance(back, np.ndarray) else None, "own": own}


IDS = np.array([[0, 3, 2], [2**31 - 1, 1, 0]])
"""Token ids as the harness hands them over: int64, one past what float32 holds exactly."""


def observe_token_ids(backend, dtype: str) -> dict:
    """`from_numpy(ids, INDEX_DTYPE)` inside the cell's numerics, read back."""
    from harness.protocol import INDEX_DTYPE

    with numerics(backend, dtype):
        back = backend.to_numpy(backend.from_numpy(IDS.copy(), INDEX_DTYPE))
    return {"back": back if isinstance(back, np.ndarray) else None}


def observe_to_numpy(backend, dtype: str) -> dict:
    """What to_numpy returns for a 2-d array and a 0-d one: its type, shape and dtype."""
    seen = []
    with numerics(backend, dtype):
        for source in (SAMPLE, np.asarray(2.5)):
            array = backend.from_numpy(source, dtype)
            result = backend.to_numpy(array)
            kind = type(result)
            module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
            seen.append(
                {
                    "type": f"{module}{kind.__qualname__}",
                    "shape": list(np.shape(result)) if isinstance(result, np.ndarray) else None,
                    "dtype": str(result.dtype) if isinstance(result, np.ndarray) else None,
                    "expected_shape": list(source.shape),
                    "expected_dtype": _own_dtype(array) or dtype,
                }
            )
    return {"seen": seen}


def observe_numerics(backend, dtype: str) -> dict:
    """The library's settings before the first check, after `with numerics`, and after an
    exception inside it ("before" is this worker's first look, so a leak from the check of
    the other dtype cannot pass as the state to return to)."""
    before = _BASELINE.setdefault(backend.name, library_state(backend))
    with numerics(backend, dtype):
        backend.from_numpy(SAMPLE, dtype)
    after = library_state(backend)
    with suppress(_Probe), numerics(backend, dtype):
        raise _Probe
    return {"before": before, "after": after, "after_exception": library_state(backend)}


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


def _own_dtype(array) -> str | None:
    """The array's dtype as its library names it ("float32"), or None if it cannot say."""
    with suppress(Exception):
        from array_api_compat import array_namespace

        xp = array_namespace(array)
        return next(d for d in ("float32", "float64") if array.dtype == getattr(xp, d))
    return None


PROBES = {
    "token_ids": observe_token_ids,
    "from_numpy": observe_from_numpy,
    "to_numpy": observe_to_numpy,
    "numerics": observe_numerics,
}


# ---- judges: in the test's process ----


def from_numpy_problems(seen: dict, dtype: str) -> list[str]:
    """`from_numpy` gives the dtype asked for, and a copy: later writes to the source don't show."""
    problems = []
    back, own = seen.get("back"), seen.get("own")
    if not isinstance(back, np.ndarray):
        return ["from_numpy: the worker sent no array back"]
    if own is not None and own != dtype:
        problems.append(f"from_numpy(..., {dtype!r}) gave an array of dtype {own}")
    elif own is None and back.dtype != np.dtype(dtype):
        problems.append(f"from_numpy(..., {dtype!r}) gave {back.dtype} (read back by to_numpy)")
    back = back.astype(np.float64)
    if back.shape == SAMPLE.shape and np.any(back == 99.0):
        problems.append("from_numpy shares memory with its NumPy input: it must copy")
    elif not np.array_equal(back, SAMPLE):
        problems.append(f"to_numpy(from_numpy(a)) is not a: got {back.tolist()}")
    return problems


def to_numpy_problems(seen: dict, dtype: str) -> list[str]:
    """`to_numpy` returns a host NumPy array of its input's dtype and shape, 0-d included."""
    problems = []
    for entry in seen.get("seen") or [{}]:
        if entry.get("type") != "numpy.ndarray":
            problems.append(f"to_numpy returned {entry.get('type')}, not numpy.ndarray")
        elif entry["shape"] != entry["expected_shape"] or entry["dtype"] != entry["expected_dtype"]:
            problems.append(
                f"to_numpy gave shape {tuple(entry['shape'])} dtype {entry['dtype']} for an "
                f"array of shape {tuple(entry['expected_shape'])} dtype {entry['expected_dtype']}"
            )
    return problems


def numerics_problems(seen: dict, dtype: str) -> list[str]:
    """`numerics(dtype)` leaves the library as it found it, after an exception too."""
    before = seen.get("before") or {}
    return _changes(before, seen.get("after") or {}, "after `with numerics(...)`") + _changes(
        before, seen.get("after_exception") or {}, "after an exception inside it"
    )


def _changes(before: dict, after: dict, when: str) -> list[str]:
    return [
        f"{key} changed {when}: {before.get(key)} -> {after.get(key)}"
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def token_ids_problems(seen: dict, dtype: str) -> list[str]:
    """Integer data comes through as integers with every value exact (an embedding's ids)."""
    back = seen.get("back")
    if not isinstance(back, np.ndarray):
        return ["from_numpy(ids, 'int64'): to_numpy gave no array back"]
    if back.dtype.kind not in "iu":
        return [f"from_numpy(ids, 'int64') gave dtype {back.dtype}, expected an integer dtype"]
    if back.shape != IDS.shape or not np.array_equal(back, IDS):
        return [f"from_numpy(ids, 'int64') changed the ids: got {back.tolist()}"]
    return []


JUDGES = {
    "token_ids": token_ids_problems,
    "from_numpy": from_numpy_problems,
    "to_numpy": to_numpy_problems,
    "numerics": numerics_problems,
}
