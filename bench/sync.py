"""What a timed call must wait for, and where its arrays live: per library, outside the model.

A timed region ends only when the device has finished: JAX dispatches asynchronously
(`block_until_ready`), torch on CUDA too (`torch.cuda.synchronize`); NumPy and torch on the
CPU return finished results.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack, contextmanager, nullcontext


def synchronizer(library: str, device: str) -> Callable[[object], object]:
    """A function that returns once every array in its argument has been computed."""
    if library == "jax":
        import jax

        return jax.block_until_ready
    if library == "torch" and device != "cpu":
        import torch

        def wait(outputs):
            torch.cuda.synchronize()
            return outputs

        return wait
    return _finished


def _finished(outputs):
    return outputs


def step_outputs(result) -> tuple:
    """Everything a harness step returns, as one pytree to wait on."""
    return (result.loss, result.grads, result.output)


def device_unavailable(library: str, device: str) -> str:
    """Why `library` cannot run on `device` here, or "" when it can."""
    if device == "cpu":
        return ""
    if library == "torch":
        import torch

        return "" if torch.cuda.is_available() else "torch sees no CUDA device"
    if library == "jax":
        import jax

        return "" if _jax_gpus(jax) else "JAX sees no GPU"
    return f"{library} runs on the CPU only here"


@contextmanager
def placed(library: str, device: str, dtype: str):
    """Scope the library's numerics for `dtype` and its default device for the timing."""
    with ExitStack() as stack:
        if library == "jax":
            import jax

            stack.enter_context(jax.enable_x64(dtype == "float64"))
            target = jax.devices("cpu")[0] if device == "cpu" else _jax_gpus(jax)[0]
            stack.enter_context(jax.default_device(target))
        else:
            stack.enter_context(nullcontext())
        yield


def _jax_gpus(jax) -> list:
    try:
        return jax.devices("gpu")
    except RuntimeError:
        return []
