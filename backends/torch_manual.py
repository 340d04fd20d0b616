"""The hand-written backward on torch tensors, no autograd: torch's half of the three-way check."""

from harness.manual import ManualBackend

backend = ManualBackend(name="torch-manual", module="torch", library="torch")
