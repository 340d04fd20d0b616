"""The hand-written backward on torch tensors, no autograd: torch's half of the three-way check."""

from harness.manual import ManualBackend


def _native(xp):
    """torch's kernels for the composites' forwards; each backward stays hand-written."""
    from harness_backends.torch_kernels import delegate

    return delegate(xp)


backend = ManualBackend(
    name="torch-manual", module="torch", library="torch", tune=_native, spelling="torch"
)
