"""The README's "Use it from your own repository" shows what CI runs and what the example holds."""

from __future__ import annotations

import re
from pathlib import Path

from harness.conformance import xfails

ROOT = Path(__file__).parent.parent
SECTION = "## Use it from your own repository"


def section() -> str:
    text = (ROOT / "README.md").read_text().split(SECTION, 1)[1]
    return text.split("\n## ", 1)[0]


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(), re.S)


def test_ci_runs_every_command_the_section_shows():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line for block in blocks("bash") for line in block.splitlines() if line]
    assert len(commands) == 10
    for command in commands:
        assert command in ci, command


def test_the_example_test_is_the_example_projects_own():
    (shown,) = blocks("python")
    example = (ROOT / "examples/logsumexp/tests/test_logsumexp.py").read_text()
    function = shown[shown.index("def test_known_value") :]
    assert function in example
    for line in shown.splitlines():
        if line.startswith(("import", "from")):
            assert line in example.splitlines(), line


def test_the_xfails_example_parses(tmp_path):
    (shown, _scoreboard) = blocks("text")
    path = tmp_path / "xfails.txt"
    path.write_text(shown)
    entries = xfails.load(path)
    assert [e.test_id for e in entries] == [
        "test_case[task3-train-float32]",
        "test_numerics_scopes_what_it_sets[float64]",
    ]
    assert entries[0].reason == "float32 drift over 100 steps (mylib#12)"


def test_ci_installs_the_wheel_in_a_new_venv_outside_the_clone_as_the_readme_shows():
    """The install block runs, line for line, in a subshell that leaves the clone first."""
    (install,) = [b for b in blocks("bash") if "pip wheel" in b]
    ci = (ROOT / ".ci" / "run").read_text()
    assert f"(\n{install})\n" in ci
    lines = install.splitlines()
    assert lines[1].startswith('cd "$(mktemp -d)" && python3.11 -m venv .venv')
    assert "torch==2.13.0" in lines[2]  # the pin the README explains
