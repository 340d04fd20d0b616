"""The run's JSON, written cell by cell and atomically, so an interrupted run leaves a valid file.

After every finished cell the whole document is written to a temporary file beside the target
and renamed over it (`os.replace` is atomic on POSIX): a reader never sees half a file. Until
the run ends the document says `"complete": false` and holds the cells finished so far, in the
order the run lists them, so SIGINT or a crash of the coordinator leaves a valid partial record.
The file is created with the user's umask, as any other file they write (not mkstemp's 0600),
and a run's `environment` record, if the metadata has one, gets its duration at each write.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from harness import atomic
from harness.environment import Clock
from harness.matrix import Cell, as_record


class Journal:
    """One JSON document, rewritten whole after each cell; a no-op without a path."""

    def __init__(self, path: Path | None, meta: dict, total: int) -> None:
        self.path, self.meta, self.total = path, dict(meta), total
        self._records: dict[int, str] = {}
        """Each finished cell's record, serialised once."""
        environment = self.meta.get("environment")
        self._clock = Clock(environment) if isinstance(environment, dict) else None
        if path is not None:
            self._write(complete=False)

    def add(self, index: int, cell: Cell) -> None:
        self._records[index] = json.dumps(_finite(as_record(cell)), indent=1)
        if self.path is not None:
            self._write(complete=False)

    def finish(self, **more: object) -> None:
        self.meta.update(more)
        if self.path is not None:
            self._write(complete=True)

    def _write(self, complete: bool) -> None:
        if self._clock is not None:
            self._clock.tick()
        doc = {**self.meta, "complete": complete, "cells_expected": self.total, "cells": []}
        cells = ",\n".join(self._records[i] for i in sorted(self._records))
        text = json.dumps(_finite(doc), indent=1)
        text = text[: text.rindex("[]")] + f"[\n{cells}\n]" + "\n}\n"
        atomic.write_text(Path(self.path), text)


def _finite(value):
    """Non-finite numbers as the strings "nan", "inf": JSON has no literal for them."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
