"""`harness bench --compare OLD NEW`: what changed between two runs, and what is beyond noise.

Rows are matched by kind, variant, size, dtype and series. A change is a regression only when
it exceeds the noise both runs measured for that row: for a step time, the spread of each
run's fastest samples (first quartile over minimum); for a harness/native ratio, the spread
and half-to-half disagreement of each interleaved measurement (runs from before the stability
checks fall back to the spread of both sides' samples). NOISE_FLOOR keeps a run that happens
to be very steady from flagging a change no rerun would reproduce; `--threshold PCT` sets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.bench import fmt
from harness.bench.results import SIZE_ORDER, Record, Results, sample_spread

NOISE_FLOOR = 0.03
KINDS = ("step", "grid")


@dataclass(frozen=True)
class Change:
    key: tuple[str, str, str, str, str]
    """(kind, label, size, dtype, series)."""
    old: Record
    new: Record
    old_ratio: float | None
    new_ratio: float | None
    time_noise: float
    ratio_noise: float | None

    @property
    def time_change(self) -> float:
        return self.new.min / self.old.min - 1

    @property
    def ratio_change(self) -> float | None:
        if self.old_ratio is None or self.new_ratio is None:
            return None
        return self.new_ratio / self.old_ratio - 1

    @property
    def slower(self) -> bool:
        return self.time_change > self.time_noise

    @property
    def ratio_up(self) -> bool:
        change = self.ratio_change
        return change is not None and change > (self.ratio_noise or 0.0)

    @property
    def regressed(self) -> bool:
        return self.slower or self.ratio_up


def changes(old: Results, new: Results, floor: float = NOISE_FLOOR) -> list[Change]:
    """Every row present in both runs, in report order; `floor` is the smallest change that
    may count as a regression (the --threshold), whatever noise the runs measured."""
    before = {_key(r): r for r in old.records if r.kind in KINDS}
    found = []
    for r in new.records:
        if r.kind in KINDS and (was := before.get(_key(r))):
            ratio_noise = _ratio_noise(old, was, new, r, floor)
            time_noise = max(_sample_spread(was), _sample_spread(r), floor)
            found.append(
                Change(_key(r), was, r, _ratio(old, was), _ratio(new, r), time_noise, ratio_noise)
            )
    return sorted(found, key=_order)


def report(found: list[Change], old: Path, new: Path, floor: float = NOISE_FLOOR) -> str:
    """A Markdown table of every change, regressions flagged, and a one-line summary."""
    head = [
        f"# {new} against {old}",
        "",
        "| variant | size | dtype | old min | new min | time | old ratio | new ratio | ratio "
        "| noise (time / ratio) | flag |",
        "| --- " * 11 + "|",
    ]
    lines = []
    for c in found:
        _, label, size, dtype, series = c.key
        where = size + (f" ({series})" if series else "")
        noise = f"{c.time_noise:.1%} / " + (
            "-" if c.ratio_noise is None else f"{c.ratio_noise:.1%}"
        )
        flags = [f for f, on in (("slower", c.slower), ("ratio up", c.ratio_up)) if on]
        flags += ["unstable in new run"] if c.new.problems else []
        cells = (
            label,
            where,
            dtype,
            fmt.seconds(c.old.min),
            fmt.seconds(c.new.min),
            f"{c.time_change:+.1%}",
            fmt.ratio(c.old_ratio),
            fmt.ratio(c.new_ratio),
            "-" if c.ratio_change is None else f"{c.ratio_change:+.1%}",
            noise,
            ", ".join(f if f.startswith("unstable") else f"**{f}**" for f in flags),
        )
        lines.append("| " + " | ".join(cells) + " |")
    regressed = sum(c.regressed for c in found)
    summary = (
        f"{len(found)} rows compared, {regressed} beyond the measured noise "
        f"(and the {floor:.1%} threshold)."
    )
    return "\n".join(head + lines + ["", summary])


def _key(r: Record) -> tuple[str, str, str, str, str]:
    return (r.kind, r.label, r.size, r.dtype, r.series)


def _ratio(results: Results, r: Record) -> float | None:
    if r.interleaved_to_native is not None:
        return r.interleaved_to_native
    return results.to_native(r)


def _sample_spread(r: Record) -> float:
    return sample_spread(r)


def _ratio_noise(
    old: Results, was: Record, new: Results, now: Record, floor: float
) -> float | None:
    noises = [_one_ratio_noise(old, was), _one_ratio_noise(new, now)]
    if None in noises:
        return None
    return max(*noises, floor)


def _one_ratio_noise(results: Results, r: Record) -> float | None:
    measured = r.measurement
    if measured is not None:
        first, second = measured.halves
        return max(sum(measured.spread), abs(first / second - 1))
    native = results.native_of(r)
    return _sample_spread(r) + _sample_spread(native) if native else None


def _order(c: Change):
    kind, label, size, dtype, series = c.key
    rank = SIZE_ORDER.index(size) if size in SIZE_ORDER else len(SIZE_ORDER)
    return (kind != "step", series, dtype, rank, c.new.batch, c.new.width, label)
