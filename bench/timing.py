"""How every benchmark is timed: warm up, settle, then let pytest-benchmark take the rounds.

The issue's lessons, applied once here: the first calls (compilation, caches) are never timed;
garbage collection stays out of the timed region (`gc.freeze()` after set-up, and the runner
passes `--benchmark-disable-gc`); a short pause lets the BLAS threads of the previous
benchmark stop spinning before the next one starts.
"""

from __future__ import annotations

import gc
import time
from contextlib import contextmanager

from harness.bench.stability import RETRIES, Interleaved, summarise

PAUSE_S = 0.2
WARMUP_CALLS, WARMUP_S = 3, 0.05
BLOCK_S = 0.002
"""An interleaved block repeats a call until it takes about this long."""
MIN_CYCLES = 3


def warm_up(call) -> None:
    """Call until both WARMUP_CALLS calls and WARMUP_S seconds have passed."""
    start, calls = time.perf_counter(), 0
    while calls < WARMUP_CALLS or time.perf_counter() - start < WARMUP_S:
        call()
        calls += 1


@contextmanager
def settled():
    """Collect and freeze what set-up allocated, then pause; unfreeze afterwards."""
    gc.collect()
    gc.freeze()
    time.sleep(PAUSE_S)
    try:
        yield
    finally:
        gc.unfreeze()


def time_call(benchmark, call, info: dict) -> float:
    """Warm `call` up, settle, and time it; `info` goes into the JSON's extra_info. Returns
    the fastest round."""
    benchmark.extra_info.update(info)
    warm_up(call)
    with settled():
        benchmark(call)
    return benchmark.stats.stats.min if benchmark.stats else None


def time_first_calls(benchmark, setup, rounds: int, info: dict) -> None:
    """Time the first call of a fresh `setup()` product, once per round."""
    benchmark.extra_info.update(info)
    with settled():
        benchmark.pedantic(_call, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)


def _call(call):
    return call()


def interleaved(call, baseline, seconds: float, anchors=(None, None)) -> Interleaved:
    """`call` against `baseline` in A-B-B-A cycles of blocks in this process, so that whatever
    the shared machine does meanwhile falls on both alike; measured again, up to RETRIES
    times, while it fails the stability checks (harness.bench.stability). `anchors`: each
    side's fastest time on its own, for the check that neither was disturbed throughout."""
    warm_up(call)
    warm_up(baseline)
    repeat = max(1, round(BLOCK_S / _one_call(baseline)))
    for attempt in range(1, RETRIES + 2):
        a, b = _blocks(call, baseline, repeat, seconds)
        measured = summarise(a, b, attempt, anchors)
        if measured.stable:
            break
    return measured


def _blocks(call, baseline, repeat: int, seconds: float) -> tuple[list[float], list[float]]:
    """Seconds per call of each block of `call` and of `baseline`, in the order taken."""
    times: dict[object, list[float]] = {call: [], baseline: []}
    with settled():
        gc.disable()
        try:
            deadline, cycles = time.perf_counter() + seconds, 0
            while cycles < MIN_CYCLES or time.perf_counter() < deadline:
                for f in (call, baseline, baseline, call):
                    start = time.perf_counter()
                    for _ in range(repeat):
                        f()
                    times[f].append((time.perf_counter() - start) / repeat)
                cycles += 1
        finally:
            gc.enable()
    return times[call], times[baseline]


def fastest_alone(call, calls: int, seconds: float = 0.02) -> float:
    """The fastest of at least `calls` single calls over at least `seconds`: an anchor where
    no benchmark timed the code."""
    times, deadline = [], time.perf_counter() + seconds
    while len(times) < calls or time.perf_counter() < deadline:
        times.append(_one_call(call))
    return min(times)


def _one_call(call) -> float:
    start = time.perf_counter()
    call()
    return max(time.perf_counter() - start, 1e-7)
