"""Read the merged pytest-benchmark JSON into records, and the ratios every table shows.

Every ratio is of fastest samples (min over rounds): on this noisy, shared machine the minimum
moves by about 10% between runs where the median moves by up to 2x.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from harness.bench.stability import Interleaved

SHAPES = {
    "homework": (2, 3, 4, 2),
    "medium": (256, 784, 256, 10),
    "large": (4096, 1024, 1024, 10),
}
"""(batch, d_in, hidden, d_out) of each size: the one place they are written (bench/ reads it)."""
SIZE_ORDER = tuple(SHAPES)


@dataclass(frozen=True)
class Record:
    kind: str
    """step, train, compile or gemm."""
    label: str
    dtype: str
    size: str = ""
    role: str = ""
    name: str = ""
    flavour: str = ""
    library: str = ""
    flops: int = 0
    steps: int = 0
    when: str = ""
    """For the GEMM rate: "start" or "end" of its process."""
    interleaved_to_native: float | None = None
    """min / min of the native step of its library, from A-B-B-A blocks in one process."""
    interleaved_vs_harness: float | None = None
    """For a rival: its min / min of the harness step of its library, interleaved likewise."""
    interleaved: dict | None = field(default=None, compare=False, hash=False)
    """The interleaved measurement behind either ratio, summarised (stability.Interleaved);
    None in runs from before the stability checks."""
    interleaved_to_same_maths: float | None = None
    """For a harness step: min / min of its library's same-maths native step (the seeds' maths
    exactly), interleaved likewise."""
    interleaved_same_maths: dict | None = field(default=None, compare=False, hash=False)
    """The interleaved measurement behind that ratio; None in runs from before issue 17."""
    reference_error: float | None = None
    """For a same-maths native: its float64 step's distance from the float64 reference,
    relative to each tensor's largest entry, checked at bench time."""
    threads: int = 0
    """Threads the libraries were told to use; 0: their default (runs before issue 11)."""
    series: str = ""
    """"" for the main run, "1-thread" for the single-thread series."""
    batch: int = 0
    width: int = 0
    """For the shape grid: batch and width (D_in = H)."""
    stats: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def min(self) -> float:
        return self.stats["min"]

    @property
    def median(self) -> float:
        return self.stats["median"]

    @property
    def iqr(self) -> float:
        return self.stats["iqr"]

    @property
    def measurement(self) -> Interleaved | None:
        return Interleaved.from_json(self.interleaved) if self.interleaved else None

    @property
    def problems(self) -> list[str]:
        """Why its interleaved ratio is unstable (stability.judge); [] if stable or unchecked."""
        measured = self.measurement
        return measured.problems if measured else []

    @property
    def same_maths_problems(self) -> list[str]:
        """Why its interleaved ratio to the same-maths native is unstable; [] if stable."""
        data = self.interleaved_same_maths
        return Interleaved.from_json(data).problems if data else []


@dataclass
class Results:
    records: list[Record]
    machine: dict
    skipped: list[str] = field(default_factory=list)
    """"what: why" of everything the run could not time."""

    def of(self, kind: str, **match) -> list[Record]:
        """Records of `kind` whose fields equal `match`; from the main series unless `series`
        is given."""
        match.setdefault("series", "")
        return [
            r
            for r in self.records
            if r.kind == kind and all(getattr(r, k) == v for k, v in match.items())
        ]

    def gemm_rate(self, dtype: str) -> float | None:
        """The fastest matmul rate of any library in this run, FLOP/s."""
        rates = [r.flops / r.min for r in self.of("gemm", dtype=dtype)]
        return max(rates, default=None)

    def floor(self, record: Record) -> float | None:
        """Seconds the step's FLOPs take at the run's best GEMM rate."""
        rate = self.gemm_rate(record.dtype)
        return record.flops / rate if rate and record.flops else None

    def native_of(self, record: Record) -> Record | None:
        """The native code of the record's library that it is measured against."""
        if record.role == "rival" or (record.role == "native" and not record.flavour):
            return None
        flavour = "fused" if record.flavour == "fused" else ""
        peers = self.of(
            record.kind,
            size=record.size,
            dtype=record.dtype,
            library=record.library,
            series=record.series,
        )
        for r in peers:
            if r.role == "native" and r.flavour == flavour and r is not record:
                return r
        return None

    def to_native(self, record: Record) -> float | None:
        native = self.native_of(record)
        return record.min / native.min if native else None

    def to_fastest(self, record: Record) -> float:
        peers = self.of(record.kind, size=record.size, dtype=record.dtype, series=record.series)
        return record.min / min(r.min for r in peers)


def sample_spread(r: Record) -> float:
    """How far a record's fastest tenth of rounds (the first quartile in runs from before
    issue 11) reaches above its fastest round: the noise of its minimum."""
    return r.stats.get("p10", r.stats.get("q1", r.min)) / r.min - 1


def load(path: Path) -> Results:
    data = json.loads(Path(path).read_text())
    records = []
    for bench in data["benchmarks"]:
        info = bench.get("extra_info", {})
        if "kind" not in info:
            continue
        known = {k: info[k] for k in Record.__dataclass_fields__ if k in info and k != "stats"}
        records.append(Record(**known, stats=bench["stats"]))
    machine = {**data.get("machine_info", {}), "datetime": data.get("datetime")}
    return Results(records, machine, data.get("skipped", []))


def merge(parts: list[Path], out: Path, groups: dict[str, dict], skipped: list[str]) -> Path:
    """One JSON from the per-process files: every benchmark, and each process's machine info."""
    merged: dict = {"benchmarks": [], "machine_info": {}, "groups": groups, "skipped": skipped}
    for part in parts:
        data = json.loads(part.read_text())
        process = part.stem
        for bench in data["benchmarks"]:
            bench.setdefault("extra_info", {})["process"] = process
            rounds = sorted(bench["stats"].pop("data", None) or [])  # kept in raw/ only
            if rounds:
                bench["stats"]["p10"] = rounds[len(rounds) // 10]
        merged["benchmarks"] += data["benchmarks"]
        info = data.get("machine_info", {})
        extra = info.pop("xp_harness", {})
        merged["machine_info"] = merged["machine_info"] or info
        merged["machine_info"].setdefault("xp_harness", {})[process] = extra
        for key in ("commit_info", "datetime", "version"):
            merged.setdefault(key, data.get(key))
    out.write_text(json.dumps(merged, indent=1))
    return out
