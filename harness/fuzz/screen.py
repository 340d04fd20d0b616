"""Keep false alarms out: how far rounding alone moves an example, measured before it runs.

Probes run the float64 reference's own code (NumPy, manual backward) here. For float32: once
on the example's inputs and parameters each moved at random by up to half a float32 ulp
(what rounding to float32 does; values float32 holds exactly move too), once computing in
float32 throughout. For float64: once on inputs moved by up to NUDGE, once with each training
step's parameters moved so, what that does scaled down to half a float64 ulp. The largest
elementwise distance from the float64 reference, `e`, is what rounding alone does to each
tensor. A dtype is judged with the default tolerance (its atol raised to ULPS ulps of the
largest value any tensor holds, where that is more: rounding is bounded by the values
an element is computed from, not by the element) when SAFETY * e is within it everywhere
(|a - b| <= atol + rtol |b|); else both rtol and atol are widened by the power of ten that
brings it within, written into the case as a `[tolerance]` override with its reason; past
MAX_WIDENING the dtype is skipped for the example, as ill-conditioned. An example whose
reference is not finite or past HUGE, that puts a kinked layer's input (ReLU's) near its kink
without being exactly on it in both precisions, that hands a layer an input its kind
declares unstable (LayerNorm's flat rows, where libraries' rounding differs by up to
1/sqrt(eps)), or an optimizer first-step gradients it declares unstable (Adam on a gradient
of about 0), is not judged at all: probes of one implementation cannot see how far another's
rounding goes there.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field

import numpy as np

from harness import driver, optimizers
from harness import vocabulary as V
from harness.cases import Case
from harness.fuzz.example import Widened
from harness.manual import REFERENCE
from harness.tasks import batches
from harness.tolerance import DEFAULT, Tolerance

SAFETY = {"float32": 10.0, "float64": 1000.0}
"""How far below the tolerance the measured rounding error must stay: another library's
float32 sums in another order, with other kernels, and may err a few times more; float64's
probes move only inputs and parameters, and miss what a library's rounding inside a step
does when Adam divides each gradient element by its own size (measured: 200 times more,
torch-manual after four Adam steps), while float64's tolerance is a million times below a
bug of 1e-4, so it can afford the margin."""
MAX_WIDENING = {"float32": 100.0, "float64": 1e4}
"""Widest tolerance a dtype is judged with: float32 rtol 2e-3, float64 rtol 1e-6."""
ULPS = {"float32": 100.0, "float64": 10.0}
"""A dtype's atol is at least this many ulps of the largest value any tensor holds. Float32's
probes compute in float32 but along NumPy's path only: JAX's autodiff of a saturated softmax
leaves 1.5e-4 on elements NumPy gets near 0 (1e-34) beside values of 190, 6 ulps of those."""
KINK_MARGIN = 1e-4
"""An input this close to a kink (relative to its tensor's largest value, or 1) and not on
it could cross it under another library's rounding, where the gradient jumps."""
EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}
HUGE = 1e6
"""A reference value past this is a run gone astray (SGD at lr 0.5 reaching 1e24, or 6e7,
whose float32 step losses then part by 2e3), whose intermediates overflow float32 or lose
every digit in one library and not another: not judged."""
ROUNDING = EPS["float32"] / 2
"""The float32 probe moves each input by up to this relative amount: one rounding."""
NUDGE = 2.0**-30
"""The float64 probe moves each input by up to this relative amount, far above float64's
own rounding and small enough to stay linear, and scales what it sees by (eps64 / 2) / NUDGE:
float32's saturations and underflows, which float64 does not share, stay out of it."""


@dataclass
class Screening:
    rejected: str = ""
    """Why the example is not judged at all (empty: it is)."""
    category: str = ""
    """The reason in a few words, for counting."""
    widened: dict[str, Widened] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    """dtype -> why it is not judged in that dtype."""
    needed: dict[str, Widened] = field(default_factory=dict)
    """For a skipped dtype, the tolerance it would need (a case kept from the example says
    so, so that correct backends pass it in every dtype)."""


def screen(case: Case, reference, dtypes) -> Screening:
    """How the example may be judged in each dtype; `reference(case, run)` is the float64
    reference's tensors of a run (the judge's own, cached)."""
    result = Screening()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        expected = {run.name: reference(case, run.name) for run in case.runs}
        if not all(np.all(np.isfinite(v)) for t in expected.values() for v in t.values()):
            result.rejected = "the float64 reference is not finite"
            result.category = "reference not finite"
            return result
        if max(float(np.max(np.abs(v), initial=0.0)) for t in expected.values()
               for v in t.values()) > HUGE:  # fmt: skip
            result.rejected = f"the float64 reference exceeds {HUGE:g}: training diverged"
            result.category = "reference too large"
            return result
        if kink := _near_kink(case):
            result.rejected, result.category = kink, "near a kink"
            return result
        if unstable := _unstable(case):
            result.rejected, result.category = unstable, "unstable input"
            return result
        if unstable := _unstable_step(case):
            result.rejected, result.category = unstable, "unstable step"
            return result
        probes = {
            "float32": ([_run(_perturbed(case, ROUNDING), "float64"), _run(case, "float32")], 1.0),
            "float64": (
                [_run(_perturbed(case, NUDGE), "float64"), _run(case, "float64", _Nudged())],
                EPS["float64"] / 2 / NUDGE,
            ),
        }
    largest = max((float(np.max(np.abs(v), initial=0.0)) for t in expected.values()
                   for v in t.values()), default=0.0)  # fmt: skip
    for dtype in dtypes:
        base, why = _norm_wise(DEFAULT[dtype], largest, dtype)
        factor, tensor, error = _worst(expected, *probes[dtype], base, SAFETY[dtype])
        widen = 1.0
        if factor > 1.0:
            widen = 10.0 ** math.ceil(math.log10(factor)) if math.isfinite(factor) else math.inf
            why.append(
                f"rounding alone moves {tensor} by {error:.1e} ({dtype} probes), "
                f"{SAFETY[dtype]:g} times that needs the tolerance widened {widen:g} times"
            )
        tolerance = Tolerance(base.rtol * widen, base.atol * widen)
        widened = Widened(tolerance, "harness fuzz: " + "; ".join(why))
        if widen > MAX_WIDENING[dtype]:
            result.skipped[dtype] = (
                f"ill-conditioned in {dtype}: rounding alone moves {tensor} by {error:.1e}, "
                f"{SAFETY[dtype]:g} times that is over {MAX_WIDENING[dtype]:g} times the tolerance"
            )
            if math.isfinite(widen):
                result.needed[dtype] = widened
        elif tolerance != DEFAULT[dtype]:
            result.widened[dtype] = widened
    return result


def _norm_wise(tol: Tolerance, largest: float, dtype: str) -> tuple[Tolerance, list[str]]:
    """atol raised to ULPS ulps of the largest value any tensor holds, when that is more:
    rounding is bounded by the values an element is computed from, not by the element
    (1 - tanh(x)**2 at saturation cancels to 1e-9 and keeps an ulp of 1), and the probes,
    which run NumPy's code only, cannot see another library's rounding inside a step."""
    floor = ULPS[dtype] * EPS[dtype] * largest
    if floor <= tol.atol:
        return tol, []
    reason = f"atol {floor:.1e}, {ULPS[dtype]:g} {dtype} ulps of the largest value, {largest:.1e}"
    return Tolerance(tol.rtol, floor), [reason]


def _run(case: Case, dtype: str, backend=REFERENCE) -> dict[str, dict[str, np.ndarray]]:
    try:
        return driver.run_case(backend, case, dtype)
    except (ArithmeticError, ValueError, driver.InRun):
        return {}


class _Nudged:
    """The reference, every parameter moved at random by up to NUDGE after each training
    update: rounding inside each step, carried through the steps after it (what the float64
    probe on the inputs alone misses when Adam amplifies it, step after step)."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(1)

    def __getattr__(self, name: str):
        return getattr(REFERENCE, name)

    def optimizer_update(self, optimizer, params, grads, state):
        new, state = optimizers.update(optimizer, params, grads, state)
        moved = {
            k: v * (1.0 + NUDGE * self.rng.uniform(-1.0, 1.0, v.shape)) for k, v in new.items()
        }
        return moved, state


def _perturbed(case: Case, relative: float) -> Case:
    """The case with every float input moved at random by up to `relative` of itself (token
    ids stay exact): values float32 holds exactly move too."""
    rng = np.random.default_rng(0)

    def f32(a: np.ndarray) -> np.ndarray:
        if a.dtype.kind in "iu":
            return a
        return a * (1.0 + relative * rng.uniform(-1.0, 1.0, a.shape))

    params = {name: f32(value) for name, value in case.params.items()}
    runs = tuple(dataclasses.replace(r, x=f32(r.x), y=f32(r.y)) for r in case.runs)
    return dataclasses.replace(case, params=params, runs=runs)


def _worst(expected, probes, scale: float, tol: Tolerance, safety: float):
    """(factor, tensor, error): how many times `safety` x the probes' scaled error exceeds
    the tolerance at its worst element, where, and that error."""
    worst = (0.0, "", 0.0)
    for run, tensors in expected.items():
        for name, value in tensors.items():
            got = [p.get(run, {}).get(name) for p in probes]
            if any(g is None or g.shape != value.shape for g in got):
                return math.inf, f"{run}/{name}", math.inf
            error = np.max([np.abs(g.astype(np.float64) - value) for g in got], axis=0)
            error = np.where(np.isfinite(error), error, np.inf) * scale
            need = safety * error / (tol.atol + tol.rtol * np.abs(value))
            at = int(np.argmax(need)) if need.size else 0
            if need.size and need.flat[at] > worst[0]:
                worst = (float(need.flat[at]), f"{run}/{name}", float(error.flat[at]))
    return worst


def _near_kink(case: Case) -> str:
    """Why a kinked layer's input at the first step is too near a kink, or ''."""
    kinked = {k.label: k.kinks for k in V.LAYERS.values() if k.kinks}
    if not any(layer.kind in kinked for layer in case.network.layers):
        return ""
    for run in case.runs:
        batch = next(batches(case.network, run))
        inputs = {dtype: _inputs(case, batch, dtype) for dtype in (np.float64, np.float32)}
        for j, layer in enumerate(case.network.layers):
            for kink in kinked.get(layer.kind, ()):
                v64, v32 = inputs[np.float64][j], inputs[np.float32][j]
                scale = float(np.max(np.abs(v64), initial=1.0))
                on = (v64 == kink) & (v32 == kink)
                near = np.abs(v64 - kink) < KINK_MARGIN * scale
                if np.any(near & ~on):
                    where = f"an input of {case.network.label(j)}"
                    return f"{where} is within {KINK_MARGIN:g} of its kink at {kink:g}"
    return ""


def _unstable(case: Case) -> str:
    """Why a layer's input at the first step is one its kind declares unstable, or ''."""
    checks = {k.label: k.unstable for k in V.LAYERS.values() if k.unstable}
    if not any(layer.kind in checks for layer in case.network.layers):
        return ""
    for run in case.runs:
        inputs = _inputs(case, next(batches(case.network, run)), np.float64)
        for j, layer in enumerate(case.network.layers):
            if layer.kind in checks and (why := checks[layer.kind](inputs[j])):
                return f"{case.network.label(j)}: {why}"
    return ""


def _unstable_step(case: Case) -> str:
    """Why a train run's optimizer declares its first-step gradients unstable, or ''."""
    kinds = {kind.type: kind for kind in V.OPTIMIZERS.values() if kind.unstable}
    for run in case.runs:
        rule = run.task.rule if run.task.kind == "train" else None
        kind = kinds.get(type(rule).__name__.lower())
        if kind is None:
            continue
        item = (case.params, next(batches(case.network, run)))
        grads = driver.run_steps(REFERENCE, case.network, "float64", False, [item])[0]["grads"]
        if why := kind.unstable(rule._asdict(), grads):
            return f"{kind.type}: {why}"
    return ""


def _inputs(case: Case, batch, dtype) -> list[np.ndarray]:
    """Each layer's input at the first step, computed in `dtype`."""

    def cast(a):
        return a if a.dtype.kind in "iu" else a.astype(dtype)

    params = {k: cast(v) for k, v in case.params.items()}
    data = {k: cast(v) for k, v in batch.items()}
    _, _, activations = case.network.forward(np, params, data)
    outputs = [a for (role, _), a in zip(case.network.points, activations, strict=True)
               if role == "output"]  # fmt: skip
    return [data["x"], *outputs[:-1]]
