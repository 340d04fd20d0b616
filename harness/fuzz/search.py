"""Drive Hypothesis over drawn examples; shrink each disagreement and keep it as a case file.

One Hypothesis run, seeded, with no example database: the same seed draws the same examples.
A backend's disagreement is raised as that backend's own exception type, so Hypothesis
shrinks each failing backend's example separately; the last failing example it replays is
its shrunk one. The fuzzer's own pass (`harness.fuzz.shrink`) then edits that example
directly, and the result is written to the output directory as an ordinary case file.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from harness.fuzz import draw
from harness.fuzz.example import Example, depth, describe
from harness.fuzz.judge import Judge, Verdict
from harness.fuzz.shrink import simplify

PROGRESS_EVERY = 25


class Disagreement(Exception):
    """A backend failed an example (a subclass per backend: one Hypothesis failure each)."""


@dataclass
class Finding:
    backend: str
    dtype: str
    example: Example
    verdict: Verdict
    found_at: int
    """How many examples had been judged when it was first found."""


def search(judge: Judge, examples: int, seed: int, say: Callable[[str], None]) -> list[Finding]:
    """Up to `examples` judged examples; each backend's first disagreement, shrunk."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, reject, settings
    from hypothesis import seed as seeded
    from hypothesis.errors import Flaky

    found: dict[str, Finding] = {}
    kinds: dict[str, type[Disagreement]] = {}
    first_seen: dict[str, int] = {}

    @seeded(seed)
    @settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        report_multiple_bugs=True,
        print_blob=False,
    )
    @given(draw.examples())
    def check(example: Example) -> None:
        verdict = judge(example)
        if verdict.rejected:
            reject()
        if judge.judged % PROGRESS_EVERY == 0 and not found:
            say(f"{judge.judged} examples, no disagreement; {_counts(judge)}")
        if not (failures := verdict.failures):
            return
        cell = failures[0]
        judge.shrinking = True
        if cell.backend not in first_seen:
            first_seen[cell.backend] = judge.judged
            say(f"example {judge.judged}: {cell.backend} {cell.dtype} {cell.status}: "
                f"{describe(example)}; shrinking")  # fmt: skip
        found[cell.backend] = Finding(
            cell.backend, cell.dtype, verdict.example, verdict, first_seen[cell.backend]
        )
        kind = kinds.setdefault(cell.backend, type(f"Disagreement[{cell.backend}]",
                                                   (Disagreement,), {}))  # fmt: skip
        raise kind(cell.message)

    try:
        with _seed_only():
            check()
    except (Disagreement, Flaky):
        pass
    except BaseExceptionGroup as group:
        rest = group.split((Disagreement, Flaky))[1]
        if rest is not None:
            raise rest from None
    return [_own_pass(judge, finding, say) for finding in found.values()]


@contextlib.contextmanager
def _seed_only() -> Iterator[None]:
    """Hypothesis mixes number literals from the modules under the working directory into
    what it draws; a seed must draw the same examples wherever it runs, so none are mixed in
    (Hypothesis's internals: where they differ, the search runs with them as they are)."""
    try:
        from hypothesis.internal.cache import LRUCache
        from hypothesis.internal.conjecture import providers

        empty = providers.Constants(
            integers=providers.SortedSet(),
            floats=providers.SortedSet(key=providers.float_to_int),
            bytes=providers.SortedSet(),
            strings=providers.SortedSet(),
        )
        saved = providers._get_local_constants, providers.CONSTANTS_CACHE
    except (ImportError, AttributeError, TypeError):
        yield
        return
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE = LRUCache(1024)
    try:
        yield
    finally:
        providers._get_local_constants, providers.CONSTANTS_CACHE = saved


def _own_pass(judge: Judge, finding: Finding, say: Callable[[str], None]) -> Finding:
    """Shrink further by editing the example; keep edits that still fail the same cell."""
    key = (finding.backend, finding.dtype)
    before = finding.example

    judged_everywhere = not finding.verdict.skipped

    def fails(candidate: Example) -> bool:
        """Still fails; and judged in every dtype if the example was."""
        verdict = judge(candidate, only=key)
        if judged_everywhere and verdict.failures:
            verdict = judge(candidate)
            return bool(verdict.failures) and not verdict.skipped
        return bool(verdict.failures)

    simpler = simplify(before, fails)
    verdict = judge(simpler, only=key)
    if not verdict.failures:  # a flaky backend: keep what Hypothesis left
        simpler, verdict = before, finding.verdict
    layers = depth(simpler)
    say(f"{finding.backend} {finding.dtype}: shrunk to {layers} layer{'s' * (layers != 1)}, "
        f"x {'x'.join(map(str, simpler.x.shape))}")  # fmt: skip
    return Finding(finding.backend, finding.dtype, verdict.example, verdict, finding.found_at)


def _counts(judge: Judge) -> str:
    shown = [f"{n} {what}" for what, n in sorted(judge.counts.items()) if what != "files"]
    return ", ".join(shown) or "nothing skipped"


def stderr(message: str) -> None:
    print(f"harness fuzz: {message}", file=sys.stderr, flush=True)
