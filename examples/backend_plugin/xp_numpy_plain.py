"""The hand-written backward on NumPy's plain Array-API namespace (no faster reductions)."""

from harness.manual import ManualBackend

backend = ManualBackend(name="numpy-plain", module="numpy", library="numpy")
