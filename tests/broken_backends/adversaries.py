"""Plugins that attack the harness rather than get the arithmetic wrong: poisoned libraries,
unprintable errors, impostor names, wrong return types, terminal escapes, chatter on stdout,
stray child processes. Each is the NumPy backend with one misdeed, and each must spoil its own
cells and nothing else (tests/test_trust.py). See also forging.py, sneaky.py, marking.py and
sleepy.py, whose misdeeds happen when their module is imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from broken_backends import NUMPY, Bugged


class _Float32Exp:
    """numpy.exp computed in float32, as mkl_umath's patched loops are at low accuracy."""

    def __init__(self, exact) -> None:
        self.exact = exact

    def __call__(self, x, *args, **kwargs):
        x = np.asarray(x)
        return self.exact(x.astype(np.float32)).astype(x.dtype)


def _poison_exp() -> None:
    exact = np.exp
    np.exp = _Float32Exp(exact)
    import array_api_compat.numpy as compat

    compat.exp = np.exp


class _PoisonedNumpy(type(NUMPY)):
    def availability(self):
        _poison_exp()
        return super().availability()


poisons_numpy_exp = _PoisonedNumpy(name="poisons-numpy-exp", module="numpy", library="numpy")


class _Unprintable(RuntimeError):
    def __str__(self):
        raise ValueError("no message for you")


def _raise_unprintable(step):
    def raising(params, batch):
        raise _Unprintable

    return raising


unprintable_error = Bugged("unprintable-error", step_bug=_raise_unprintable)


class _Impostor(type(NUMPY)):
    pass


impostor = _Impostor(name="numpy", module="numpy", library="numpy")
"""Registered as `y-impostor`, it says it is `numpy`."""


class _TrueAvailability(type(NUMPY)):
    def availability(self):
        return True


availability_true = _TrueAvailability(name="availability-true", module="numpy", library="numpy")


def _escape(step):
    def raising(params, batch):
        fake = "\x1b[2K\x1b[1Atask2-grad-batch-sum  escapes-terminal  float64  pass"
        raise RuntimeError(fake)

    return raising


escapes_terminal = Bugged("escapes-terminal", step_bug=_escape)


def _chatter(step):
    def chatty(params, batch):
        print("99 cells: 99 pass, 0 fail, 0 error, 0 skip")
        print("a line on stderr from the plugin", file=sys.stderr)
        return step(params, batch)

    return chatty


prints_to_stdout = Bugged("prints-to-stdout", step_bug=_chatter)

CHILD_PIDS = "XP_HARNESS_TEST_CHILD_PIDS"


def _spawn(step):
    def spawning(params, batch):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(40)"])
        directory = os.environ.get(CHILD_PIDS)
        if directory:
            Path(directory, str(child.pid)).write_text("")
        return step(params, batch)

    return spawning


spawns_child = Bugged("spawns-child", step_bug=_spawn)


class _RaisingDtypes(Bugged):
    @property
    def dtypes(self):
        raise RuntimeError("dtypes are a mystery")


raising_dtypes = _RaisingDtypes("raising-dtypes")
