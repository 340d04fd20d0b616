"""Build a Network from layer and loss specs, every kind and field read from the vocabulary.

The specs are walked in reading order, nested layer lists included, and what flows between
layers is tracked as it goes: the width of the last axis (None until a layer fixes it: the
input's own), the ranks still possible for x, and whether x holds token ids. Each layer's
parameters are named by its kind's count so far (`w1`, `w2`, `gamma1`). A problem is a
one-line SpecError naming the field (`model.layers[1].layers[0].size: is 4 but its input has
width 8 (from model.layers[0].out)`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from harness import layers as L
from harness import vocabulary as V
from harness.network import Network, Takes
from harness.specs import SpecError, read, read_fields, require_type


class _Flow(NamedTuple):
    """What reaches a layer: its last axis's width and where that was fixed (None: the
    input's, not fixed yet), and (rank of x, rank here) for each rank x may still have."""

    width: int | None
    origin: str
    ranks: tuple[tuple[int, int], ...]


FLOATS = _Flow(None, "", ((2, 2), (3, 3)))


class _Builder:
    def __init__(self) -> None:
        self.layers: list[L.Layer] = []
        self.widths: list[int | None] = []
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.counts: Counter[str] = Counter()
        self.input_width: int | None = None
        self.takes_ids: tuple[V.LayerKind, Mapping[str, Any]] | None = None

    def stack(self, specs: Any, where: str, flow: _Flow, top: bool) -> _Flow:
        if not isinstance(specs, list) or not specs:
            raise SpecError(where, "needs at least one layer")
        for i, spec in enumerate(specs):
            here = f"{where}[{i}]"
            kind = require_type(spec, V.LAYERS, "layer", here)
            values = read_fields(spec, kind.fields, here)
            if kind.ids:
                if not (top and i == 0):
                    raise SpecError(
                        here, f"{kind.type} takes token ids: it must be the first layer"
                    )
                self.takes_ids = kind, values
                flow = _Flow(None, "", tuple((r, r) for r in kind.ranks))
            flow = flow._replace(ranks=_ranks(kind, flow, here))
            flow = (
                self.block(kind, values, here, flow)
                if kind.block
                else self.leaf(kind, values, here, flow)
            )
        return flow

    def leaf(self, kind: V.LayerKind, values, here: str, flow: _Flow) -> _Flow:
        width = self.width(flow)
        if kind.width_in is not None:
            need = values[kind.width_in]
            if width is None:
                self.input_width = width = need
            elif need != width:
                came = f" (from {flow.origin})" if flow.origin else ""
                message = f"is {need} but its input has width {width}{came}"
                raise SpecError(f"{here}.{kind.width_in}", message)
        self.counts[kind.type] += 1
        shapes = kind.params(values, width)
        names = {stem: f"{stem}{self.counts[kind.type]}" for stem in shapes}
        self.shapes.update({names[stem]: shape for stem, shape in shapes.items()})
        self.add(kind.make(values, V.Site(len(self.layers), names)), width)
        if kind.width_out is None:
            return flow
        ranks = tuple((r, here_rank + kind.new_axis) for r, here_rank in flow.ranks)
        return _Flow(values[kind.width_out], f"{here}.{kind.width_out}", ranks)

    def block(self, kind: V.LayerKind, values, here: str, flow: _Flow) -> _Flow:
        """x + f(x): its own layers first, then the block; they must keep x's shape."""
        start = len(self.layers)
        inner = self.stack(values[kind.block], f"{here}.{kind.block}", flow, top=False)
        before, after = self.width(flow), self.width(inner)
        if before != after:
            raise SpecError(
                here, f"its layers turn width {before} into {after}; x + f(x) needs one"
            )
        span = len(self.layers) - start
        self.add(kind.make(values, V.Site(len(self.layers), {}, span)), after)
        return inner._replace(ranks=tuple(p for p in inner.ranks if p in flow.ranks))

    def width(self, flow: _Flow) -> int | None:
        return self.input_width if flow.width is None else flow.width

    def add(self, layer: L.Layer, width: int | None) -> None:
        self.layers.append(layer)
        self.widths.append(width)


def _ranks(kind: V.LayerKind, flow: _Flow, here: str) -> tuple[tuple[int, int], ...]:
    """The (rank of x, rank here) pairs this kind takes; none is a SpecError."""
    kept = tuple((r, now) for r, now in flow.ranks if now in kind.ranks)
    if not kept:
        takes = " or ".join(map(str, kind.ranks))
        gets = " or ".join(sorted({str(now) for _, now in flow.ranks}))
        raise SpecError(here, f"{kind.type} takes input of rank {takes}, here it has rank {gets}")
    return kept


def assemble(layer_specs: Sequence[Mapping[str, Any]], loss_spec: Mapping[str, Any]) -> Network:
    """The Network the specs describe (see `network.build`), or a SpecError."""
    builder = _Builder()
    flow = builder.stack(layer_specs, "model.layers", FLOATS, top=True)
    if builder.input_width is None and builder.takes_ids is None:
        fixers = [k.type for k in V.LAYERS.values() if k.width_in or k.ids]
        raise SpecError("model.layers", f"no layer fixes the input's width ({', '.join(fixers)})")
    width = builder.width(flow)
    widths = tuple(builder.input_width if w is None else w for w in builder.widths)
    takes = Takes(tuple(r for r, _ in flow.ranks))
    if builder.takes_ids:
        kind, values = builder.takes_ids
        takes = takes._replace(ids=True, vocab=kind.vocab(values))
    loss = _loss(loss_spec)
    return Network(
        tuple(builder.layers), loss, builder.shapes, builder.input_width, width, takes, widths
    )


def _loss(spec: Any):
    kind, values = read(spec, V.LOSSES, "loss", "model.loss")
    return kind.make(values)
