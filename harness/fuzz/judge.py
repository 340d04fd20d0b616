"""Judge one example as `harness run` judges a case: write it, screen it, run its cells.

Each example is written as a case file (`harness.fuzz.example`) and then goes where any case
goes: `CellRunner.cells`, each backend in its own long-lived worker with its time limit,
judged in this process against the float64 reference with the case's tolerance. Only the
screen (`harness.fuzz.screen`) is the fuzzer's own: it decides, before any backend runs,
whether a dtype is judged with the default tolerance, a widened one written into the case, or
not at all.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from harness.fuzz.example import Example, case_text
from harness.fuzz.screen import screen

FAILED = ("fail", "error", "crashed", "timeout")
"""The statuses that make `harness run` exit 1: each is a disagreement here."""

PROVENANCE = {"seed": "harness fuzz", "where": "a drawn example", "printed": "nothing"}


@dataclass
class Verdict:
    example: Example
    path: Path | None = None
    cells: list = field(default_factory=list)
    rejected: str = ""
    skipped: dict[str, str] = field(default_factory=dict)
    needed: dict = field(default_factory=dict)
    """The tolerance each skipped dtype would need (`Screening.needed`)."""

    @property
    def failures(self) -> list:
        return [cell for cell in self.cells if cell.status in FAILED]


@dataclass
class Judge:
    runner: object
    backends: list[str]
    dtypes: list[str]
    workdir: Path
    judged: int = 0
    """Examples drawn and judged before the first disagreement (after it, Hypothesis shrinks)."""
    shrinking: bool = False
    tries: int = 0
    """Examples judged while shrinking."""
    counts: Counter = field(default_factory=Counter)
    """Reasons examples or cells were not judged, and statuses of the cells that were."""

    def __call__(self, example: Example, only: tuple[str, str] | None = None) -> Verdict:
        """Run the example on every selected backend and dtype (`only`: one of each)."""
        dtypes = [only[1]] if only else self.dtypes
        path = self.write(example)
        case = self.runner.case(path)
        screening = screen(case, self._reference, dtypes)
        if screening.rejected:
            self.counts[f"rejected: {screening.category}"] += 1
            return Verdict(example, rejected=screening.rejected)
        if screening.widened != dict(example.tolerance):
            example = dataclasses.replace(example, tolerance=screening.widened)
            path = self.write(example)
        backends = [only[0]] if only else self.backends
        tasks = [(path, b, d) for b in backends for d in dtypes if d not in screening.skipped]
        # A reference's overflow in exp warns and goes on, as in `harness run`, whatever the
        # caller's filters (pytest's turn warnings into errors, and the verdict with them).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            cells = self.runner.cells(tasks)
        if only or self.shrinking:
            self.tries += 1
        else:
            self.judged += 1
            self.counts.update(f"{d} skipped: ill-conditioned" for d in screening.skipped)
            self.counts.update(f"{d} widened" for d in screening.widened)
            self.counts.update(f"cell {cell.status}" for cell in cells)
        return Verdict(example, path, cells, skipped=screening.skipped, needed=screening.needed)

    def write(self, example: Example, directory: Path | None = None, name: str = "",
              description: str = "a drawn example", provenance=PROVENANCE) -> Path:  # fmt: skip
        """The example as a case file; a fresh name each time (the runner keeps each case
        it has loaded by its path)."""
        if not name:
            self.counts["files"] += 1
            name = f"example-{self.counts['files']:06d}"
        path = (directory or self.workdir) / f"{name}.toml"
        path.write_text(case_text(example, description, provenance), encoding="utf-8")
        return path

    def _reference(self, case, run_name: str):
        return self.runner.reference.get(case, run_name).tensors
