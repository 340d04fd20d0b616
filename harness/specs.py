"""Spec fields: what a field of a case file's table may hold, checked in one line per problem.

A `Field` says a field's type, the values valid in a case file (`valid`: a `Range` of numbers
or a tuple of choices), the values a generator should draw (`draw`, inside `valid`), and its
default (`REQUIRED` when it has none). `read_fields` checks a table against its fields and
returns it with the defaults filled in, or raises `SpecError` naming the field
(`model.layers[2].p: must be in [0, 1), got 1.0`). Nothing here imports an array library.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple


class SpecError(ValueError):
    """A layer, loss, optimizer or case spec is malformed; `field` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Range(NamedTuple):
    """An interval of numbers; `None` for an unbounded end. Closed ends unless said open."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        if not math.isfinite(value):
            return False
        above = self.low is None or value > self.low or (value == self.low and not self.open_low)
        below = (
            self.high is None or value < self.high or (value == self.high and not self.open_high)
        )
        return above and below

    def phrase(self) -> str:
        """How an error says it: `in [0, 1)`, `>= 1`."""
        one_sided = self.low is None or self.high is None
        return str(self) if one_sided else f"in {self}"

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.open_low else '>='} {_number(self.low)}"
        if self.low is None:
            return f"{'<' if self.open_high else '<='} {_number(self.high)}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"{left}{_number(self.low)}, {_number(self.high)}{right}"


def _number(value: float | None) -> str:
    return repr(value) if isinstance(value, float) and not value.is_integer() else f"{value:g}"


REQUIRED = object()
"""The default of a field that a spec must give."""

NESTED = "layers"
"""The type of a field that holds a nested list of layer specs (a residual's `layers`)."""


@dataclass(frozen=True)
class Field:
    """One field of a spec table: its type, its valid values, what to draw, its default."""

    type: Any
    """int, float, bool, str, or NESTED. A float field takes an integer too (`p = 0`)."""
    valid: Range | tuple[Any, ...] | None = None
    """A Range for numbers, the allowed values for a str; None: any value of the type."""
    draw: Range | tuple[Any, ...] | None = None
    """What a generator draws: a Range inside `valid`, or choices; None: `valid` itself."""
    default: Any = REQUIRED
    doc: str = ""

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def drawn(self) -> Range | tuple[Any, ...] | None:
        """The values a generator should draw from (for a bool: both)."""
        if self.draw is not None:
            return self.draw
        return (False, True) if self.type is bool else self.valid


def read_fields(
    spec: Any, fields: Mapping[str, Field], where: str, known: Sequence[str] = ("type",)
) -> dict[str, Any]:
    """`spec` checked against `fields` (plus the `known` keys, such as `type`), with
    defaults filled in; the first problem is a SpecError naming the field."""
    if not isinstance(spec, Mapping):
        raise SpecError(where, f"must be a table, got {type(spec).__name__}")
    reject_unknown(spec, (*known, *fields), where)
    values = {key: spec[key] for key in known if key in spec}
    for name, field in fields.items():
        if name not in spec:
            if field.required:
                raise SpecError(f"{where}.{name}", "missing")
            values[name] = field.default
            continue
        values[name] = check_value(spec[name], field, f"{where}.{name}")
    return values


def check_value(value: Any, field: Field, where: str) -> Any:
    """The value, if it has the field's type and is among its valid values."""
    kind = field.type
    if kind is NESTED:
        if not isinstance(value, list):
            raise SpecError(where, f"must be a list of layer tables, got {type(value).__name__}")
        return value
    accepted = (int, float) if kind is float else kind
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, accepted):
        raise SpecError(where, f"has the wrong type: {value!r}")
    if kind is float:
        value = float(value)
    valid = field.valid
    if isinstance(valid, Range) and value not in valid:
        raise SpecError(where, f"must be {valid.phrase()}, got {value!r}")
    if isinstance(valid, tuple) and value not in valid:
        raise SpecError(where, f"must be one of {', '.join(map(str, valid))}, got {value!r}")
    return value


def reject_unknown(spec: Any, known: Sequence[str], where: str) -> None:
    """A misspelt field (`epoch = 100`) must not be silently ignored: name it, and the known."""
    if isinstance(spec, Mapping) and (unknown := [k for k in spec if k not in known]):
        prefix = f"{where}." if where else ""
        raise SpecError(f"{prefix}{unknown[0]}", f"unknown field (known: {', '.join(known)})")


def require_type(spec: Any, kinds: Mapping[str, Any], what: str, where: str) -> Any:
    """The declaration `spec["type"]` names among `kinds`; a missing or unknown one named,
    after any misspelt field (`typ = "relu"`) is."""
    if not isinstance(spec, Mapping):
        raise SpecError(where, f"must be a table, got {type(spec).__name__}")
    if "type" not in spec:
        every = dict.fromkeys(f for kind in kinds.values() for f in ("type", *kind.fields))
        reject_unknown(spec, tuple(every), where)
        raise SpecError(f"{where}.type", "missing")
    name = spec["type"]
    if not isinstance(name, str):
        raise SpecError(f"{where}.type", f"has the wrong type: {name!r}")
    if name not in kinds:
        raise SpecError(f"{where}.type", f"unknown {what} {name!r} (known: {', '.join(kinds)})")
    return kinds[name]


def read(spec: Any, kinds: Mapping[str, Any], what: str, where: str) -> tuple[Any, dict]:
    """(declaration, fields with defaults) of a `{type = NAME, ...}` table, or a SpecError."""
    kind = require_type(spec, kinds, what, where)
    return kind, read_fields(spec, kind.fields, where)
