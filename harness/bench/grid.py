"""The shape grid, batch x width, as Markdown tables and as a heat map of harness / native."""

from __future__ import annotations

from pathlib import Path

from harness.bench import fmt
from harness.bench.results import Record, Results

LIBRARIES = ("numpy", "jax", "torch")
TARGET = 1.15
"""Issue 11: no shape beyond this on NumPy or JAX (targets.GRID_LIMIT)."""
DTYPES = ("float32", "float64")


def cells(results: Results, library: str, dtype: str) -> dict[tuple[int, int], Record]:
    return {(r.batch, r.width): r for r in results.of("grid", name=library, dtype=dtype)}


def axes(results: Results) -> tuple[list[int], list[int]]:
    records = results.of("grid")
    return sorted({r.batch for r in records}), sorted({r.width for r in records})


def table(results: Results) -> str:
    """One table per library and dtype: rows are batches, columns widths."""
    batches, widths = axes(results)
    if not batches:
        return ""
    parts = [
        "## Shape grid: harness step / idiomatic native step (interleaved)\n\n"
        "Batch B down, width W across (D_in = H = W, D_out = 10); `?`: failed the stability "
        "checks. The heat map is `grid.png`."
    ]
    for library in LIBRARIES:
        for dtype in DTYPES:
            mine = cells(results, library, dtype)
            if not mine:
                continue
            lines = [f"### {library}, {dtype}", "", _row("B \\ W", *map(str, widths))]
            lines.append(_row(*["---"] * (len(widths) + 1)))
            for b in batches:
                shown = [_cell(mine.get((b, w))) for w in widths]
                lines.append(_row(str(b), *shown))
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _cell(record: Record | None) -> str:
    if record is None or record.interleaved_to_native is None:
        return "-"
    return fmt.ratio(record.interleaved_to_native) + (" ?" if record.problems else "")


def _row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def heatmap(results: Results, path: Path) -> Path | None:
    """harness / native per shape, one panel per library and dtype; green up to the 1.15
    target, red beyond; unstable cells hatched and marked `?`."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    batches, widths = axes(results)
    panels = [(lib, d) for lib in LIBRARIES for d in DTYPES if cells(results, lib, d)]
    if not panels:
        return None
    rows = (len(panels) + 1) // 2
    fig, grid_axes = plt.subplots(rows, 2, figsize=(11, 2.8 * rows), layout="constrained")
    flat = list(getattr(grid_axes, "flat", [grid_axes]))
    norm = TwoSlopeNorm(vmin=0.8, vcenter=TARGET, vmax=2.0)
    for ax, (library, dtype) in zip(flat, panels, strict=False):
        mine = cells(results, library, dtype)
        values = [[_value(mine.get((b, w))) for w in widths] for b in batches]
        image = ax.imshow(values, cmap="RdYlGn_r", norm=norm, aspect="auto")
        for i, b in enumerate(batches):
            for j, w in enumerate(widths):
                record = mine.get((b, w))
                if record is not None and record.interleaved_to_native is not None:
                    box = {"facecolor": "white", "alpha": 0.7, "lw": 0, "pad": 1}
                    ax.text(j, i, _cell(record), ha="center", va="center", fontsize=8, bbox=box)
                if record is not None and record.problems:
                    corner = (j - 0.5, i - 0.5)
                    ax.add_patch(Rectangle(corner, 1, 1, fill=False, hatch="//", ec="0.4", lw=0))
        ax.set_xticks(range(len(widths)), [str(w) for w in widths])
        ax.set_yticks(range(len(batches)), [str(b) for b in batches])
        ax.set_xlabel("width (D_in = H)")
        ax.set_ylabel("batch")
        ax.set_title(f"harness {library} / native {library}, {dtype}", fontsize=10)
    for ax in flat[len(panels) :]:
        ax.axis("off")
    fig.colorbar(image, ax=flat, shrink=0.8, label=f"harness / native ({TARGET}: the target)")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _value(record: Record | None) -> float:
    if record is None or record.interleaved_to_native is None:
        return float("nan")
    return record.interleaved_to_native
