"""One self-contained HTML page of results: inline style and script, nothing fetched.

Each result is a section: its matrices (a row per case, a column per backend and dtype, each
entry coloured by status with its worst error), every failing entry's report in a
`<details>` that a click on the entry opens, the gradient check, the environment, and, after
the first result, what changed since the one before. Every string that came from a run (case
and backend names, messages, excerpts: plugins write some of them) is escaped.
"""

from __future__ import annotations

import html
import re
from collections import Counter

from harness.page.model import Change, Entry, Matrix, Result, changes, flatten

GRADCHECK_PAIRS = ("manual~autograd", "manual~fd", "autograd~fd")


def page(results: list[Result]) -> str:
    """The whole document."""
    names = ", ".join(r.name for r in results)
    body = [f"<h1>xp-harness results</h1>\n<p class='lead'>{_e(names)}</p>"]
    for index in reversed(range(len(results))):  # the newest first, with what it changed
        previous = results[index - 1] if index else None
        body.append(_section(index, results[index], previous))
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>xp-harness: {_e(names)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{''.join(body)}\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def _section(index: int, result: Result, previous: Result | None) -> str:
    parts = [f"<section class='result' id='result-{index}'>"]
    parts.append(f"<h2>{_e(result.name)} <span class='kind'>{_e(result.kind)}</span></h2>")
    if previous is not None:
        parts.append(_changes(previous, result))
    parts += [f"<p class='note'>{_e(note)}</p>" for note in result.notes]
    for number, matrix in enumerate(result.matrices):
        parts.append(_matrix(f"r{index}m{number}", matrix))
    if result.gradcheck:
        parts.append(_gradcheck(result.gradcheck))
    if result.environment:
        parts.append(_environment(result.environment))
    parts.append("</section>\n")
    return "\n".join(parts)


def _matrix(prefix: str, matrix: Matrix) -> str:
    """The table, then a <details> per entry that has a report; ids tie one to the other."""
    columns, found = matrix.columns(), {e.key: e for e in matrix.entries}
    backends = list(dict.fromkeys(b for b, _ in columns))
    counts = Counter(e.status for e in matrix.entries)
    summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    head = "".join(
        f"<th colspan='{sum(b == c for c, _ in columns)}'>{_e(b)}</th>" for b in backends
    )
    dtypes = "".join(f"<th>{_e(d)}</th>" for _, d in columns)
    rows, reports = [], []
    for row in matrix.rows():
        cells = []
        for backend, dtype in columns:
            entry = found.get((row, backend, dtype))
            if entry is None:
                cells.append("<td class='absent'></td>")
                continue
            anchor = f"{prefix}-{len(reports)}" if _has_report(entry) else None
            cells.append(_cell(entry, anchor))
            if anchor:
                reports.append(_report(anchor, entry))
        rows.append(f"<tr><th class='row'>{_e(row)}</th>{''.join(cells)}</tr>")
    return (
        f"<h3>{_e(matrix.title)}</h3>\n<p class='summary'>{len(matrix.entries)} entries: "
        f"{_e(summary)}</p>\n<div class='scroll'><table class='matrix'>\n"
        f"<thead><tr><th rowspan='2'></th>{head}</tr><tr>{dtypes}</tr></thead>\n"
        f"<tbody>\n{chr(10).join(rows)}\n</tbody></table></div>\n"
        + (f"<div class='reports'>\n{''.join(reports)}</div>\n" if reports else "")
    )


def _has_report(entry: Entry) -> bool:
    return entry.status != "pass" and bool(entry.report or entry.message)


def _cell(entry: Entry, anchor: str | None) -> str:
    worst = "" if entry.worst is None else f"<small>{entry.worst:.1e}</small>"
    label = f"{_e(entry.status)}{worst}"
    if anchor:
        label = f"<a href='#{anchor}'>{label}</a>"
    data = "".join(
        f" data-{name}='{_e(value)}'"
        for name, value in (
            ("row", entry.row),
            ("backend", entry.backend),
            ("dtype", entry.dtype),
            ("status", entry.status),
        )
    )
    data += f" data-report='{anchor}'" if anchor else ""
    title = f" title='{_e(entry.message)}'" if entry.message else ""
    return f"<td class='cell {_status_class(entry.status)}'{data}{title}>{label}</td>"


def _report(anchor: str, entry: Entry) -> str:
    text = entry.report or entry.message
    where = f"{entry.row} / {entry.backend} / {entry.dtype}: {entry.status}"
    return (
        f"<details class='report' id='{anchor}'><summary>{_e(where)}</summary>"
        f"<pre>{_e(text)}</pre></details>\n"
    )


def _gradcheck(records: list[dict]) -> str:
    """The three-way check as the terminal prints it, a row per check."""
    counts = Counter(str(r.get("status", "?")) for r in records)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    head = ["case", "library", "manual", "autograd", "dtype", "status", "m~a", "m~fd", "a~fd"]
    rows = []
    for r in records:
        pairs = r.get("pairs") or {}
        errors = [_pair(pairs.get(key)) for key in GRADCHECK_PAIRS]
        status = str(r.get("status", "?"))
        fields = [r.get(k) or "-" for k in ("case", "library", "manual", "autograd", "dtype")]
        rows.append(
            "<tr>"
            + "".join(f"<td>{_e(f)}</td>" for f in fields)
            + f"<td class='cell {_status_class(status)}'>{_e(status)}</td>"
            + "".join(f"<td class='num'>{_e(x)}</td>" for x in errors)
            + f"<td>{_e(r.get('verdict', ''))}</td></tr>"
        )
    return (
        "<h3>Three-way gradient check: manual (m), autograd (a), finite differences (fd)</h3>\n"
        f"<p class='summary'>{len(records)} gradient checks: {_e(summary)}</p>\n"
        "<div class='scroll'><table class='gradcheck'><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in [*head, "verdict"])
        + f"</tr></thead>\n<tbody>\n{chr(10).join(rows)}\n</tbody></table></div>\n"
    )


def _pair(pair) -> str:
    if not isinstance(pair, dict):
        return ""
    value = pair.get("max_abs")
    return f"{value:.1e}" if isinstance(value, int | float) else str(pair.get("problem") or "nan")


def _environment(environment: dict) -> str:
    """Closed by default, its summary the facts a reader checks first."""
    harness, python = environment.get("harness") or {}, environment.get("python") or {}
    platform, cpu = environment.get("platform") or {}, environment.get("cpu") or {}
    commit = f" ({str(harness['commit'])[:12]})" if harness.get("commit") else ""
    facts = [
        f"xp-harness {harness.get('version', '?')}{commit}",
        f"Python {python.get('version', '?')}",
        str(platform.get("system", "?")),
        f"{cpu.get('count', '?')} cores",
        f"started {environment.get('started', '?')}",
    ]
    rows = "".join(
        f"<tr><th>{_e(key)}</th><td>{_e(value)}</td></tr>"
        for key, value in flatten(environment).items()
        if value != "None"
    )
    return (
        f"<details class='environment'><summary>Environment: {_e(', '.join(facts))}</summary>"
        f"<table class='env'>{rows}</table></details>\n"
    )


def _changes(old: Result, new: Result) -> str:
    """Statuses and environment fields that changed, then what only one of the two ran."""
    found: list[Change] = changes(old, new)
    changed = [c for c in found if "absent" not in (c.before, c.after)]
    title = f"<h3>Changes since {_e(old.name)}</h3>"
    parts = [title, f"<p class='summary'>{len(changed)} changed</p>"]
    if changed:
        rows = "".join(
            f"<tr><td>{_e(c.what)}</td><td>{_e(c.where)}</td>"
            + "".join(_change_value(c.what, value) for value in (c.before, c.after))
            + "</tr>"
            for c in changed
        )
        parts.append(
            "<div class='scroll'><table class='changes'><thead><tr><th>what</th><th>where</th>"
            f"<th>before</th><th>after</th></tr></thead><tbody>{rows}</tbody></table></div>"
        )
    for side, label in (("before", f"only in {new.name}"), ("after", f"only in {old.name}")):
        alone = [c for c in found if getattr(c, side) == "absent"]
        if alone:
            items = "".join(f"<li>{_e(c.what)}: {_e(c.where)}</li>" for c in alone)
            parts.append(
                f"<details class='alone'><summary>{len(alone)} {_e(label)}</summary>"
                f"<ul>{items}</ul></details>"
            )
    return "\n".join(parts)


def _change_value(what: str, value: str) -> str:
    if what == "environment":
        return f"<td>{_e(value)}</td>"
    return f"<td class='cell {_status_class(value.split()[0])}'>{_e(value)}</td>"


def _status_class(status: str) -> str:
    """A CSS class for a status; anything unexpected (from a plugin) gets the neutral one."""
    return f"s-{status}" if re.fullmatch(r"[a-z]+", status or "") else "s-other"


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1b1b1b; }
h1 { margin: 0; } .lead { color: #555; margin-top: .2em; }
h2 { border-bottom: 2px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
h2 .kind { font-size: 60%; color: #666; font-weight: normal; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .4em 0 1em; }
th, td { border: 1px solid #d0d0d0; padding: .25em .5em; text-align: left; }
thead th { background: #f2f2f2; text-align: center; }
th.row { font-weight: 600; white-space: nowrap; }
td.cell { text-align: center; white-space: nowrap; }
td.cell small { display: block; font-size: 80%; opacity: .8; }
td.cell a { color: inherit; text-decoration: underline dotted; }
td.num { font-family: ui-monospace, monospace; text-align: right; }
.s-pass, .s-agree { background: #d9f2d9; }
.s-fail, .s-disagree, .s-xpass { background: #f8c8c4; }
.s-error { background: #fbd9a6; }
.s-crashed { background: #e39a95; }
.s-timeout { background: #ddc8ef; }
.s-skip, .s-absent, .s-other { background: #ececec; color: #555; }
.s-xfail { background: #f6efb3; }
td.absent { background: #fafafa; }
details.report { margin: .3em 0; border-left: 4px solid #e0a09a; padding-left: .6em; }
details.report:target, details.report[open] { background: #fff8f7; }
details summary { cursor: pointer; font-weight: 600; }
pre { font: 12px/1.35 ui-monospace, monospace; white-space: pre-wrap; margin: .4em 0; }
.note { background: #fff4d6; border-left: 4px solid #e6b800; padding: .3em .6em; }
.note { white-space: pre-wrap; }
.summary { color: #333; }
table.changes td:nth-child(2) { white-space: nowrap; }
table.env th { text-align: left; background: #f7f7f7; font-weight: normal; }
"""

SCRIPT = """
document.addEventListener("click", function (event) {
  var cell = event.target.closest("[data-report]");
  if (!cell) { return; }
  var report = document.getElementById(cell.getAttribute("data-report"));
  if (report) { report.open = true; }
});
"""
