"""`harness repro`: a standalone script that reproduces one case on one library, no harness.

`script.build` writes it (the step from `harness.codegen`, the data, the float64 reference,
the comparison from `runtime`); `libraries` says, per array library, how the script makes
arrays and steps; `command` is the subcommand.
"""
