"""Compilations that outlive a worker: JAX's persistent compilation cache, on disk.

Set in a worker before JAX is imported, through the environment variables JAX reads at
import, so that nothing here imports JAX. `HARNESS_CACHE_DIR` moves the cache (default
`$XDG_CACHE_HOME/xp-harness`, else `~/.cache/xp-harness`); `HARNESS_CACHE_DIR=off` turns it off.
"""

from __future__ import annotations

import os
from pathlib import Path


def directory() -> Path | None:
    """Where compiled programs are kept, or None when the cache is off."""
    chosen = os.environ.get("HARNESS_CACHE_DIR")
    if chosen == "off":
        return None
    if chosen:
        return Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "xp-harness"


def enable() -> None:
    """Point JAX at the cache, keeping every program (ours compile in well under a second)."""
    where = directory()
    if where is None:
        return
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(where / "jax"))
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
