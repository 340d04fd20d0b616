"""A plugin whose `to_numpy` returns an ndarray subclass defined here, in a module that ends
any process other than a harness worker that imports it: a coordinator that unpickled one of
its arrays would import this module and exit 0, with an empty table. Its values are right, so
its cells must pass and the run must end normally.
"""

from __future__ import annotations

import sys

import numpy as np

from broken_backends import NUMPY

if not sys.argv[0].endswith("worker_main.py"):
    sys.exit(0)


class Sneaky(np.ndarray):
    """Unpickling one imports this module."""


class _SubclassOut(type(NUMPY)):
    def to_numpy(self, array):
        return np.asarray(super().to_numpy(array)).view(Sneaky)


subclass_to_numpy = _SubclassOut(name="subclass-to-numpy", module="numpy", library="numpy")
