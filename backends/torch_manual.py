"""The hand-written backward on torch tensors, no autograd: torch's half of the three-way check."""

from harness.manual import ManualBackend


def _native(xp):
    """torch's kernels for the composites' forwards; each backward stays hand-written."""
    from harness_backends.torch_kernels import delegate

    return delegate(xp)


def _spelling():
    """Generated code calls torch itself (`torch.sum(v, dim=0)`), no array-api-compat wrapper."""
    import torch

    return "torch", {"torch": torch}


backend = ManualBackend(
    name="torch-manual", module="torch", library="torch", tune=_native, spelling=_spelling
)
