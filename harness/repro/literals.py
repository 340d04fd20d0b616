"""NumPy arrays as Python source: inline literals that read back exactly, or keys of an .npz.

Floats are written by `repr`, which round-trips every float64, so the script's data is the
case's to the last bit. A case whose arrays are too many numbers to read as source keeps
them in an .npz beside the script instead (`DATA["params/w1"]`).
"""

from __future__ import annotations

import numpy as np

from harness.codegen.emit import literal

INLINE_LIMIT = 4000
"""Numbers a script holds as literals; beyond this, its arrays go to an .npz beside it."""


class Arrays:
    """Writes each array as a literal, or stores it for the .npz and writes its look-up."""

    def __init__(self, inline: bool) -> None:
        self.inline = inline
        self.stored: dict[str, np.ndarray] = {}

    def __call__(self, key: str, value: np.ndarray, indent: int = 0) -> str:
        value = np.asarray(value)
        if not self.inline:
            self.stored[key] = value
            return f"DATA[{key!r}]"
        kind = "int64" if value.dtype.kind in "iub" else "float64"
        cast = value.astype(kind)
        return f"np.array({_nested(cast.tolist(), indent)}, dtype=np.{kind})"


def _nested(values, indent: int) -> str:
    """A nested list, its innermost rows on one line each once it is too long for one."""
    if not isinstance(values, list):
        return literal(values)
    flat = f"[{', '.join(_nested(v, indent) for v in values)}]"
    if len(flat) + indent <= 88 or not values or not isinstance(values[0], list):
        return flat
    inner = " " * (indent + 4)
    rows = ",\n".join(f"{inner}{_nested(v, indent + 4)}" for v in values)
    return f"[\n{rows},\n{' ' * indent}]"


def count(arrays) -> int:
    """How many numbers these arrays hold together."""
    return sum(int(np.asarray(a).size) for a in arrays)
