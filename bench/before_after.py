"""Before and after, in one process: the hot path at an earlier commit against the working tree.

    python -m bench.before_after REV LIBRARY [SIZE ...]      (from the repository root)

Loads harness/layers.py, harness/losses.py and LIBRARY's backend module as they were at REV
(`git show`), builds the same network from both, and times the two steps and the native step in
interleaved rounds (each round: every variant once, a block of calls each). Prints min and
median per call, and min against the first variant. Run each library in its own process.
"""

from __future__ import annotations

import gc
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import network, plugins
from harness.network import Network

from .problem import LOSS_SPEC, SIZES, arrays, layer_specs
from .steps import NATIVE_STEPS, harness_step
from .sync import placed, step_outputs, synchronizer

BACKEND_FILES = {
    "numpy": ("harness/manual.py", "ManualBackend", ("numpy", "numpy", "numpy")),
    "torch": ("backends/torch_autograd.py", "TorchAutograd", ()),
    "jax": ("backends/jax_grad.py", "JaxGrad", ()),
}
CALLS = {"homework": 1000, "medium": 30, "large": 1}


def old_module(rev: str, path: str, name: str):
    source = subprocess.run(
        ["git", "show", f"{rev}:{path}"], capture_output=True, text=True, check=True
    ).stdout
    file = Path(tempfile.mkdtemp()) / f"{name}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def old_network(rev: str, size) -> Network:
    layers, losses = (
        old_module(rev, "harness/layers.py", "old_layers"),
        old_module(rev, "harness/losses.py", "old_losses"),
    )
    new = network.build(layer_specs(size), LOSS_SPEC)
    built = (layers.linear("w1", None), layers.relu(), layers.linear("w2", None), layers.softmax())
    return Network(
        built,
        losses.cross_entropy("mean", 1e-7),
        new.param_shapes,
        new.in_features,
        new.out_features,
    )


def interleaved(variants: dict, calls: int, rounds: int = 15) -> None:
    times: dict[str, list[float]] = {k: [] for k in variants}
    for f in variants.values():
        for _ in range(max(3, calls // 10)):
            f()
    gc.collect()
    gc.disable()
    try:
        for _ in range(rounds):
            for name, f in variants.items():
                start = time.perf_counter()
                for _ in range(calls):
                    f()
                times[name].append((time.perf_counter() - start) / calls)
    finally:
        gc.enable()
    first = min(next(iter(times.values())))
    for name, t in times.items():
        print(
            f"  {name:<22} min {min(t) * 1e6:11.1f} µs   median {statistics.median(t) * 1e6:11.1f}"
            f" µs   min / first {min(t) / first:.3f}",
            flush=True,
        )


def main(rev: str, library: str, sizes: list[str], dtype: str = "float32") -> None:
    path, cls, args = BACKEND_FILES[library]
    before = getattr(old_module(rev, path, f"old_{library}_backend"), cls)(*args)
    after = plugins.load(library)
    for name in sizes:
        size = SIZES[name]
        with placed(library, "cpu", dtype), after.numerics(dtype):
            print(f"{library} {name} {dtype}: before = {rev}, after = the working tree")
            variants = {
                "before": _step(before, old_network(rev, size), size, dtype),
                "after": harness_step(after, size, dtype, "cpu"),
                "native": NATIVE_STEPS[library, ""](size, dtype, "cpu"),
            }
            interleaved(variants, CALLS[name])


def _step(backend, net: Network, size, dtype: str):
    data = {k: backend.from_numpy(v, dtype) for k, v in arrays(size).items()}
    params, batch = {k: data[k] for k in ("w1", "w2")}, {k: data[k] for k in ("x", "y")}
    step, wait = backend.make_step(net, dtype), synchronizer(backend.library, "cpu")
    return lambda: wait(step_outputs(step(params, batch)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:] or list(SIZES))
