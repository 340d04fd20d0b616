"""A plugin that leaves a marker file in every process it finds itself in (at import, and in
each call): the harness must never run plugin code in the process that judges."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from broken_backends import Bugged

MARKERS = "XP_HARNESS_TEST_MARKERS"
"""The directory where each process leaves `PID.WHERE`."""


def _mark(where: str) -> None:
    directory = os.environ.get(MARKERS)
    if directory:
        Path(directory, f"{os.getpid()}.{where}").write_text(" ".join(sys.argv))


class _Marking(Bugged):
    def availability(self):
        _mark("availability")
        return super().availability()

    def make_step(self, network, dtype, *, trace=False):
        _mark("make_step")
        return super().make_step(network, dtype, trace=trace)

    def to_numpy(self, array):
        _mark("to_numpy")
        return super().to_numpy(array)


_mark("import")
marks_every_process = _Marking("marks-every-process")
