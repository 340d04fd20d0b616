"""Central differences on a large case: a seeded, documented sample of coordinates, bounded
by a count of loss evaluations, and said to be sampled wherever it is compared."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from broken_backends import bias_grad_averaged

from harness import finite_differences as fdiff
from harness import gradcheck, report
from harness import network as net
from harness.cases import Case, Run, Task
from harness.gradcheck import Pairing
from harness.manual import REFERENCE
from harness.tolerance import DEFAULT

LOSS = {"type": "cross_entropy", "reduction": "mean", "eps": 1e-7}


def wide_case(n_in: int, hidden: int, batch: int = 3) -> Case:
    """A Linear(bias)-ReLU-Linear(bias)-Softmax case with mixed-sign data, drawn with seed 1."""
    layers = [
        {"type": "linear", "in": n_in, "out": hidden, "bias": True},
        {"type": "relu"},
        {"type": "linear", "in": hidden, "out": 3, "bias": True},
        {"type": "softmax"},
    ]
    network = net.build(layers, LOSS)
    rng = np.random.default_rng(1)
    params = {k: rng.uniform(-0.3, 0.3, size=s) for k, s in network.param_shapes.items()}
    x, y = rng.normal(size=(batch, n_in)), np.eye(3)[rng.integers(0, 3, batch)]
    run = Run("batch", Task("gradient"), x, y, {})
    return Case("wide", Path("<wide>"), "wide", (), network, params, (run,), dict(DEFAULT))


def _first_batch(case: Case) -> dict:
    return gradcheck.first_batch(case, case.runs[0])


def test_small_cases_are_differenced_at_every_coordinate():
    case = wide_case(10, 20)  # 303 parameters
    fd = gradcheck.central_difference(case.network, case.params, _first_batch(case))
    assert fd.note == "" and not fd.sampled
    assert all(np.all(np.isfinite(g)) for g in fd.values())


def test_a_300k_parameter_case_samples_a_bounded_number_of_coordinates():
    """Before issue 10 this differenced all 305,290 coordinates: over 120 s, no progress."""
    case = wide_case(784, 389, batch=2)
    calls = []
    objective = case.network.objective
    counting = dataclasses.replace(case.network)
    object.__setattr__(counting, "objective", lambda *a: calls.append(1) or objective(*a))
    fd = gradcheck.central_difference(counting, case.params, _first_batch(case))
    total = sum(p.size for p in case.params.values())
    bound = fdiff.FD_SAMPLE_SIZE + fdiff.FD_MIN_PER_PARAMETER * len(case.params)
    taken = sum(int(mask.sum()) for mask in fd.sampled.values())
    assert fdiff.FD_SAMPLE_SIZE <= taken <= bound
    assert len(calls) == 2 * taken
    assert fd.note == f"fd sampled {taken} of {total:,} coordinates (seed 0)"
    least = fdiff.FD_MIN_PER_PARAMETER
    assert all(mask.sum() >= min(mask.size, least) for mask in fd.sampled.values())
    exact = REFERENCE.make_step(case.network, "float64")(case.params, _first_batch(case)).grads
    for name, mask in fd.sampled.items():
        assert np.all(np.isnan(fd[name][~mask]))
        np.testing.assert_allclose(fd[name][mask], exact[name][mask], rtol=1e-6, atol=1e-8)


def test_the_sample_is_reproducible():
    params = wide_case(60, 40).params
    first, second = fdiff.sample(params), fdiff.sample(params)
    assert all(np.array_equal(first[k], second[k]) for k in params)


@pytest.fixture
def sampled_case() -> Case:
    return wide_case(60, 40, batch=4)  # 2,563 parameters: sampled


def test_the_check_compares_only_sampled_coordinates_and_says_so(sampled_case, load_backend):
    pairing = Pairing("numpy", load_backend("numpy"), None)
    check = gradcheck.check(sampled_case, pairing, "float64")
    assert (check.status, check.verdict) == ("agree", "manual agrees with fd")
    assert "(fd sampled " in check.pairs["manual~fd"].name


def test_a_sampled_check_still_catches_a_wrong_bias_gradient(sampled_case):
    """Every parameter gets at least FD_MIN_PER_PARAMETER coordinates, the bias included."""
    pairing = Pairing("numpy", bias_grad_averaged.backend, None)
    check = gradcheck.check(sampled_case, pairing, "float64")
    assert (check.status, check.verdict) == ("disagree", "manual disagrees with fd")
    assert check.pairs["manual~fd"].name.startswith("batch/grad.b")


def test_the_gradcheck_row_says_the_check_sampled(sampled_case, load_backend):
    check = gradcheck.check(sampled_case, Pairing("numpy", load_backend("numpy"), None), "float64")
    row = report.gradcheck_row(check)
    total = sum(p.size for p in sampled_case.params.values())
    assert re.search(rf"manual agrees with fd \(fd sampled \d+ of {total:,} coordinates", row)
