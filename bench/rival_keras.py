"""The rival: Keras 3, the same MLP trained with `train_on_batch`, on its JAX or torch backend.

Keras chooses its backend once, at import, from KERAS_BACKEND; `harness bench` therefore times
each Keras backend in a process of its own. A step here is Keras's whole training step: forward,
gradients and the SGD update.
"""

from __future__ import annotations

import importlib.util
import os

from .problem import Size, arrays


def unavailable(name: str) -> str:
    """Why the rival `name` ("keras-jax", "keras-torch") cannot run in this process, or ""."""
    wanted = name.removeprefix("keras-")
    if importlib.util.find_spec("keras") is None:
        return "keras is not installed (pip install 'xp-harness[bench]')"
    if importlib.util.find_spec(wanted) is None:
        return f"{wanted} is not installed"
    chosen = os.environ.get("KERAS_BACKEND", "")
    if chosen != wanted:
        return f"needs KERAS_BACKEND={wanted} (got {chosen or 'unset'}); harness bench sets it"
    return ""


def train_on_batch_call(size: Size, dtype: str, lr: float = 0.01):
    """A compiled Keras model and a no-argument call of one `train_on_batch` on tensors."""
    import keras

    keras.config.set_floatx(dtype)
    keras.config.set_dtype_policy(dtype)  # floatx alone is not enough once a model exists
    model = keras.Sequential(
        [
            keras.Input((size.d_in,), dtype=dtype),
            keras.layers.Dense(size.hidden, activation="relu", use_bias=False, dtype=dtype),
            keras.layers.Dense(size.d_out, activation="softmax", use_bias=False, dtype=dtype),
        ]
    )
    model.compile(optimizer=keras.optimizers.SGD(lr), loss="categorical_crossentropy")
    data = arrays(size)
    x, y = (keras.ops.convert_to_tensor(data[k].astype(dtype)) for k in ("x", "y"))
    model.train_on_batch(x, y)
    weights = sorted({keras.backend.standardize_dtype(w.dtype) for w in model.weights})
    output = keras.backend.standardize_dtype(model(x[:1]).dtype)
    if weights != [dtype] or output != dtype:
        raise WrongDtype(
            f"Keras {keras.__version__} on {keras.backend.backend()}, asked for {dtype}, "
            f"keeps {'/'.join(weights)} weights but computes {output} outputs"
        )
    return lambda: model.train_on_batch(x, y)


class WrongDtype(Exception):
    """The rival would not run in the dtype asked for: timing it would compare unlike work."""
