"""Backends that attack the harness itself: exit, crash, hang, or write into their inputs.

Each is the NumPy backend with one misdeed. The cell runner must turn each into its own
`crashed`, `timeout` or `fail` cell, with every other backend's cells untouched.
"""

import ctypes
import os
import sys
import time

import numpy as np

from broken_backends import Bugged


def _before_step(misdeed):
    """A step bug: do `misdeed(params, batch)` first, then the real step."""

    def bug(step):
        def unruly(params, batch):
            misdeed(params, batch)
            return step(params, batch)

        return unruly

    return bug


def _segfault(params, batch):
    ctypes.string_at(0)  # reads address 0: SIGSEGV


def _sleep_in_make_step(network):
    time.sleep(120)
    return network


def _write_params(params, batch):
    """Updates its params in place, as `p -= lr * g` in a hand-written loop would."""
    for value in params.values():
        value *= 0.5


def _write_batch(params, batch):
    """Standardises its input in place, as a careless data pipeline would."""
    batch["x"][...] = 0.0


def _raise(kind):
    def misdeed(params, batch):
        raise kind()

    return misdeed


calls_sys_exit = Bugged("calls-sys-exit", step_bug=_before_step(lambda p, b: sys.exit(0)))
calls_os_exit = Bugged("calls-os-exit", step_bug=_before_step(lambda p, b: os._exit(3)))
segfaults = Bugged("segfaults", step_bug=_before_step(_segfault))
hangs_in_make_step = Bugged("hangs-in-make-step", network_bug=_sleep_in_make_step)
writes_params = Bugged("writes-params", step_bug=_before_step(_write_params))
writes_batch = Bugged("writes-batch", step_bug=_before_step(_write_batch))
out_of_memory = Bugged("out-of-memory", step_bug=_before_step(_raise(MemoryError)))
interrupts = Bugged("interrupts", step_bug=_before_step(_raise(KeyboardInterrupt)))


class ZeroCopy(Bugged):
    """`from_numpy` is the obvious `np.asarray` (no copy), and the step updates in place."""

    def from_numpy(self, array, dtype):
        return np.asarray(array, dtype=dtype)


zero_copy = ZeroCopy("zero-copy", step_bug=_before_step(_write_params))
