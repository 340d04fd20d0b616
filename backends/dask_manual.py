"""The hand-written backward on `dask.array`, through array_api_compat's namespace.

Dask is lazy, and two costs follow from that in an SGD loop. Each step's graph takes longer
to build than to run at homework size, so the step is traced into a graph once per input shape
and that graph is run on each step's data (as `jax.jit` does for JAX; no derivative is taken by
dask). And a lazy result fed into the next step drags every earlier step's graph along, so a
step returns computed arrays and settles the parameters it is given to their values, and
`optimizer_update` settles the new parameters and optimizer state after each update.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.manual import ManualBackend
from harness.protocol import StepResult


@dataclass
class DaskManual(ManualBackend):
    def make_step(self, network, dtype: str, *, trace: bool = False):
        manual = super().make_step(network, dtype, trace=trace)
        graphs: dict[tuple, _Traced] = {}

        def step(params, batch):
            inputs = settle({**_prefixed("param", params), **_prefixed("batch", batch)})
            signature = tuple((k, v.shape, v.dtype.str) for k, v in inputs.items())
            if signature not in graphs:
                graphs[signature] = _Traced(manual, inputs)
            return graphs[signature].run(inputs)

        return step

    def optimizer_update(self, optimizer, params, grads, state):
        """The default update, its new parameters and optimizer state settled to values: a
        lazy `p - lr * g` (or Adam's moments) would carry every earlier step's graph."""
        from harness.optimizers import arrays, update

        params, state = update(optimizer, params, grads, state)
        settle({**_prefixed("param", params), **_prefixed("state", arrays(state))})
        return params, state

    def to_numpy(self, array):
        """Computed here, without the thread pool `np.asarray` would start for each array."""
        import numpy as np

        return np.array(settle({"array": array})["array"], copy=True)


def settle(arrays: dict) -> dict:
    """Each array's value. A lazy array keeps its name, but its graph becomes its value, so
    that `p - lr * g` after a step starts from data, not from the history of every step."""
    from dask.highlevelgraph import HighLevelGraph
    from dask.local import get_sync

    lazy = [array for array in arrays.values() if not _holds_data(array)]
    if lazy:
        graph = {}
        for array in lazy:
            graph.update(array.__dask_graph__())
        computed = get_sync(graph, [array.__dask_keys__() for array in lazy])
        for array, blocks in zip(lazy, computed, strict=True):
            keys = _leaves(array.__dask_keys__())
            held = dict(zip(keys, _leaves(blocks, container=tuple), strict=True))
            array.dask = HighLevelGraph.from_collections(array.name, held)  # same keys, values
    return {name: _value(array) for name, array in arrays.items()}


def _holds_data(array) -> bool:
    """True for a dask array whose graph is its chunks' values (fresh, or settled)."""
    import numpy as np

    graph = array.__dask_graph__()
    return all(isinstance(graph.get(key), np.ndarray) for key in _leaves(array.__dask_keys__()))


def _value(array):
    """The NumPy value of an array that holds its data."""
    graph = array.__dask_graph__()
    finalize, extra = array.__dask_postcompute__()
    return finalize(_nested(array.__dask_keys__(), graph), *extra)


def _nested(keys, graph):
    return [_nested(k, graph) for k in keys] if isinstance(keys, list) else graph[keys]


def _leaves(nested, container=list):
    """dask.core.flatten, imported only when dask is used."""
    from dask.core import flatten

    return flatten(nested, container=container)


def _prefixed(kind: str, values: dict) -> dict:
    return {f"{kind}:{name}": value for name, value in values.items()}


class _Traced:
    """The manual step's dask graph for one set of input shapes, run again on new data."""

    def __init__(self, manual, inputs: dict) -> None:
        import dask.array as da

        placeholders = {k: da.from_array(v, chunks=v.shape) for k, v in inputs.items()}
        self.input_keys = {k: _single_key(a) for k, a in placeholders.items()}
        result = manual(_unprefixed("param", placeholders), _unprefixed("batch", placeholders))
        self.outputs = _flatten(result)
        self.graph = {}
        for array in self.outputs.values():
            self.graph.update(array.__dask_graph__())
        for key in self.input_keys.values():
            self.graph.pop(key, None)  # given anew at each step

    def run(self, inputs: dict) -> StepResult:
        """This step's values, as dask arrays that hold data (one chunk each)."""
        import dask.array as da
        from dask.local import get_sync

        graph = {**self.graph, **{self.input_keys[k]: v for k, v in inputs.items()}}
        keys = [array.__dask_keys__() for array in self.outputs.values()]
        values = {}
        for (label, array), chunks in zip(self.outputs.items(), get_sync(graph, keys), strict=True):
            finalize, extra = array.__dask_postcompute__()
            value = finalize(chunks, *extra)
            values[label] = da.from_array(value, chunks=value.shape, name=False)
        return _unflatten(values)


def _single_key(array):
    (key,) = array.__dask_graph__().keys()
    return key


def _unprefixed(kind: str, values: dict) -> dict:
    start = len(kind) + 1
    return {k[start:]: v for k, v in values.items() if k.startswith(f"{kind}:")}


def _flatten(result: StepResult) -> dict:
    """("loss", None): loss, ("grads", "w1"): grad.w1, ... in a fixed order."""
    flat = {("loss", None): result.loss, ("output", None): result.output}
    for field in ("grads", "trace"):
        flat.update({(field, k): v for k, v in getattr(result, field).items()})
    return flat


def _unflatten(values: dict) -> StepResult:
    grads = {k: v for (field, k), v in values.items() if field == "grads"}
    named = {k: v for (field, k), v in values.items() if field == "trace"}
    return StepResult(values[("loss", None)], grads, values[("output", None)], named)


backend = DaskManual(name="dask", module="dask.array", library="dask")
