"""Results people can read, keep and share: one self-contained HTML page per run or runs.

`harness report RUN.json [RUN2.json ...] --html OUT.html` (`harness.page.command`), and the
conformance suite's `--harness-report`, which writes the same page beside board.md.
"""
