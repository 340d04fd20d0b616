"""The part of every reproducer that is the same for all: run the case, compare, report.

`harness repro` copies these functions verbatim into each script (`EMBEDDED`), so they read
nothing but NumPy, the standard library and their arguments; the tests import them from
here. The rule is the harness's: a value passes when |a - b| <= atol + rtol * |b| everywhere
and every value is finite; the relative error is reported over non-zero expected values.
"""

from __future__ import annotations

import numpy as np


def run_case(runs, params, steps, array, host):
    """{"run/tensor": NumPy value} for every run, as the harness's step driver makes them:
    the output (and loss and gradients) of one step, or each training step's loss and the
    parameters after the last update."""
    computed = {}
    for spec in runs:
        state = {name: array(value) for name, value in params.items()}
        memory, losses, last = {}, [], None
        for (start, stop), masks in spec["steps"]:
            batch = {"x": array(spec["x"][start:stop]), "y": array(spec["y"][start:stop])}
            batch.update({name: array(mask) for name, mask in masks.items()})
            last = steps[tuple(spec["x"][start:stop].shape)](state, batch)
            if spec["task"] == "train":
                losses.append(host(last[0]))
                state, memory = spec["optimizer"].rule(spec["xp"], state, last[1], memory)
        tensors = {}
        if spec["task"] == "train":
            tensors["step_losses"] = np.array(losses)
            tensors.update({f"final.{k}": host(v) for k, v in state.items()})
        else:
            tensors["output"] = host(last[2])
        if spec["task"] == "gradient":
            tensors["loss"] = host(last[0])
            tensors.update({f"grad.{k}": host(v) for k, v in last[1].items()})
        computed.update({f"{spec['name']}/{k}": v for k, v in tensors.items()})
    return computed


def compare(name, got, expected, rtol, atol):
    """How far `got` is from `expected`: a dict with ok, max_abs, max_rel, the index of the
    worst element (the one furthest past its bound), and a problem when there is no number."""
    got = np.asarray(got, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    record = {"name": name, "ok": False, "max_abs": np.nan, "max_rel": np.nan, "excess": np.inf}
    record.update(index=None, got=None, expected=None, problem="")
    if got.shape != expected.shape:
        record["problem"] = f"shape {got.shape}, expected {expected.shape}"
        return record
    with np.errstate(all="ignore"):
        diff = np.abs(got - expected)
        scale = np.abs(expected)
        excess = np.where(np.isnan(diff), np.inf, diff / (atol + rtol * scale))
        nonzero = scale > 0
        record["max_abs"] = float(np.nanmax(diff, initial=0.0))
        record["max_rel"] = float(np.nanmax(diff[nonzero] / scale[nonzero], initial=0.0))
    if got.size:
        flat = int(np.argmax(excess))
        index = np.unravel_index(flat, got.shape)
        record.update(index=tuple(int(i) for i in index), excess=float(excess.flat[flat]))
        record.update(got=float(got.flat[flat]), expected=float(expected.flat[flat]))
    else:
        record["excess"] = 0.0
    bad = int(np.count_nonzero(~np.isfinite(got)))
    if bad:
        record["problem"] = f"{bad} non-finite value(s)"
    record["ok"] = not bad and bool(np.all(diff <= atol + rtol * scale))
    return record


def describe(record):
    """One line: the tensor, its errors, where the worst element is, and the verdict."""
    if record["problem"] and record["index"] is None:
        return f"{record['name']}: {record['problem']}"
    where = ""
    if record["index"] is not None:
        at = record["index"] if len(record["index"]) != 1 else record["index"][0]
        where = f" at {at} (got {record['got']!r}, expected {record['expected']!r})"
    verdict = "ok" if record["ok"] else record["problem"] or "beyond tolerance"
    return (
        f"{record['name']}: max abs err {record['max_abs']:.2e}, max rel err "
        f"{record['max_rel']:.2e}{where}: {verdict}"
    )


def report(computed, expected, rtol, atol, title):
    """Print every tensor's comparison and the worst one; 0 when all agree, else 1."""
    print(title)
    print(f"tolerance: |a - b| <= {atol!r} + {rtol!r} * |b| (the harness's, for this case)")
    records = []
    for name, value in expected.items():
        if name not in computed:
            record = compare(name, np.zeros(0), value, rtol, atol)
            record["problem"] = "not computed"
        else:
            record = compare(name, computed[name], value, rtol, atol)
        records.append(record)
        print(f"  {describe(record)}")
    worst = max(records, key=lambda r: (not r["ok"], r["excess"]))
    failed = sum(not r["ok"] for r in records)
    print(f"worst: {describe(worst)}")
    if failed:
        print(f"DISAGREE: {failed} of {len(records)} tensors beyond tolerance")
        return 1
    print(f"agree: all {len(records)} tensors within tolerance")
    return 0


EMBEDDED = (run_case, compare, describe, report)
"""What each script holds, in this order."""
