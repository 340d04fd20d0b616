"""A plugin whose module ends the process as it is imported."""

import os

os._exit(3)
