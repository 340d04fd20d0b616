"""`--harness-report PATH`: a Markdown and a JSON scoreboard of the session, after ONNX's.

Each harness test records what it checked (`record`) in its user properties, which travel
from pytest-xdist workers to the controller with the test's report. The controller keeps the
last verdict of each test and writes PATH.md (one table per kind of check: cases x backends
and dtypes, each entry pass / fail / xfail / skip with the worst error) and PATH.json.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

KEY = "harness"
KINDS = {
    "case": "Cases: goldens and the float64 reference (worst abs error against the reference)",
    "gradient": "Gradients: manual, autograd and central differences (worst abs difference)",
    "protocol": "Protocol: from_numpy, to_numpy, numerics",
}


def record(item: pytest.Item, kind: str, row: str, backend: str, dtype: str, **extra) -> None:
    """Attach what this test checked to its report; `worst` (a float) is its worst error."""
    worst = extra.pop("worst", None)
    if worst is not None and not math.isfinite(worst):
        worst = None
    entry = {"kind": kind, "row": row, "backend": backend, "dtype": dtype, "worst": worst}
    item.user_properties.append((KEY, {**entry, **extra}))


def report_paths(path: str) -> tuple[Path, Path]:
    """`out`, `out.md` or `out.json` all mean out.md and out.json."""
    base = Path(path)
    if base.suffix in (".md", ".json"):
        base = base.with_suffix("")
    return base.with_name(base.name + ".md"), base.with_name(base.name + ".json")


@dataclass(eq=False)  # pluggy keeps plugins in sets: hashed by identity
class Scoreboard:
    """A pytest plugin object, registered only when --harness-report is given."""

    path: str
    results: dict[str, dict] = field(default_factory=dict)

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
                "test": report.nodeid,
            }

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        markdown, data = report_paths(self.path)
        markdown.parent.mkdir(parents=True, exist_ok=True)
        results = sorted(self.results.values(), key=lambda r: (r["kind"], r["row"], r["test"]))
        totals: dict[str, int] = {}
        for result in results:
            totals[result["outcome"]] = totals.get(result["outcome"], 0) + 1
        _write(data, json.dumps({"totals": totals, "results": results}, indent=1) + "\n")
        _write(markdown, render(results, totals))

    def pytest_terminal_summary(self, terminalreporter) -> None:
        markdown, data = report_paths(self.path)
        terminalreporter.write_line(f"harness scoreboard: {markdown} and {data}")


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


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a temporary file beside the target, then a rename."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
