"""NumPy with the hand-written backward: the students' side of the comparison."""

from harness.manual import ManualBackend

backend = ManualBackend(name="numpy", module="numpy", library="numpy")
