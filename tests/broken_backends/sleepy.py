"""A plugin whose import sleeps a minute, after leaving a marker: a run that never selects it
must never import it (and so never wait for it)."""

import os
import time
from pathlib import Path

from broken_backends import NUMPY

if marker := os.environ.get("XP_HARNESS_TEST_SLEEPY"):
    Path(marker).write_text(str(os.getpid()))
time.sleep(60)
backend = NUMPY
