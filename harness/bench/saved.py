"""Saved benchmark runs, as pytest-benchmark keeps them: `--autosave` and `--compare last`.

`harness bench --autosave` copies the run's merged JSON into the storage directory (default
`.benchmarks/xp-harness`, beside pytest-benchmark's own `.benchmarks/`) as
`NNNN_YYYYmmddTHHMMSSZ.json`, numbered from 0001. A saved run is named by its number (`3`,
`0003`), by `last` (the newest), or by a path to any run's JSON.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

STORAGE = Path(".benchmarks/xp-harness")
_NAME = re.compile(r"^(\d{4,})_.*\.json$")


class NoSuchRun(ValueError):
    """A reference that names no saved run and no file; the message says what exists."""


def saved(storage: Path) -> list[Path]:
    """The saved runs, oldest first (by number)."""
    if not storage.is_dir():
        return []
    found = [p for p in storage.iterdir() if _NAME.match(p.name)]
    return sorted(found, key=lambda p: int(_NAME.match(p.name).group(1)))


def save(run: Path, storage: Path) -> Path:
    """Copy `run` in as the next number; the saved file's path."""
    storage.mkdir(parents=True, exist_ok=True)
    runs = saved(storage)
    number = int(_NAME.match(runs[-1].name).group(1)) + 1 if runs else 1
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = storage / f"{number:04d}_{stamp}.json"
    shutil.copyfile(run, target)
    return target


def resolve(reference: str, storage: Path) -> Path:
    """`last`, a saved run's number, or a path to a run's JSON."""
    runs = saved(storage)
    if reference == "last":
        if not runs:
            raise NoSuchRun(f"--compare last: no saved run in {storage} (save one with --autosave)")
        return runs[-1]
    if reference.isdigit():
        for path in runs:
            if int(_NAME.match(path.name).group(1)) == int(reference):
                return path
        listed = ", ".join(p.name for p in runs) or "none"
        raise NoSuchRun(f"--compare {reference}: no saved run {reference} in {storage} ({listed})")
    path = Path(reference)
    if not path.is_file():
        raise NoSuchRun(f"--compare: no such file {path}")
    return path
