"""The conformance suite for backend authors: every case, dtype and protocol rule, under pytest.

    pytest --pyargs harness.conformance --harness-backend NAME [--harness-dtype D]
        [--harness-cases DIR] [--harness-xfails FILE] [--harness-report PATH]

Its test modules ship inside the installed package, so a backend author needs no clone of this
repository. Every backend call goes through the session's `harness.runner.CellRunner`, in the
backend's own worker process, as in `harness run`. The parametrisation lives in
`harness.pytest_plugin`; this project's own matrix tests (tests/test_cases.py) use it too.
"""
