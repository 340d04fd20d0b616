"""PNG plots of a run: step time against size per variant, and harness overhead ratios."""

from __future__ import annotations

from pathlib import Path

from harness.bench.results import SIZE_ORDER, Results

STYLE = {"harness": "-", "native": "--", "rival": ":"}
DTYPES = ("float32", "float64")


def write_all(results: Results, out: Path) -> list[Path]:
    import matplotlib

    from harness.bench import grid

    matplotlib.use("Agg")
    written = [step_time(results, out / "step_time.png"), overhead(results, out / "overhead.png")]
    heatmap = grid.heatmap(results, out / "grid.png")
    return written + ([heatmap] if heatmap else [])


def step_time(results: Results, path: Path) -> Path:
    """Fastest step time against the step's FLOPs, one line per variant, log-log, with floor."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    labels = sorted({r.label for r in results.of("step")})
    colours = dict(zip(labels, plt.get_cmap("tab20").colors, strict=False))
    for ax, dtype in zip(axes, DTYPES, strict=True):
        records = results.of("step", dtype=dtype)
        for label in labels:
            mine = sorted((r for r in records if r.label == label), key=lambda r: r.flops)
            if mine:
                xs, ys = [r.flops for r in mine], [r.min for r in mine]
                style = STYLE.get(mine[0].role, "-")
                ax.plot(xs, ys, style, marker="o", label=label, color=colours.get(label))
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
    return _save(fig, axes, path)


def overhead(results: Results, path: Path) -> Path:
    """Harness step / native step of its library (interleaved), per backend and size."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(13, 5), sharey=True)
    sizes = [s for s in SIZE_ORDER if results.of("step", size=s)]
    for ax, dtype in zip(axes, DTYPES, strict=True):
        harness = results.of("step", role="harness", dtype=dtype)
        harness = [r for r in harness if results.native_of(r)]
        labels = sorted({r.label for r in harness})
        width = 0.8 / max(len(labels), 1)
        for i, label in enumerate(labels):
            xs, ys = [], []
            for j, size in enumerate(sizes):
                for r in (r for r in harness if r.label == label and r.size == size):
                    xs.append(j + i * width)
                    ys.append(r.interleaved_to_native or results.to_native(r))
            ax.bar(xs, ys, width, label=label)
        ax.axhline(1.0, color="k", lw=1)
        ax.set_yscale("log")
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(sizes))], sizes)
        ax.set_title(f"harness step / native step of its library, {dtype}", fontsize=10)
        ax.grid(True, axis="y", which="both", alpha=0.3)
    return _save(fig, axes, path)


def _save(fig, axes, path: Path) -> Path:
    import matplotlib.pyplot as plt

    shown: dict = {}  # label -> handle, from every panel: a variant may be in one only
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            shown.setdefault(label, handle)
    if shown:
        labels = sorted(shown, key=lambda label: (label == "GEMM floor", label))
        handles = [shown[label] for label in labels]
        axes[-1].legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
