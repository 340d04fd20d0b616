"""What a results page shows, read from either JSON the harness writes.

`harness run --json` writes a run: one record per cell, the gradient check, the environment.
The conformance suite's `--harness-report` writes a scoreboard (board.json): one record per
test, of kind case, gradient or protocol. Both become a `Result`: matrices of entries (a row
per case, a column per backend and dtype), the run's gradient-check rows, the environment and
notes. `changes` says what differs between two results. Nothing here formats HTML.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path


class NotAResult(ValueError):
    """A file that is not a run's or a scoreboard's JSON; the message names the file."""


@dataclass(frozen=True)
class Entry:
    """One cell of a matrix: a case (or check) on a backend in a dtype."""

    row: str
    backend: str
    dtype: str
    status: str
    worst: float | None = None
    """Largest absolute error against the float64 reference (None: nothing compared)."""
    message: str = ""
    report: str = ""
    """What opens under the cell: the comparisons beyond tolerance, the first divergence."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.row, self.backend, self.dtype)


@dataclass(frozen=True)
class Matrix:
    title: str
    entries: list[Entry]

    def rows(self) -> list[str]:
        return list(dict.fromkeys(e.row for e in self.entries))

    def columns(self) -> list[tuple[str, str]]:
        return sorted({(e.backend, e.dtype) for e in self.entries})


@dataclass
class Result:
    name: str
    kind: str
    """"run" (harness run --json) or "conformance" (board.json)."""
    matrices: list[Matrix]
    gradcheck: list[dict] = field(default_factory=list)
    """A run's three-way gradient check, one record per row (harness.gradcheck's as_record)."""
    environment: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def load(path: Path) -> Result:
    """A run's or a scoreboard's JSON, as a Result; anything else is NotAResult."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise NotAResult(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise NotAResult(f"{path}: not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("cells"), list):
        return _from_run(Path(path).name, data)
    if isinstance(data, dict) and isinstance(data.get("results"), list):
        return _from_board(Path(path).name, data)
    raise NotAResult(
        f"{path}: neither a run (harness run --json) nor a scoreboard "
        "(--harness-report): no 'cells' or 'results' list"
    )


def _from_run(name: str, data: dict) -> Result:
    entries = [
        Entry(
            row=str(c.get("case", "?")),
            backend=str(c.get("backend", "?")),
            dtype=str(c.get("dtype", "?")),
            status=str(c.get("status", "?")),
            worst=_number((c.get("max_abs_err") or {}).get("reference")),
            message=str(c.get("message") or ""),
            report=cell_report(c),
        )
        for c in data["cells"]
        if isinstance(c, dict)
    ]
    notes = [f"skipped case file: {error}" for error in data.get("skipped_case_files") or []]
    if data.get("complete") is False:
        expected = data.get("cells_expected", "?")
        notes.insert(0, f"incomplete run: {len(entries)} of {expected} cells finished")
    if suspects := data.get("golden_suspects"):
        notes.append(str(suspects))
    gradcheck = [g for g in data.get("gradcheck") or [] if isinstance(g, dict)]
    return Result(
        name,
        "run",
        [Matrix("Cells: goldens and the float64 reference", entries)],
        gradcheck,
        _dict(data.get("environment")),
        notes,
    )


BOARD_KINDS = {
    "case": "Cases: goldens and the float64 reference",
    "gradient": "Gradients: manual, autograd and central differences",
    "protocol": "Protocol: from_numpy, to_numpy, numerics",
}


def _from_board(name: str, data: dict) -> Result:
    matrices = []
    for kind, title in BOARD_KINDS.items():
        entries = [
            Entry(
                row=str(r.get("row", "?")),
                backend=str(r.get("backend", "?")),
                dtype=str(r.get("dtype", "?")),
                status=str(r.get("outcome", "?")),
                worst=_number(r.get("worst")),
                message=str(r.get("message") or ""),
                report=str(r.get("details") or ""),
            )
            for r in data["results"]
            if isinstance(r, dict) and r.get("kind") == kind
        ]
        if entries:
            matrices.append(Matrix(title, entries))
    return Result(name, "conformance", matrices, [], _dict(data.get("environment")))


def cell_report(cell: dict) -> str:
    """A run cell's failure as the terminal shows it: each comparison beyond tolerance, then
    the first divergence with its excerpt; the message alone where nothing was compared."""
    lines = []
    for error in cell.get("errors") or []:
        if isinstance(error, dict) and not error.get("ok", True):
            what = error.get("problem") or f"max abs err {_fmt(error.get('max_abs'))}"
            lines.append(f"  {error.get('tensor')} vs {error.get('against')}: {what}")
    diagnosis = cell.get("diagnosis")
    if isinstance(diagnosis, dict):
        lines += [line for line in (diagnosis.get("precision"), diagnosis.get("summary")) if line]
        lines += [str(line) for line in diagnosis.get("excerpt") or []]
        if diagnosis.get("fast_step_only"):
            lines.append("  (only the fast, untraced step diverges)")
        elif diagnosis.get("traced") is False:
            lines.append("  (the backend returned no trace: only its results were compared)")
    if not lines and cell.get("message"):  # an error, a crash, a timeout: the message says it
        lines.append(f"{cell.get('status', '?')}: {cell['message']}")
    return "\n".join(dict.fromkeys(lines)) if cell.get("status") != "pass" else ""


@dataclass(frozen=True)
class Change:
    what: str
    """"cell", "gradient check" or "environment"."""
    where: str
    before: str
    after: str


def changes(old: Result, new: Result) -> list[Change]:
    """Entries whose status changed, appeared or went, or whose worst error moved more than
    tenfold; gradient checks whose status changed; environment fields that differ."""
    found = []
    for title, before, after in _paired(old, new):
        for key in sorted(set(before) | set(after)):
            was, now = before.get(key), after.get(key)
            if (was and was.status) != (now and now.status) or _moved(was, now):
                found.append(Change(title, " / ".join(key), _state(was), _state(now)))
    checks = [{_check_key(g): g.get("status", "?") for g in r.gradcheck} for r in (old, new)]
    for key in sorted(set(checks[0]) | set(checks[1])):
        if checks[0].get(key) != checks[1].get(key):
            found.append(Change("gradient check", key, *(c.get(key, "absent") for c in checks)))
    flat = [flatten(r.environment) for r in (old, new)]
    for key in sorted((set(flat[0]) | set(flat[1])) - _ALWAYS_DIFFERENT):
        if flat[0].get(key) != flat[1].get(key):
            found.append(Change("environment", key, *(f.get(key, "absent") for f in flat)))
    return found


_ALWAYS_DIFFERENT = {"started", "duration_s", "command"}
"""Environment fields that differ between almost any two runs (the command names the output
file): not worth a line; the environment table shows them."""


def _paired(old: Result, new: Result):
    """Matrices of the same title, each as {key: entry}."""
    titles = list(dict.fromkeys(m.title for m in [*old.matrices, *new.matrices]))
    for title in titles:
        sides = [
            {e.key: e for m in r.matrices if m.title == title for e in m.entries}
            for r in (old, new)
        ]
        yield title.split(":")[0].lower(), sides[0], sides[1]


def _moved(was: Entry | None, now: Entry | None) -> bool:
    if was is None or now is None or was.worst is None or now.worst is None:
        return False
    low, high = sorted((abs(was.worst), abs(now.worst)))
    return high > 10 * low and high > 0


def _state(entry: Entry | None) -> str:
    if entry is None:
        return "absent"
    return entry.status if entry.worst is None else f"{entry.status} {entry.worst:.1e}"


def _check_key(record: dict) -> str:
    parts = (record.get(k) or "-" for k in ("case", "manual", "autograd", "dtype"))
    return " / ".join(str(p) for p in parts)


def flatten(value, prefix: str = "") -> dict[str, str]:
    """{"cpu.model": "...", "libraries.torch": "2.13.0", ...}; lists joined by spaces."""
    if isinstance(value, dict):
        flat: dict[str, str] = {}
        for k, v in value.items():
            flat.update(flatten(v, f"{prefix}{k}."))
        return flat
    text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
    return {prefix.rstrip("."): text}


def _number(value) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _fmt(value) -> str:
    number = _number(value)
    return "nan" if number is None else f"{number:.1e}"


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}
