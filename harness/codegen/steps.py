"""Trace a network's two steps: the hand-written one, and the objective autograd differentiates.

Each is traced for one input shape and dtype (straight-line code is shape-specialised: a
mean's 1/rows and an embedding's reshape are numbers in it). The network's own
`manual_step` and `objective` run on the recording namespace; each layer and the loss are
wrapped only to say, in a comment, whose operations follow.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from harness.codegen.program import Op, Program
from harness.codegen.trace import Namespace, Recorder, inputs
from harness.network import Network


def trace_manual(network: Network, x_shape, dtype: str, *, kernels: str = "inline") -> Program:
    """Forward and the hand-written backward: outputs loss, each parameter's gradient (in
    the network's parameter order) and the output."""
    program, xp, params, batch = _start("manual", network, x_shape, dtype, kernels)
    with np.errstate(all="ignore"):
        result = _labelled(network, program).manual_step(xp, params, batch)
    program.loss, program.output = result.loss.var, result.output.var
    program.grads = {name: result.grads[name].var for name in network.param_shapes}
    return program


def trace_objective(network: Network, x_shape, dtype: str, *, kernels: str = "inline") -> Program:
    """Forward and loss only, outputs (loss, output): the function an autograd library
    differentiates with respect to the parameters."""
    program, xp, params, batch = _start("objective", network, x_shape, dtype, kernels)
    with np.errstate(all="ignore"):
        loss, (output, _) = _labelled(network, program).objective(xp, params, batch)
    program.loss, program.output = loss.var, output.var
    return program


def placeholders(network: Network, x_shape, dtype: str) -> tuple[dict, dict]:
    """Arrays of the right shapes and dtypes for params and a batch (values irrelevant:
    nothing the network traces branches on them)."""
    x_shape = tuple(x_shape)
    y_shape = network.output_shape(x_shape)  # a ValueError names what the model takes
    params = {name: np.zeros(shape, dtype) for name, shape in network.param_shapes.items()}
    x = np.zeros(x_shape, np.int64 if network.takes.ids else dtype)
    batch = {"x": x, "y": np.zeros(y_shape, dtype)}
    batch.update({name: np.ones(shape, dtype) for name, shape, _ in network.masks(x_shape)})
    return params, batch


def _start(kind: str, network: Network, x_shape, dtype: str, kernels: str):
    if kernels not in ("inline", "call"):
        raise ValueError(f"kernels={kernels!r}: 'inline' or 'call'")
    params, batch = placeholders(network, x_shape, np.dtype(dtype).name)
    program = Program(kind, np.dtype(dtype).name, tuple(x_shape))
    recorder = Recorder(program, set())
    traced_params = inputs(recorder, "params", params)
    traced_batch = inputs(recorder, "batch", batch)
    return program, Namespace(recorder, kernels), traced_params, traced_batch


def _labelled(network: Network, program: Program) -> Network:
    """The same network, each layer's and the loss's functions preceded by a comment op."""

    def said(text, function):
        def wrapped(*args):
            program.ops.append(Op("comment", text))
            return function(*args)

        return wrapped

    layers = tuple(
        layer._replace(
            forward=said(f"{network.label(i)} forward", layer.forward),
            backward=said(f"{network.label(i)} backward", layer.backward),
        )
        for i, layer in enumerate(network.layers)
    )
    loss = network.loss._replace(
        forward=said(f"loss ({network.loss.kind}) forward", network.loss.forward),
        backward=said(f"loss ({network.loss.kind}) backward", network.loss.backward),
    )
    return dataclasses.replace(network, layers=layers, loss=loss)
