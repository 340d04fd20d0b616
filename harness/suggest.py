"""One wording for a name that matches nothing: what was asked, the closest valid name, and
every valid one, so that a typo costs one glance (difflib's ratio, as argparse and git do)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(name: str, valid: Iterable[str]) -> str | None:
    """The valid name nearest to `name`, if any is near enough to be the one meant."""
    found = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return found[0] if found else None


def unknown(what: str, name: str, valid: Iterable[str]) -> str:
    """`unknown backend 'nump' (did you mean 'numpy'?); valid: jax, numpy, torch`."""
    valid = list(valid)
    near = closest(name, valid)
    hint = f" (did you mean {near!r}?)" if near else ""
    return f"unknown {what} {name!r}{hint}; valid: {', '.join(valid) or 'none'}"
