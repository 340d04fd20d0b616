"""Case-file input that must not reach a message or a parser unchecked: nesting and names.

A case file nested thousands deep (`x = [[[[...`) overflows the TOML parser's recursion, and a
key holding a newline or an ANSI escape would be printed raw into one-line errors and tables.
Nesting is limited to `MAX_DEPTH`, and the error names the field that goes too deep, found by
a scan of the text when the parser itself cannot get there. Every message built from a case
file goes through `printable`, which escapes control and format characters.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from harness.network import SpecError

MAX_DEPTH = 32
"""Deepest nesting of tables and arrays a case file may use; real cases need about 7."""


def printable(text: str, keep: str = "") -> str:
    """`text` with every control or format character (newline, ESC, bidi override) written
    as its Python escape (`\\n`, `\\x1b`, `\\u202e`), except those in `keep`."""
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch not in keep and unicodedata.category(ch) in ("Cc", "Cf")
        else ch
        for ch in text
    )


def plain_text(text: str, where: str) -> str:
    """Free text that `harness cases` and reports print: line breaks and tabs, but no other
    control character (an ANSI escape would restyle the reader's terminal)."""
    if printable(text, keep="\n\t\r") != text:
        raise SpecError(where, f"holds a control character: {printable(text)[:60]!r}")
    return text


def too_deep(doc: Any) -> str | None:
    """The dotted field (its first `SHOWN_KEYS` keys) whose value nests beyond MAX_DEPTH."""
    pending: list[tuple[Any, tuple[str, ...], int]] = [(doc, (), 0)]
    while pending:  # iterative: a deep document must not overflow this check either
        value, keys, depth = pending.pop()
        if depth > MAX_DEPTH:
            shown = ".".join(keys[:SHOWN_KEYS])
            return shown + (".(...)" if len(keys) > SHOWN_KEYS else "")
        if isinstance(value, Mapping):
            pending += [(v, (*keys, str(k)), depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            pending += [(v, keys, depth + 1) for v in value]
    return None


SHOWN_KEYS = 8
"""How many keys of a too-deep field the message shows."""


def deepest_field(text: str) -> str:
    """The `table.key` whose value first opens more than MAX_DEPTH brackets, by a scan of
    the raw text (strings and comments skipped); "" if none does."""
    table, key, depth, line_start, i = "", "", 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i = _after_string(text, i)
            continue
        if ch == "#":
            i = text.find("\n", i) if "\n" in text[i:] else len(text)
            continue
        if depth == 0 and ch == "\n":
            line_start, key = i + 1, ""
        elif depth == 0 and ch == "=" and not key:
            key = text[line_start:i].strip()
        elif depth == 0 and ch == "[" and not key:
            end = text.find("\n", i)
            table = text[i : end if end >= 0 else len(text)].strip("[] \t\r")
            i = end if end >= 0 else len(text)
            continue
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return ".".join(part for part in (table, key) if part)
        elif ch in "]}":
            depth = max(0, depth - 1)
        i += 1
    return ""


def _after_string(text: str, start: int) -> int:
    """Index just past the TOML string starting at `start` (basic, literal or multi-line)."""
    quote = text[start]
    delimiter = quote * 3 if text.startswith(quote * 3, start) else quote
    i = start + len(delimiter)
    while i < len(text):
        if quote == '"' and text[i] == "\\":
            i += 2
            continue
        if text.startswith(delimiter, i):
            return i + len(delimiter)
        if len(delimiter) == 1 and text[i] == "\n":
            return i  # an unterminated string: let the parser report it
        i += 1
    return i
