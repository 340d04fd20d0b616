"""NumPy with the hand-written backward: the students' side of the comparison."""

from types import SimpleNamespace

from harness.manual import ManualBackend


def direct_calls(xp):
    """NumPy's `sum` and `max` are Python functions that end in a ufunc's `reduce`: at homework
    size that detour is half of each call. Call the reduce directly, same results. Likewise
    `astype` on the host: the method, without array_api_compat's device check (1.2 -> 0.4 us)."""
    import numpy as np

    compat_astype = xp.astype

    def astype(x, dtype, /, *, copy=True, device=None):
        if device is not None:
            return compat_astype(x, dtype, copy=copy, device=device)
        return x.astype(dtype, copy=copy)

    def sum(x, /, *, axis=None, dtype=None, keepdims=False):
        return np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(x, /, *, axis=None, keepdims=False):
        return np.maximum.reduce(x, axis=axis, keepdims=keepdims)

    return SimpleNamespace(**{**vars(xp), "sum": sum, "max": max, "astype": astype})


def tuned(xp):
    """Direct calls, and NumPy's own kernels for the composites (numpy_kernels)."""
    from harness_backends.numpy_kernels import delegate

    return delegate(direct_calls(xp))


def spelling():
    """Generated code calls the namespace, but the reductions and `astype` as `direct_calls`
    does, written out: no Python frame between the step and the ufunc."""
    import numpy as np

    from harness.codegen import Target

    def reduce(ufunc: str):
        def spell(alias, args, kwargs):
            kwargs = {"axis": "None", **kwargs}  # the standard's default: every axis (not 0)
            named = [f"{k}={v}" for k, v in kwargs.items()]
            return f"np.{ufunc}.reduce({', '.join([*args, *named])})"

        return spell

    def astype(alias, args, kwargs):
        named = "".join(f", {k}={v}" for k, v in kwargs.items())
        if "device" in kwargs:
            return f"{alias}.astype({', '.join(args)}{named})"
        return f"{args[0]}.astype({', '.join(args[1:])}{named})"

    calls = {"sum": reduce("add"), "max": reduce("maximum"), "astype": astype}
    return Target("numpy-direct", "xp", (), calls=calls), {"np": np}


backend = ManualBackend(
    name="numpy", module="numpy", library="numpy", tune=tuned, spelling=spelling
)
