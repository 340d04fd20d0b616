"""The three-way gradient check: central differences are right, agreement is reported, and a
wrong source, manual or autograd or the function itself, is named as the odd one out."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from broken_backends import Bugged, float32_inside, relu_discarded
from broken_backends.grads_accumulated_twice import accumulate_twice

from harness import cases, cli, gradcheck, plugins
from harness.gradcheck import Pairing
from harness.manual import REFERENCE
from harness.protocol import DTYPES

MIXED_SIGNS = cases.builtin_dir() / "relu-mixed-signs.toml"


def available(load_backend, name: str):
    backend = load_backend(name)
    if not plugins.availability(backend).available:
        pytest.skip(f"{name} unavailable")
    return backend


def test_central_differences_match_the_reference_backward(registry):
    for case in registry.values():
        for run in case.runs:
            batch = gradcheck.first_batch(case, run)
            step = REFERENCE.make_step(case.network, "float64")
            exact = step(case.params, batch)
            fd = gradcheck.central_difference(case.network, case.params, batch)
            tol = gradcheck.pair_tolerance(case, "float64", float(exact.loss), with_fd=True)
            for name, grad in exact.grads.items():
                np.testing.assert_allclose(fd[name], grad, rtol=tol.rtol, atol=tol.atol)


def test_central_differences_see_a_changed_loss(registry):
    """A loss scaled by 3 gives a gradient 3 times larger: the differences are not a copy."""
    case = registry["task2-grad-batch-sum"]
    batch = gradcheck.first_batch(case, case.runs[0])
    fd = gradcheck.central_difference(case.network, case.params, batch)
    tripled = {**batch, "y": 3 * batch["y"]}  # cross-entropy is linear in the target
    fd3 = gradcheck.central_difference(case.network, case.params, tripled)
    np.testing.assert_allclose(fd3["w1"], 3 * fd["w1"], rtol=1e-6)


VERDICTS = {
    (True, True, True): ("agree", "all three agree"),
    (False, True, True): ("disagree", "inconclusive: manual~autograd"),
    (True, False, True): ("disagree", "inconclusive: manual~fd"),
    (True, True, False): ("disagree", "inconclusive: autograd~fd"),
    (False, False, True): ("disagree", "manual is the odd one out"),
    (False, True, False): ("disagree", "autograd is the odd one out"),
    (True, False, False): ("disagree", "finite differences are the odd one out"),
    (False, False, False): ("disagree", "all three disagree"),
}


@pytest.mark.parametrize("oks", list(itertools.product([True, False], repeat=3)))
def test_two_sources_that_agree_outvote_the_third(oks):
    agrees = dict(zip(("manual~autograd", "manual~fd", "autograd~fd"), oks, strict=True))
    status, verdict = gradcheck.odd_one_out(agrees, gradcheck.SOURCES)
    expected_status, expected_verdict = VERDICTS[oks]
    assert status == expected_status
    assert verdict.startswith(expected_verdict)


def test_two_way_check_without_autograd():
    assert gradcheck.odd_one_out({"manual~fd": True}, ["manual", "fd"]) == (
        "agree",
        "manual agrees with fd",
    )
    assert gradcheck.odd_one_out({"manual~fd": False}, ["manual", "fd"])[0] == "disagree"


def test_each_library_is_paired_with_its_other_strategy(load_backend):
    registered = [load_backend(name) for name in plugins.discover()]
    names = {b.name for b in registered if plugins.availability(b).available}
    expected = {
        "numpy": ("numpy", "-"),
        "torch": ("torch-manual", "torch"),
        "torch-manual": ("torch-manual", "torch"),
        "jax": ("jax-manual", "jax"),
        "jax-eager": ("jax-manual", "jax-eager"),
        "array-api-strict": ("array-api-strict", "-"),
    }
    for selected, pair in expected.items():
        if set(pair) - {"-"} <= names:
            (pairing,) = gradcheck.pairings([load_backend(selected)], registered)
            assert pairing.names() == pair, selected


@pytest.mark.parametrize("dtype", DTYPES)
def test_real_backends_agree_three_ways(dtype, registry, load_backend):
    torch_pair = Pairing(
        "torch", available(load_backend, "torch-manual"), available(load_backend, "torch")
    )
    for case in registry.values():
        check = gradcheck.check(case, torch_pair, dtype)
        if case.name == "task1-forward":
            assert check.status == "skip"
            continue
        assert check.status == "agree", (case.name, check.verdict, check.pairs)
        assert set(check.pairs) == {"manual~autograd", "manual~fd", "autograd~fd"}


def test_a_wrong_manual_backward_is_the_odd_one_out(registry, load_backend):
    twice = Bugged("manual-twice", step_bug=accumulate_twice)
    pairing = Pairing("numpy", twice, available(load_backend, "torch"))
    check = gradcheck.check(registry["task2-grad-batch-sum"], pairing, "float64")
    assert (check.status, check.verdict) == ("disagree", "manual is the odd one out")
    assert check.pairs["autograd~fd"].ok
    assert not check.pairs["manual~fd"].ok


def test_a_wrong_autograd_is_the_odd_one_out(registry, load_backend):
    torch_twice = Bugged("torch-twice", available(load_backend, "torch"), step_bug=accumulate_twice)
    assert gradcheck.strategy(torch_twice) == "autograd"
    pairing = Pairing("torch", available(load_backend, "torch-manual"), torch_twice)
    check = gradcheck.check(registry["task3-train"], pairing, "float32")
    assert (check.status, check.verdict) == ("disagree", "autograd is the odd one out")


def test_a_different_function_makes_finite_differences_the_odd_one(load_backend):
    """Both gradients of a forward without ReLU agree with each other, not with the loss."""
    torch_backend = available(load_backend, "torch")
    bug = relu_discarded.backend.network_bug
    pairing = Pairing(
        "torch",
        Bugged("manual-no-relu", network_bug=bug),
        Bugged("torch-no-relu", torch_backend, network_bug=bug),
    )
    check = gradcheck.check(cases.load(MIXED_SIGNS), pairing, "float64")
    assert check.status == "disagree"
    assert check.verdict.startswith("finite differences are the odd one out")
    assert check.pairs["manual~autograd"].ok


def test_harness_run_shows_the_three_way_check(capsys, tmp_path, load_backend):
    available(load_backend, "torch-manual")
    out = tmp_path / "cells.json"
    args = ["run", "--case", "task2-grad-batch-sum", "--backend", "torch", "--dtype", "float64"]
    assert cli.main([*args, "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    title = lines.index(next(x for x in lines if x.startswith("three-way gradient check")))
    *rows, summary, wrote = [x for x in lines[title + 3 :] if x.strip()]
    (row,) = rows
    assert summary == "1 gradient check: 1 agree, 0 disagree, 0 error, 0 skip"
    assert wrote.startswith("wrote ")
    assert row.split()[:5] == ["task2-grad-batch-sum", "torch-manual", "torch", "float64", "agree"]
    assert row.endswith("all three agree")
    (record,) = json.loads(out.read_text())["gradcheck"]
    assert (record["manual"], record["autograd"], record["status"]) == (
        "torch-manual",
        "torch",
        "agree",
    )
    assert all(pair["ok"] for pair in record["pairs"].values())


def test_harness_run_names_the_wrong_gradient(install_plugins, capsys):
    """A manual-only plugin whose gradients are doubled: two-way, it disagrees with fd."""
    install_plugins({"grads-accumulated-twice": "broken_backends.grads_accumulated_twice:backend"})
    args = ["run", "--case", "task2-grad-batch-sum", "--backend", "grads-accumulated-twice"]
    assert cli.main([*args, "--dtype", "float64"]) == 1
    lines = capsys.readouterr().out.splitlines()
    (row,) = [x for x in lines if x.endswith("disagrees with fd")]
    assert row.split()[:5] == [
        "task2-grad-batch-sum",
        "grads-accumulated-twice",
        "-",
        "float64",
        "disagree",
    ]
    assert row.endswith("manual disagrees with fd")


def test_a_backend_below_its_dtype_is_explained_when_inconclusive(registry, load_backend):
    """A float64 manual backend that computes in float32: it and autograd part at float64's
    tolerance, both agree with fd; the verdict says why that is not a toss-up."""
    pairing = Pairing("numpy", float32_inside.backend, available(load_backend, "torch"))
    check = gradcheck.check(registry["task2-grad-batch-sum"], pairing, "float64")
    assert check.status == "disagree"
    assert check.verdict.startswith("inconclusive: manual~autograd differ at the dtype's")
    assert "one of them computes below the dtype it returns" in check.verdict
