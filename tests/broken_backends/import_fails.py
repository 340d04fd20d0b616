"""A plugin whose module cannot be imported: it needs a library that is not installed."""

import harness_no_such_array_library  # noqa: F401

backend = None
