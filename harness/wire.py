"""What crosses a worker's process boundary: plain data, in a format that cannot carry code.

A message is JSON (dicts with string keys, lists, strings, numbers, booleans, None) in which
NumPy arrays stand as `{"\\u0000array": i}`, their bytes following the JSON as raw buffers.
Decoding parses the JSON with the standard library and rebuilds each array with
`numpy.frombuffer` from a dtype of a fixed numeric set: nothing is unpickled, no class is
looked up by name, no code a worker sent can run in the coordinator. A frame past
`MAX_HEADER` or `MAX_PAYLOAD`, an array whose dtype is not numeric, or a buffer of the wrong
size is a `WireError`, never a partial message.

A frame: b"XPH1", the JSON's length and the buffers' length (8 bytes each, big-endian), the
JSON, the buffers.
"""

from __future__ import annotations

import json
import os
import re
import select
import struct
import time
from typing import Any

import numpy as np

MAGIC = b"XPH1"
_LENGTHS = struct.Struct(">QQ")
MAX_HEADER = 64 * 2**20
"""Bytes of JSON a frame may hold: messages, names and captured output, never arrays."""
MAX_PAYLOAD = 2**30
"""Bytes of array data a frame may hold; a case past it is refused by the work budget first."""
_ARRAY = "\u0000array"
_DTYPE = re.compile(r"[<>|](?:f[248]|i[1248]|u[1248]|b1|c(?:8|16))")
"""Numeric dtypes only (float, signed and unsigned int, bool, complex), byte order explicit."""


class WireError(ValueError):
    """A frame that is not a well-formed message of plain data."""


def pack(message: Any) -> bytes:
    """One frame holding `message`."""
    arrays: list[np.ndarray] = []
    encoded = _encode(message, arrays)
    table = [[a.dtype.str, list(a.shape)] for a in arrays]
    header = json.dumps({"message": encoded, "arrays": table}).encode()
    payload = b"".join(a.tobytes() for a in arrays)
    return MAGIC + _LENGTHS.pack(len(header), len(payload)) + header + payload


def _encode(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, np.ndarray):
        if not _DTYPE.fullmatch(value.dtype.str):
            raise WireError(f"an array of dtype {value.dtype} cannot travel (numeric only)")
        arrays.append(value if value.flags.c_contiguous else value.copy(order="C"))
        return {_ARRAY: len(arrays) - 1}
    if isinstance(value, dict):
        return {str(k): _encode(v, arrays) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v, arrays) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise WireError(f"a {type(value).__name__} cannot travel: plain data only")


def unpack(frame: bytes) -> Any:
    """The message in one whole frame (as `read` returns it, or `pack` made it)."""
    if frame[:4] != MAGIC or len(frame) < 4 + _LENGTHS.size:
        raise WireError("not a frame (bad magic)")
    header_size, payload_size = _LENGTHS.unpack_from(frame, 4)
    start = 4 + _LENGTHS.size
    if len(frame) != start + header_size + payload_size:
        raise WireError("frame length does not match its header")
    return _decode_frame(
        frame[start : start + header_size], memoryview(frame)[start + header_size :]
    )


def _decode_frame(header: bytes, payload: memoryview) -> Any:
    try:
        doc = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise WireError(f"header is not JSON: {type(exc).__name__}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("arrays"), list):
        raise WireError("header holds no array table")
    arrays, offset = [], 0
    for entry in doc["arrays"]:
        array, offset = _array(entry, payload, offset)
        arrays.append(array)
    if offset != len(payload):
        raise WireError("payload longer than its arrays")
    try:
        return _decode(doc.get("message"), arrays)
    except RecursionError:
        raise WireError("message nested too deep") from None


def _array(entry: Any, payload: memoryview, offset: int) -> tuple[np.ndarray, int]:
    ok = isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)
    if not ok or not _DTYPE.fullmatch(entry[0]) or not isinstance(entry[1], list):
        raise WireError(f"bad array entry {str(entry)[:80]}")
    shape = entry[1]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape):
        raise WireError(f"bad array shape {str(shape)[:80]}")
    dtype = np.dtype(entry[0])
    size = dtype.itemsize * int(np.prod(shape, dtype=object))
    if offset + size > len(payload):
        raise WireError("payload shorter than its arrays")
    flat = np.frombuffer(payload[offset : offset + size], dtype=dtype)
    return flat.reshape(shape).copy(), offset + size


def _decode(value: Any, arrays: list[np.ndarray]) -> Any:
    if isinstance(value, dict):
        if set(value) == {_ARRAY}:
            index = value[_ARRAY]
            if not isinstance(index, int) or not 0 <= index < len(arrays):
                raise WireError("array reference out of range")
            return arrays[index]
        return {k: _decode(v, arrays) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def write(fd: int, message: Any) -> None:
    """Send one frame on a file descriptor (a pipe)."""
    view = memoryview(pack(message))
    while view:
        view = view[os.write(fd, view) :]


def read(fd: int, deadline: float | None = None) -> Any:
    """Receive one frame; EOFError when the other end closed before a frame began,
    TimeoutError when `deadline` (time.monotonic) passes before the whole frame is in."""
    start = _read_exactly(fd, 4 + _LENGTHS.size, deadline, eof_ok=True)
    if start[:4] != MAGIC:
        raise WireError("not a frame (bad magic)")
    header_size, payload_size = _LENGTHS.unpack_from(start, 4)
    if header_size > MAX_HEADER or payload_size > MAX_PAYLOAD:
        raise WireError(f"frame too large ({header_size} + {payload_size} bytes)")
    header = _read_exactly(fd, header_size, deadline)
    payload = memoryview(_read_exactly(fd, payload_size, deadline))
    return _decode_frame(header, payload)


def _read_exactly(fd: int, size: int, deadline: float | None, eof_ok: bool = False) -> bytes:
    chunks, left = [], size
    while left:
        if deadline is not None:
            wait = max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(left, 2**20))
        if not chunk:
            if eof_ok and left == size:
                raise EOFError
            raise WireError(f"frame cut short ({size - left} of {size} bytes)")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
