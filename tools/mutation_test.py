"""Mutation-test the hand-written backward with mutmut; compare survivors with the record.

    python tools/mutation_test.py            # about 25 minutes on 2 cores

Copies the git-tracked tree (and untracked, unignored files) to a scratch directory, configures
mutmut there (so the working tree gets no `mutants/` and pyproject.toml no section), mutates
the functions in SCOPE, and runs tests/test_mutation_killer.py against each mutant: the float64
reference against every golden, its gradients against central differences, a float32 run, the
trace, and torch autograd's trace. Prints the score, then every surviving mutant that
docs/mutation-testing.md does not list as equivalent (exit 1 if any), and every listed one
that no longer survives. `--keep DIR` keeps the scratch copy (for `mutmut show NAME` there).
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "docs" / "mutation-testing.md"

SCOPE = {
    "harness/layers.py": ["*"],
    "harness/sequence_layers.py": ["*"],
    "harness/losses.py": ["*"],
    "harness/composites.py": [
        "_relu", "_sigmoid", "_softmax", "_cross_entropy", "_gelu", "_layer_norm",
        "_log_softmax", "_identity",
        "relu", "sigmoid", "softmax", "cross_entropy", "gelu", "layer_norm", "log_softmax",
        "kernel", "stop_gradient",
    ],
    "harness/network.py": ["Network.forward", "Network.objective", "Network.manual_step"],
    "harness/optimizers.py": ["SGD.rule", "Adam.rule", "update", "step"],
}  # fmt: skip
"""What is mutated: every function of layers.py, sequence_layers.py and losses.py,
composites.py's default compositions and the dispatch that reaches them, the network's
forward and step (residuals included), and the optimizers' updates and the dispatch to a
backend's own (the delegation switch, spec parsing and trace naming are not the backward)."""

CONFIG = """
[tool.mutmut]
source_paths = ["harness"]
only_mutate = [{files}]
pytest_add_cli_args_test_selection = ["tests/test_mutation_killer.py"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]
process_isolation = "forkserver"
"""
"""forkserver: the killer imports torch, whose thread pools do not survive a plain fork."""


def mutant_globs() -> list[str]:
    """mutmut's names for the mutants of SCOPE (`harness.network.xǁNetworkǁforward__mutmut_3`)."""
    globs = []
    for path, functions in SCOPE.items():
        module = path.removesuffix(".py").replace("/", ".")
        for function in functions:
            if function == "*":
                globs.append(f"{module}.*")
            elif "." in function:
                cls, name = function.split(".")
                globs.append(f"{module}.xǁ{cls}ǁ{name}__mutmut_*")
            else:
                globs.append(f"{module}.x_{function}__mutmut_*")
    return globs


def fingerprint(root: Path = ROOT) -> str:
    """SHA-256 of SCOPE's code (AST without docstrings): changes when the mutated code does."""
    digest = hashlib.sha256()
    for path, functions in SCOPE.items():
        tree = ast.parse((root / path).read_text())
        for node in _functions(tree, functions):
            _strip_docstrings(node)
            digest.update(ast.dump(node, include_attributes=False).encode())
    return digest.hexdigest()[:16]


def _functions(tree: ast.Module, wanted: list[str]):
    defs = (ast.FunctionDef, ast.AsyncFunctionDef)
    for node in tree.body:
        if isinstance(node, defs) and ("*" in wanted or node.name in wanted):
            yield node
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, defs) and f"{node.name}.{item.name}" in wanted:
                    yield item


def _strip_docstrings(node: ast.AST) -> None:
    for child in ast.walk(node):
        body = getattr(child, "body", None)
        if isinstance(body, list) and body and _is_docstring(body[0]):
            child.body = body[1:] or [ast.Pass()]


def _is_docstring(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)


def recorded_equivalents(text: str | None = None) -> dict[str, tuple[str, str]]:
    """Mutant name -> (original line, mutated line), from the record's table rows
    `| name | `original` | `mutated` | why |`."""
    text = RECORD.read_text() if text is None else text
    rows = re.findall(r"^\| `([\w.ǁ]+__mutmut_\d+)` \| `(.*?)` \| `(.*?)` \|", text, re.M)
    return {name: (original, mutated) for name, original, mutated in rows}


def recorded_fingerprint(text: str | None = None) -> str:
    text = RECORD.read_text() if text is None else text
    match = re.search(r"code fingerprint: `([0-9a-f]{16})`", text)
    return match.group(1) if match else ""


def run(scratch: Path) -> dict[str, str]:
    """Copy, configure, run mutmut; mutant name -> status, for SCOPE's mutants."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    for name in files:
        if (ROOT / name).is_file() and not name.startswith(("bench/", "docs/bench/")):
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, scratch / name)
    only = ", ".join(f'"{path}"' for path in SCOPE)
    with open(scratch / "pyproject.toml", "a") as handle:
        handle.write(CONFIG.format(files=only))
    mutmut = [sys.executable, "-m", "mutmut"]
    subprocess.run([*mutmut, "run", "--max-children", "2", *mutant_globs()], cwd=scratch)
    listing = subprocess.run(
        [*mutmut, "results", "--all", "true"], cwd=scratch, capture_output=True, text=True
    ).stdout
    statuses = dict(re.findall(r"^\s*(\S+__mutmut_\d+): (.+)$", listing, re.M))
    wanted = [re.compile(re.escape(g).replace(r"\*", ".*") + "$") for g in mutant_globs()]
    return {k: v for k, v in statuses.items() if any(w.match(k) for w in wanted)}


DETECTED = ("killed", "timeout")
"""A mutant that makes the killer fail, or run past mutmut's time limit, is detected."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="run in DIR and keep it")
    args = parser.parse_args(argv)
    scratch = args.keep or Path(tempfile.mkdtemp(prefix="xp-mutation-"))
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        statuses = run(scratch)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return report(statuses)


def report(statuses: dict[str, str]) -> int:
    survived = sorted(k for k, v in statuses.items() if v == "survived")
    killed = sum(v in DETECTED for v in statuses.values())
    equivalent = recorded_equivalents()
    unlisted = [k for k in survived if k not in equivalent]
    stale = sorted(set(equivalent) - set(survived))
    score = killed / max(1, len(statuses) - len(equivalent))
    others = sorted(set(statuses.values()) - {*DETECTED, "survived"})
    print(
        f"{len(statuses)} mutants: {killed} killed (or timed out), {len(survived)} survived, "
        f"{len(equivalent)} recorded as equivalent; score {score:.1%} of the non-equivalent"
        + (f"; other statuses: {', '.join(others)}" if others else "")
    )
    print(f"code fingerprint: {fingerprint()} (recorded: {recorded_fingerprint()})")
    for name in unlisted:
        print(f"SURVIVED, not recorded as equivalent: {name}")
    for name in stale:
        print(f"recorded as equivalent but did not survive: {name}")
    return 1 if unlisted else 0


if __name__ == "__main__":
    sys.exit(main())
