"""xp-harness: one Array-API network, many array libraries, one verdict on whether they agree.

Importing this package imports no array library, NumPy included: backends arrive through
the `harness.backends` entry-point group and load only when a cell needs them.
"""

from harness.protocol import DTYPES, Availability, Backend, StepResult

__version__ = "0.1.0"
__all__ = ["DTYPES", "Availability", "Backend", "StepResult", "__version__"]
