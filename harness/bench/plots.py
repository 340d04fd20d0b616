"""PNG plots of a run: step time against size per variant, and harness overhead ratios."""

from __future__ import annotations

from pathlib import Path

from harness.bench.results import SIZE_ORDER, Results

STYLE = {"harness": "-", "native": "--", "rival": ":"}
DTYPES = ("float32", "float64")


def write_all(results: Results, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    return [step_time(results, out / "step_time.png"), overhead(results, out / "overhead.png")]


def step_time(results: Results, path: Path) -> Path:
    """Fastest step time against the step's FLOPs, one line per variant, log-log, with floor."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    for ax, dtype in zip(axes, DTYPES, strict=True):
        records = results.of("step", dtype=dtype)
        for label in sorted({r.label for r in records}):
            mine = sorted((r for r in records if r.label == label), key=lambda r: r.flops)
            ax.plot(
                [r.flops for r in mine],
                [r.min for r in mine],
                STYLE.get(mine[0].role, "-"),
                marker="o",
                label=label,
            )
        floors = sorted({(r.flops, results.floor(r)) for r in records if results.floor(r)})
        if floors:
            ax.plot(*zip(*floors, strict=True), "k-.", lw=2, label="GEMM floor")
        sizes = {r.flops: r.size for r in records}
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(list(sizes), [f"{s}\n{f:.2g} FLOP" for f, s in sizes.items()])
        ax.minorticks_off()
        ax.set_title(f"step time (min), {dtype}")
        ax.set_ylabel("seconds")
        ax.grid(True, which="major", alpha=0.3)
    _legend(axes[-1])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _legend(ax) -> None:
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))


def overhead(results: Results, path: Path) -> Path:
    """Harness step / native step of the same library, per backend and size (log scale)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    for ax, dtype in zip(axes, DTYPES, strict=True):
        harness = [
            r for r in results.of("step", role="harness", dtype=dtype) if results.native_of(r)
        ]
        labels = sorted({r.label for r in harness})
        width = 0.8 / max(len(labels), 1)
        for i, label in enumerate(labels):
            xs, ys = [], []
            for j, size in enumerate(SIZE_ORDER):
                found = [r for r in harness if r.label == label and r.size == size]
                if found:
                    xs.append(j + i * width)
                    ys.append(results.to_native(found[0]))
            ax.bar(xs, ys, width, label=label)
        ax.axhline(1.0, color="k", lw=1)
        ax.set_yscale("log")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(SIZE_ORDER))], SIZE_ORDER)
        ax.set_title(f"harness step / native step of its library (min), {dtype}")
        ax.grid(True, axis="y", which="both", alpha=0.3)
    _legend(axes[-1])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
