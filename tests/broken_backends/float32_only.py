"""A correct backend that declares float32 only: its float64 cells are skipped, not failed."""

from harness.manual import ManualBackend

backend = ManualBackend(name="float32-only", module="numpy", library="numpy", dtypes=("float32",))
