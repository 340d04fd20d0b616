"""Backend adapter plugins shipped with xp-harness, installed as `harness_backends`.

Each module holds one module-level `backend` object satisfying `harness.protocol.Backend`
and is registered in pyproject.toml under the `harness.backends` entry-point group.
"""
