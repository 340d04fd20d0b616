"""docs/mutation-testing.md still describes the code: the mutated functions have not changed
since the recorded run (else rerun `python tools/mutation_test.py`), and every mutant recorded
as equivalent names a line that is still there."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_SPEC = importlib.util.spec_from_file_location("mutation_test", ROOT / "tools/mutation_test.py")
mutation_test = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mutation_test)

RERUN = "rerun `python tools/mutation_test.py` and update docs/mutation-testing.md"


def test_the_mutated_code_is_the_code_the_record_was_made_on():
    recorded = mutation_test.recorded_fingerprint()
    assert recorded, "docs/mutation-testing.md records no code fingerprint"
    assert mutation_test.fingerprint() == recorded, f"the mutated code changed: {RERUN}"


EQUIVALENTS = mutation_test.recorded_equivalents()


def test_the_record_lists_equivalent_mutants():
    assert EQUIVALENTS


@pytest.mark.parametrize("name", sorted(EQUIVALENTS))
def test_each_equivalent_mutant_names_a_line_still_in_its_function(name):
    original, mutated = EQUIVALENTS[name]
    module = name.split(".x", 1)[0]
    source = (ROOT / (module.replace(".", "/") + ".py")).read_text()
    assert original != mutated
    assert original in {line.strip() for line in source.splitlines()}, f"{name}: {RERUN}"
    globs = mutation_test.mutant_globs()
    assert any(re.fullmatch(re.escape(g).replace(r"\*", ".*"), name) for g in globs), name


def test_the_fingerprint_ignores_docstrings_but_not_code(tmp_path):
    for path in mutation_test.SCOPE:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text())
    before = mutation_test.fingerprint(tmp_path)
    layers = tmp_path / "harness/layers.py"
    text = layers.read_text()
    layers.write_text(text.replace('"""Inverted dropout', '"""Inverted (docs only) dropout', 1))
    assert mutation_test.fingerprint(tmp_path) == before
    layers.write_text(text.replace("scale = 1.0 / (1.0 - p)", "scale = 1.0 / (1.0 + p)", 1))
    assert mutation_test.fingerprint(tmp_path) != before
