"""Copy an array of any Array-API library back to a NumPy array on the host.

The standard's route is DLPack, but not every library exports through it: ndonnx refuses,
pydata/sparse has no buffer to share, dask is lazy. So the routes are tried in turn, DLPack
first, then the library's own exits, and `np.asarray` last, accepted only when it gives
numbers (for ndonnx it gives an object array). When none works, one line names every failure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class NoHostCopy(TypeError):
    """No route copies this array to NumPy; the message names each route's failure."""


class _NotOffered(Exception):
    """This route does not apply to this array (it lacks the method)."""


def to_numpy(array: Any, home: Callable[[], Any] | None = None) -> np.ndarray:
    """A host NumPy copy of `array`; `home()` gives the library's host device, for to_device."""
    failures = []
    for route, convert in _ROUTES:
        try:
            value = convert(array, home)
        except _NotOffered:
            continue
        except Exception as exc:  # a route that fails hands over to the next
            failures.append(f"{route} raised {type(exc).__name__}: {_first_line(exc)}")
            continue
        if value.dtype != object:
            return np.array(value, copy=True)
        failures.append(f"{route} gave an object array")
    kind = f"{type(array).__module__}.{type(array).__qualname__}"
    raise NoHostCopy(f"cannot copy a {kind} to NumPy: {'; '.join(failures) or 'no route'}")


def _dlpack(array, home):
    if not hasattr(array, "__dlpack__"):
        raise _NotOffered
    return np.from_dlpack(array)


def _dlpack_from_home(array, home):
    """An array on another device (a GPU, array_api_strict's second device) moved home first."""
    if home is None or not hasattr(array, "__dlpack__"):
        raise _NotOffered
    from array_api_compat import to_device

    return np.from_dlpack(to_device(array, home()))


def _method(name: str):
    def convert(array, home):
        if not hasattr(array, name):
            raise _NotOffered
        return np.asarray(getattr(array, name)())

    return convert


def _asarray(array, home):
    return np.asarray(array)  # NumPy scalars from reductions, dask (computes), JAX


_ROUTES = (
    ("DLPack", _dlpack),
    ("to_device(host) then DLPack", _dlpack_from_home),
    ("todense()", _method("todense")),  # pydata/sparse, scipy.sparse
    ("unwrap_numpy()", _method("unwrap_numpy")),  # ndonnx
    ("np.asarray", _asarray),
)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]
