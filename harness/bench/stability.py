"""Whether an interleaved ratio can be published: the spread of each side, and a sane value.

A ratio comes from blocks of calls alternating two steps in A-B-B-A cycles in one process
(bench/timing.py). Published is the fastest block of one side over the fastest of the other.
On a shared machine either side can be disturbed for part of the measurement (a busy
neighbour stalls torch's OpenMP threads: 20 ms instead of 125 µs), and then the fastest block
of that side is no longer its speed. The checks below catch that from the samples alone:

- spread: each side's fastest tenth of blocks lies within SPREAD_LIMIT of its fastest block,
  so the minimum was reached repeatedly, not once;
- halves: the ratio from the first half of the cycles and from the second half agree within
  HALVES_LIMIT, so the figure does not depend on when it was taken;
- anchored: each side's fastest block lies within a factor ANCHOR_LIMIT of the fastest
  sample of the same code timed on its own in the same process (its pytest-benchmark run),
  so that a side slowed (or sped) for the whole measurement is caught by a measurement taken
  at another moment;
- plausible: the ratio lies within PLAUSIBLE; no variant here does the same maths five times
  faster than the library's own code, nor a thousand times slower.

A measurement that fails is taken again (bench/timing.py); one that fails every time is
published as `unstable`, never as met or missed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

SPREAD_LIMIT = 0.15
HALVES_LIMIT = 0.10
PLAUSIBLE = (0.2, 1000.0)
ANCHOR_LIMIT = 1.5
"""Alternating two steps legitimately costs each some cache: at 2 µs blocks the measured side
runs up to about 1.4x its fastest alone on this machine; a disturbed side runs 4-100x."""
RETRIES = 2
"""Measurements taken again after one that fails the checks (bench/timing.py)."""
MIN_BLOCKS = 4
"""Blocks a side needs, at least, for its spread to mean anything."""


@dataclass(frozen=True)
class Interleaved:
    """An interleaved measurement, summarised: what the checks and the report need."""

    ratio: float
    """Fastest block of the measured side over the fastest of the baseline."""
    spread: tuple[float, float]
    """Per side: its fastest tenth of blocks (at least the second fastest) over its fastest, - 1."""
    halves: tuple[float, float]
    """The ratio from the first half of the cycles, and from the second."""
    blocks: int
    """Blocks per side."""
    fastest: tuple[float, float] = (math.nan, math.nan)
    """Per side: its fastest block, seconds per call."""
    anchors: tuple[float | None, float | None] = (None, None)
    """Per side: its fastest sample timed on its own in the same process, when there is one."""
    attempts: int = 1
    """Measurements taken to get this one (the earlier ones failed a check)."""

    @property
    def problems(self) -> list[str]:
        """Why the ratio cannot be published; empty when it can."""
        return judge(self)

    @property
    def stable(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {**asdict(self), "stable": self.stable, "problems": self.problems}

    @classmethod
    def from_json(cls, data: dict) -> Interleaved:
        fields = ("ratio", "spread", "halves", "blocks", "fastest", "anchors", "attempts")
        known = {k: data[k] for k in fields if k in data}
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in known.items()})


def summarise(
    a: Sequence[float],
    b: Sequence[float],
    attempts: int = 1,
    anchors: tuple[float | None, float | None] = (None, None),
) -> Interleaved:
    """Summarise per-block times (seconds per call) of side `a` and baseline `b`, in the
    order they were taken (equal counts, from whole A-B-B-A cycles), with each side's
    fastest sample timed on its own (`anchors`, None where there is none)."""
    if len(a) != len(b) or not a:
        raise ValueError(f"need equal, non-empty block counts, got {len(a)} and {len(b)}")
    half = len(a) // 2
    halves = (_ratio(a[:half], b[:half]), _ratio(a[half:], b[half:])) if half else (math.nan,) * 2
    spread, fastest = (_spread(a), _spread(b)), (min(a), min(b))
    return Interleaved(_ratio(a, b), spread, halves, len(a), fastest, tuple(anchors), attempts)


def judge(m: Interleaved) -> list[str]:
    """The checks a published ratio must pass, as the reasons it fails them."""
    values = (m.ratio, *m.spread, *m.halves)
    if any(not math.isfinite(v) for v in values):
        return ["a figure is NaN or infinite"]
    problems = []
    if m.blocks < MIN_BLOCKS:
        problems.append(f"{m.blocks} blocks a side, fewer than {MIN_BLOCKS}")
    for side, spread in zip(("measured", "baseline"), m.spread, strict=True):
        if spread > SPREAD_LIMIT:
            problems.append(f"{side} side spread {spread:.0%} > {SPREAD_LIMIT:.0%}")
    first, second = m.halves
    if abs(first / second - 1) > HALVES_LIMIT:
        problems.append(f"halves disagree: {first:.3g} then {second:.3g}")
    for side, fastest, anchor in zip(("measured", "baseline"), m.fastest, m.anchors, strict=True):
        if anchor and not 1 / ANCHOR_LIMIT <= fastest / anchor <= ANCHOR_LIMIT:
            problems.append(f"{side} side at {fastest / anchor:.2g}x its fastest alone")
    low, high = PLAUSIBLE
    if not low <= m.ratio <= high:
        problems.append(f"ratio {m.ratio:.3g} outside the plausible {low:g}-{high:g}")
    return problems


def _ratio(a: Sequence[float], b: Sequence[float]) -> float:
    return min(a) / min(b)


def _spread(blocks: Sequence[float]) -> float:
    ordered = sorted(blocks)
    k = max(1, len(ordered) // 10)
    return ordered[min(k, len(ordered) - 1)] / ordered[0] - 1
