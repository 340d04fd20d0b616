"""Numbers as the report prints them: times with a unit, ratios with two decimals."""

from __future__ import annotations

TIMES = "\N{MULTIPLICATION SIGN}"
"""Ratios print as 1.23x with this sign, which ruff would flag as a look-alike if spelt out."""


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def ratio(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}{TIMES}" if value >= 100 else f"{value:.2f}{TIMES}"
