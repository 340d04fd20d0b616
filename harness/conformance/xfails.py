"""The xfails and skips files: known failures of a backend, one test id and its reason a line.

    # comments and blank lines are ignored
    test_case[task3-train-float32]      float32 drift over 100 steps (our issue 12)
    test_protocol_numerics[float64]     x64 is process-wide in this library

A test id is a test's name with its parameters (as `pytest -v` prints it), or the end of its
node id (`test_cases.py::test_case[...]`). In the xfails file (`--harness-xfails`) each listed
test is marked `xfail(strict=True)`: a listed test that passes fails the run, so the file never
goes stale unnoticed. In the skips file (`--harness-skips`, same format) each listed test is
skipped, not run: for a failure too costly to run every time (a cell that times out). A line
of either that matches no collected test is named at the end of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest


@dataclass
class Xfail:
    test_id: str
    reason: str
    line: int
    matched: int = field(default=0, compare=False)

    def matches(self, item: pytest.Item) -> bool:
        return self.test_id in (item.name, item.nodeid) or item.nodeid.endswith("::" + self.test_id)


def load(path: Path, option: str = "--harness-xfails") -> list[Xfail]:
    """Parse the file; a line without a reason is a usage error naming the file and line."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise pytest.UsageError(f"{option} {path}: cannot read: {exc.strerror}") from None
    entries = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        test_id, *rest = line.split(maxsplit=1)
        reason = rest[0].lstrip("#").strip() if rest else ""
        if not reason:
            raise pytest.UsageError(
                f"{path}:{number}: {test_id!r} has no reason: write `TEST_ID  WHY IT FAILS`"
            )
        entries.append(Xfail(test_id, reason, number))
    return entries


def apply(entries: list[Xfail], items: list[pytest.Item], skip: bool = False) -> None:
    """Mark every collected test that an entry names: strict xfail, or skip."""
    for item in items:
        for entry in entries:
            if entry.matches(item):
                entry.matched += 1
                mark = pytest.mark.skip if skip else pytest.mark.xfail
                item.add_marker(mark(reason=entry.reason, **({} if skip else {"strict": True})))
                break


def unmatched(entries: list[Xfail]) -> list[Xfail]:
    """Entries that named no collected test (a typo, or a test deselected in this run)."""
    return [entry for entry in entries if not entry.matched]
