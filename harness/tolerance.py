"""One tolerance policy per dtype; a case may override it, and must say why.

A computed value `a` passes against an expected `b` when |a - b| <= atol + rtol * |b|
elementwise (NumPy's `isclose` rule), and never when either is NaN or infinite.

The defaults are set from what the arithmetic can promise for these small networks:
- float64: rtol 1e-10 leaves room for reordered sums across libraries (they differ at
  about 1e-15) and for 100 steps of training, and still catches any real bug; atol 1e-15 is
  a few ulps of a unit-scale quantity.
- float32: rtol 2e-5 is about 170 ulps (eps = 1.2e-7), room for reductions and training.
  atol 1e-6 is needed because a loss like -log(p) with p near 1 is computed from unit-scale
  numbers: its absolute error is about eps32, not eps32 times itself (measured: 4.3e-7 on
  task3-train's late step losses of ~5e-3). A case whose tensors are all much smaller than 1
  should tighten atol with its own override (mlp-regression does).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float

    def widened(self, slack: float) -> Tolerance:
        """Add a golden value's printing slack (half a unit in its last digit) to atol."""
        return Tolerance(self.rtol, self.atol + slack)


DEFAULT = {
    "float64": Tolerance(rtol=1e-10, atol=1e-15),
    "float32": Tolerance(rtol=2e-5, atol=1e-6),
}


def printed_slack(decimals: int | None) -> float:
    """Half a unit in the last printed place; 0 for a value printed in full (repr)."""
    return 0.0 if decimals is None else 0.5 * 10.0**-decimals
