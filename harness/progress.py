"""Progress of a run: table rows in the run's order, and cells done of total on stderr.

Backends finish out of order when they run in parallel; rows are held back until every
earlier row is printed, so the table reads the same whatever `--jobs` is.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from harness.matrix import Cell

EVERY = 5.0
"""Seconds between two progress lines on stderr."""


class Progress:
    def __init__(self, total: int, show: Callable[[Cell], None]) -> None:
        self.total, self.show = total, show
        self._waiting: dict[int, Cell] = {}
        self._next = 0
        self._done = 0
        self._start = self._last = time.monotonic()

    def done(self, index: int, cell: Cell) -> None:
        """Record a finished cell; print every row that is now in order."""
        self._done += 1
        self._waiting[index] = cell
        while self._next in self._waiting:
            self.show(self._waiting.pop(self._next))
            self._next += 1
        now = time.monotonic()
        if now - self._last >= EVERY and self._done < self.total:
            self._last = now
            self._tell(now)

    def finish(self) -> None:
        for index in sorted(self._waiting):
            self.show(self._waiting.pop(index))
        if time.monotonic() - self._start >= EVERY:
            self._tell(time.monotonic())

    def _tell(self, now: float) -> None:
        elapsed = now - self._start
        print(f"harness: {self._done}/{self.total} cells done ({elapsed:.0f} s)", file=sys.stderr)
