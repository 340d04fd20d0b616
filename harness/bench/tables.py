"""The Markdown report: step time by size, the shape grid, the 1-thread series, training loop,
compile time, GEMM rate, targets, and every figure that failed its stability checks."""

from __future__ import annotations

from harness.bench import fmt, grid
from harness.bench.results import SHAPES, SIZE_ORDER, Record, Results
from harness.bench.stability import RETRIES, Interleaved
from harness.bench.targets import rows as target_rows

X = fmt.TIMES

ROLE_ORDER = {"harness": 0, "native": 1, "rival": 2}


def report(results: Results) -> str:
    parts = [
        machine(results),
        "## Step time (forward + gradients), by size",
        f"{X} native: against the native code of the same library, in the same process: "
        "(interleaved) from A-B-B-A blocks of calls alternating the two, each block's mean per "
        "call, fastest block against fastest block; (min) from the fastest samples of the two "
        f"benchmarks, taken one after the other. {X} fastest and {X} floor are of fastest "
        "samples; the floor is the step's matmul FLOPs at the fastest GEMM rate of this run. "
        "native is the library's idiomatic step (the textbook loss, no eps), same-maths the "
        "fastest native code for exactly the harness's maths (the seeds' eps inside the log, "
        f"the exact gradient), checked against the float64 reference when it is timed; {X} "
        "same-maths is a harness step against it, interleaved. An interleaved ratio marked "
        "`?` failed its stability checks after "
        f"{RETRIES + 1} measurements (listed under *Unstable figures*) and is never a verdict.",
    ]
    parts += [_step_table(results, size) for size in SIZE_ORDER if results.of("step", size=size)]
    parts += [_single_thread(results), grid.table(results)]
    parts += [_rival_table(results), _train_table(results), _compile_table(results)]
    parts += [_gemm_table(results)]
    parts += [_targets_table(results), _unstable(results), _skipped(results)]
    return "\n\n".join(p for p in parts if p) + "\n"


def machine(results: Results) -> str:
    """Where the numbers come from: CPU, Python, library versions, BLAS, threads, devices."""
    info = results.machine
    cpu = info.get("cpu", {})
    per_process = info.get("xp_harness", {})
    first = next(iter(per_process.values()), {})
    versions = ", ".join(f"{k} {v}" for k, v in first.get("versions", {}).items())
    lines = [
        "## Machine",
        "",
        f"- CPU: {cpu.get('brand_raw', '?')}, {cpu.get('count', '?')} logical cores, "
        f"{cpu.get('hz_actual_friendly', '?')}; {info.get('system', '')} {info.get('release', '')}",
        f"- Python {info.get('python_version', '?')}; {versions}",
    ]
    for process, extra in per_process.items():
        devices = extra.get("devices", {})
        shown = {k: v for k, v in devices.items() if k != "numpy_blas"}
        blas = devices.get("numpy_blas", {})
        if blas:
            shown["numpy BLAS"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
        lines.append(f"- process `{process}`: {shown or 'no device info'}")
    if stamp := results.machine.get("datetime"):
        lines.append(f"- run at {stamp}")
    return "\n".join(lines)


def _step_table(results: Results, size: str, series: str = "") -> str:
    b, d_in, h, d_out = SHAPES[size]
    records = sorted(results.of("step", size=size, series=series), key=_order)
    if not records:
        return ""
    flops = records[0].flops
    head = f"### {size}: B={b}, D_in={d_in}, H={h}, D_out={d_out}; {flops:,} FLOPs a step"
    if series:
        head = f"## {size}, {series} series"
    lines = _header(
        "variant",
        "dtype",
        "min",
        "median",
        "IQR",
        f"{X} native (interleaved)",
        f"{X} same-maths (interleaved)",
        f"{X} native (min)",
        f"{X} fastest",
        f"{X} floor",
    )
    for r in records:
        floor = results.floor(r)
        lines.append(
            _row(
                *_timing(r),
                checked(r.interleaved_to_native, r),
                _same_maths_cell(r),
                fmt.ratio(results.to_native(r)),
                fmt.ratio(results.to_fastest(r)),
                fmt.ratio(r.min / floor if floor else None),
            )
        )
    return head + "\n\n" + "\n".join(lines)


def _same_maths_cell(r: Record) -> str:
    value = r.interleaved_to_same_maths
    if value is None:
        return "-"
    return fmt.ratio(value) + (" ?" if r.same_maths_problems else "")


def checked(value: float | None, record: Record) -> str:
    """An interleaved ratio, with `?` when its measurement failed the stability checks."""
    return fmt.ratio(value) + (" ?" if value is not None and record.problems else "")


def _single_thread(results: Results) -> str:
    """The homework step with every library on one thread, its own processes."""
    table = _step_table(results, "homework", "1-thread")
    if not table:
        return ""
    note = (
        "Each library told to use one thread (torch.set_num_threads(1), OMP_NUM_THREADS, "
        "OPENBLAS_NUM_THREADS, MKL_NUM_THREADS = 1, XLA without its thread pool), in "
        "processes of its own: at this size a second thread only costs a fork and a join."
    )
    head, _, body = table.partition("\n\n")
    return f"{head}\n\n{note}\n\n{body}"


def _unstable(results: Results) -> str:
    """Every figure whose measurement failed the stability checks, with the reasons."""
    lines = []
    for r in sorted(results.records, key=lambda r: (r.kind, r.label, r.size, r.dtype, r.series)):
        where = f"{r.size}, {r.dtype}{', ' + r.series if r.series else ''}"
        if r.problems:
            m = r.measurement
            lines.append(
                f"- {r.label}, {where}: {fmt.ratio(m.ratio)} after {m.attempts} measurements; "
                + "; ".join(r.problems)
            )
        if r.same_maths_problems:
            m = Interleaved.from_json(r.interleaved_same_maths)
            lines.append(
                f"- {r.label} / same-maths, {where}: {fmt.ratio(m.ratio)} after {m.attempts} "
                "measurements; " + "; ".join(r.same_maths_problems)
            )
    if not lines:
        return ""
    return "## Unstable figures\n\n" + "\n".join(lines)


def _rival_table(results: Results) -> str:
    records = [r for r in results.of("step", role="rival") if r.interleaved_vs_harness]
    if not records:
        return ""
    head = (
        "## Keras 3 against the harness backend of its own library, in one process\n\n"
        "Keras's `train_on_batch` step time over the harness step on the same library, from "
        "interleaved A-B-B-A blocks: a cross-check of the Keras rows above that no other "
        "process's timing enters. Above 1: the harness step is faster."
    )
    lines = _header("rival", "harness backend", "size", "dtype", "Keras / harness")
    for r in sorted(records, key=lambda r: (r.name, r.dtype, SIZE_ORDER.index(r.size))):
        backend = r.name.removeprefix("keras-")
        ratio = checked(r.interleaved_vs_harness, r)
        lines.append(_row(r.name, backend, r.size, r.dtype, ratio))
    return head + "\n\n" + "\n".join(lines)


def _train_table(results: Results) -> str:
    records = sorted(results.of("train"), key=_order)
    if not records:
        return ""
    steps = records[0].steps
    head = (
        f"## Training loop: task3-train run x1, {steps} epochs of SGD on one sample\n\n"
        "`execute` is `harness.driver.execute`, the path of `harness run`, with every batch "
        "converted; `fused` is all epochs in one XLA program (`lax.fori_loop` under `jax.jit`)."
    )
    lines = _header("variant", "dtype", "min", "median", "IQR", "min per step", f"{X} native")
    for r in records:
        lines.append(
            _row(
                *_timing(r),
                fmt.seconds(r.min / r.steps),
                fmt.ratio(results.to_native(r)),
            )
        )
    return head + "\n\n" + "\n".join(lines)


def _compile_table(results: Results) -> str:
    records = sorted(results.of("compile"), key=lambda r: (r.label, SIZE_ORDER.index(r.size)))
    if not records:
        return ""
    head = (
        "## Compile time: the first call of a freshly built step, never mixed into the steady state"
    )
    lines = _header("variant", "size", "dtype", "min", "max", "rounds")
    for r in records:
        lines.append(
            _row(
                r.label,
                r.size,
                r.dtype,
                fmt.seconds(r.min),
                fmt.seconds(r.stats["max"]),
                str(r.stats["rounds"]),
            )
        )
    return head + "\n\n" + "\n".join(lines)


def _gemm_table(results: Results) -> str:
    records = sorted(results.of("gemm"), key=lambda r: (r.dtype, r.label, r.when != "start"))
    if not records:
        return ""
    head = (
        "## GEMM rate (the floor)\n\nAn n x n by n x n matmul in each library, timed near the "
        "start and at the end of its process; the floor takes the fastest rate of the run."
    )
    lines = _header("matmul", "when", "dtype", "n", "min", "GFLOP/s (min)")
    for r in records:
        n = round((r.flops / 2) ** (1 / 3))
        rate = f"{r.flops / r.min / 1e9:.1f}"
        lines.append(_row(r.label, r.when or "-", r.dtype, str(n), fmt.seconds(r.min), rate))
    return head + "\n\n" + "\n".join(lines)


def _targets_table(results: Results) -> str:
    lines = _header("target", "size", "dtype", "figure", "limit", "verdict", "note")
    for row in target_rows(results):
        show = fmt.seconds if row.unit == "s" else fmt.ratio
        limit = ("≤ " if row.at_most else "≥ ") + show(row.limit)
        note = row.note or "; ".join(row.problems)
        lines.append(
            _row(row.target, row.size, row.dtype, show(row.figure), limit, row.verdict, note)
        )
    return "## Targets (issues 17, 11 and 4)\n\n" + "\n".join(lines)


def _skipped(results: Results) -> str:
    if not results.skipped:
        return ""
    return "## Not timed in this run\n\n" + "\n".join(f"- {line}" for line in results.skipped)


def _timing(r: Record) -> tuple[str, ...]:
    """The cells every timing table opens with: variant, dtype, min, median, IQR."""
    return (r.label, r.dtype, fmt.seconds(r.min), fmt.seconds(r.median), fmt.seconds(r.iqr))


def _order(r: Record):
    return (r.dtype, ROLE_ORDER.get(r.role, 3), r.min)


def _header(*names: str) -> list[str]:
    return [_row(*names), _row(*["---"] * len(names))]


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"
