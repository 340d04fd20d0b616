"""`--harness-report PATH`: a Markdown, a JSON and an HTML scoreboard of the session.

Each harness test records what it checked (`record`) in its user properties, which travel
from pytest-xdist workers to the controller with the test's report. The controller keeps the
last verdict of each test and writes PATH.md (one table per kind of check: cases x backends
and dtypes, each entry pass / fail / xfail / skip with the worst error), PATH.json (with the
session's environment, and each failure's full report) and PATH.html, the page `harness
report` makes of it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness import atomic, environment

KEY = "harness"
KINDS = {
    "case": "Cases: goldens and the float64 reference (worst abs error against the reference)",
    "gradient": "Gradients: manual, autograd and central differences (worst abs difference)",
    "protocol": "Protocol: from_numpy, token ids, to_numpy, numerics, trace",
}


def record(item: pytest.Item, kind: str, row: str, backend: str, dtype: str, **extra) -> None:
    """Attach what this test checked to its report; `worst` (a float) is its worst error."""
    worst = extra.pop("worst", None)
    if worst is not None and not math.isfinite(worst):
        worst = None
    entry = {"kind": kind, "row": row, "backend": backend, "dtype": dtype, "worst": worst}
    item.user_properties.append((KEY, {**entry, **extra}))


def report_paths(path: str) -> tuple[Path, Path, Path]:
    """`out`, `out.md`, `out.json` or `out.html` all mean out.md, out.json and out.html."""
    base = Path(path)
    if base.suffix in (".md", ".json", ".html"):
        base = base.with_suffix("")
    return tuple(base.with_name(base.name + suffix) for suffix in (".md", ".json", ".html"))


@dataclass(eq=False)  # pluggy keeps plugins in sets: hashed by identity
class Scoreboard:
    """A pytest plugin object, registered only when --harness-report is given."""

    path: str
    results: dict[str, dict] = field(default_factory=dict)
    environment: dict = field(default_factory=environment.record)
    """Made when the session starts; its duration is set when the session ends."""

    def __post_init__(self) -> None:
        self._clock = environment.Clock(self.environment)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        entry = dict(report.user_properties).get(KEY)
        if entry is None or (report.when == "teardown" and report.passed):
            return
        outcome = _outcome(report)
        if report.when == "call" or outcome != "pass":
            message = str(getattr(report, "wasxfail", "") or _first_line(report))
            self.results[report.nodeid] = {
                **entry,
                "outcome": outcome,
                "message": message,
                "details": _details(report) if outcome not in ("pass", "skip") else "",
                "test": report.nodeid,
            }

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from harness.page import model
        from harness.page import render as page

        markdown, data, html = report_paths(self.path)
        results = sorted(self.results.values(), key=lambda r: (r["kind"], r["row"], r["test"]))
        totals: dict[str, int] = {}
        for result in results:
            totals[result["outcome"]] = totals.get(result["outcome"], 0) + 1
        self._clock.tick()
        doc = {"totals": totals, "environment": self.environment, "results": results}
        _write(data, json.dumps(doc, indent=1) + "\n")
        _write(markdown, render(results, totals))
        _write(html, page.page([model.load(data)]))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        markdown, data, html = report_paths(self.path)
        terminalreporter.write_line(f"harness scoreboard: {markdown}, {data} and {html}")


def render(results: list[dict], totals: dict[str, int]) -> str:
    """One Markdown table per kind: a row per case (or check), a column per backend and dtype."""
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(totals.items()))
    lines = ["# Conformance scoreboard", "", f"{summary or 'no harness tests ran'}.", ""]
    for kind, title in KINDS.items():
        mine = [r for r in results if r["kind"] == kind]
        if not mine:
            continue
        columns = sorted({(r["backend"], r["dtype"]) for r in mine})
        rows = list(dict.fromkeys(r["row"] for r in mine))
        table = {(r["row"], r["backend"], r["dtype"]): _entry(r) for r in mine}
        lines += [f"## {title}", ""]
        lines.append("| | " + " | ".join(f"{b} {d}" for b, d in columns) + " |")
        lines.append("|---" * (len(columns) + 1) + "|")
        for row in rows:
            cells = [table.get((row, b, d), "") for b, d in columns]
            lines.append(f"| {row} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _entry(result: dict) -> str:
    worst = result["worst"]
    return result["outcome"] if worst is None else f"{result['outcome']} {worst:.1e}"


def _outcome(report: pytest.TestReport) -> str:
    if hasattr(report, "wasxfail"):
        return "xfail" if report.skipped else "xpass"
    if report.passed:
        return "pass"
    if report.skipped:
        return "skip"
    return "fail" if report.when == "call" else "error"


def _first_line(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    if report.skipped and isinstance(report.longrepr, tuple):
        return report.longrepr[2].removeprefix("Skipped: ")
    text = getattr(report, "longreprtext", "") or ""
    errors = [line[2:].strip() for line in text.splitlines() if line.startswith("E ")]
    return errors[0] if errors else (text.strip().splitlines() or [""])[-1]


def _details(report: pytest.TestReport) -> str:
    """The failure as pytest prints it (for a cell: comparisons and first divergence)."""
    text = getattr(report, "longreprtext", "") or ""
    return text if len(text) <= DETAILS_LIMIT else text[:DETAILS_LIMIT] + "\n[... cut]"


DETAILS_LIMIT = 20_000
"""Characters of a failure's report kept in board.json: a traceback can be long."""


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a temporary file beside the target, then a rename."""
    atomic.write_text(path, text)
