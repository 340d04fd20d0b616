"""A golden value that every backend misses while agreeing with the reference is the suspect.

One failing cell cannot tell a wrong backend from a wrong golden; the whole matrix can. When
every cell that computed a tensor agrees with the float64 reference there and disagrees with
the tensor's golden, the backends, which share nothing but the network's definition, are not
the ones to fix: the golden is (a misprinted digit, the wrong seed cell, a different
convention). The report names the golden's source, its printed precision and the case's
provenance, so the reader goes to the document it was copied from. Only independent goldens
are judged so: a snapshot of the harness's own output (`snapshot = true`) that every backend
misses says the reference changed since it was taken.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.case_text import printable
from harness.cases import Case, Golden
from harness.compare import Comparison

_COMPUTED = ("pass", "fail")


def golden_suspects(cells: Iterable, cases: Iterable[Case]) -> str:
    """One paragraph per suspect golden in the run's cells; "" when there is none."""
    by_case = {case.name: case for case in cases}
    verdicts: dict[tuple[str, str], list[tuple[str, Comparison, Comparison]]] = {}
    for cell in cells:
        if cell.status not in _COMPUTED or cell.case not in by_case:
            continue
        reference = {c.name: c for c in cell.comparisons if c.against == "reference"}
        independent = _independent(by_case[cell.case])
        for golden in (c for c in cell.comparisons if c.against == "golden"):
            if golden.name not in independent:
                continue
            label = f"{cell.backend} {cell.dtype}"
            if golden.name in reference:
                entry = (label, golden, reference[golden.name])
                verdicts.setdefault((cell.case, golden.name), []).append(entry)
    found = [
        _describe(by_case[case], tag, entries)
        for (case, tag), entries in verdicts.items()
        if all(not golden.ok and ref.ok for _, golden, ref in entries)
    ]
    return "\n\n".join(found)


def _describe(case: Case, tag: str, entries: list) -> str:
    golden = _golden(case, tag)
    worst = max(g.max_abs for _, g, _ in entries)
    labels = ", ".join(label for label, _, _ in entries)
    printed = "in full (repr)" if golden.decimals is None else f"to {golden.decimals} decimals"
    lines = [
        f"suspect golden: {case.name} {tag}: every cell that computed it ({labels}) agrees "
        f"with the float64 reference and misses the golden (max abs err {worst:.1e}): check "
        "the golden, not the backends",
        f"  golden source: {golden.source} (printed {printed})",
        *(f"  case provenance: {p['seed']}, {p['where']}: {p['printed']}" for p in case.provenance),
    ]
    return printable("\n".join(lines), keep="\n")


def _independent(case: Case) -> set[str]:
    """The `run/tensor` tags of the case's goldens that are not snapshots of the harness's
    own output: a snapshot missed by every backend says the reference changed, not that the
    golden was copied wrong."""
    return {
        f"{run.name}/{tensor}"
        for run in case.runs
        for tensor, golden in run.golden.items()
        if not golden.snapshot
    }


def _golden(case: Case, tag: str) -> Golden:
    """The golden a comparison tag `run/tensor` names (a run name may hold a slash)."""
    for run in case.runs:
        tensor = tag.removeprefix(f"{run.name}/")
        if tensor != tag and tensor in run.golden:
            return run.golden[tensor]
    raise KeyError(f"{case.name}: no golden for {tag}")
