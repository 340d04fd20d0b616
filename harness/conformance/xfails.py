"""The xfails file: known failures of a backend, one test id and its reason per line.

    # comments and blank lines are ignored
    test_case[task3-train-float32]      float32 drift over 100 steps (our issue 12)
    test_protocol_numerics[float64]     x64 is process-wide in this library

A test id is a test's name with its parameters (as `pytest -v` prints it), or the end of its
node id (`test_cases.py::test_case[...]`). Each listed test is marked `xfail(strict=True)`:
a listed test that passes fails the run, so the file never goes stale unnoticed.
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


def load(path: Path) -> list[Xfail]:
    """Parse the file; a line without a reason is a usage error naming the file and line."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise pytest.UsageError(f"--harness-xfails {path}: cannot read: {exc.strerror}") from None
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


def apply(entries: list[Xfail], items: list[pytest.Item]) -> None:
    """Mark every collected test that an entry names."""
    for item in items:
        for entry in entries:
            if entry.matches(item):
                entry.matched += 1
                item.add_marker(pytest.mark.xfail(reason=entry.reason, strict=True))
                break


def unmatched(entries: list[Xfail]) -> list[Xfail]:
    """Entries that named no collected test (a typo, or a test deselected in this run)."""
    return [entry for entry in entries if not entry.matched]
