"""Optimizers (harness/optimizers.py) and the task option that picks one; integer inputs.

Adam is checked against torch.optim.Adam step by step; the case file's `optimizer` table is
validated in one line per problem; a backend's own `optimizer_update` is the one called; the
dask backend keeps no history in what it trains; token ids reach every backend as integers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness import cases, optimizers, plugins
from harness.cases import CaseError
from harness.protocol import INDEX_DTYPE
from harness.tasks import batches, data_dtype

CASES = cases.builtin_dir()


def test_adam_follows_torch_optim_adam_step_by_step():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start = {"w": rng.standard_normal((3, 2)), "b": rng.standard_normal(2)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in start.items()} for _ in range(5)]
    adam = optimizers.Adam(lr=0.01, beta1=0.8, beta2=0.95, eps=1e-6)
    leaves = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
    theirs = torch.optim.Adam(leaves.values(), lr=0.01, betas=(0.8, 0.95), eps=1e-6)
    params, state = dict(start), None
    for g in grads:
        params, state = optimizers.update(adam, params, g, state)
        for name, leaf in leaves.items():
            leaf.grad = torch.tensor(g[name])
        theirs.step()
        for name, leaf in leaves.items():
            np.testing.assert_allclose(params[name], leaf.detach().numpy(), rtol=1e-13)
    assert state["step"] == 5


def test_sgd_is_the_homework_update_and_keeps_no_state():
    params, state = optimizers.update(
        optimizers.SGD(0.5), {"w": np.array([1.0, 2.0])}, {"w": np.array([4.0, -2.0])}
    )
    np.testing.assert_array_equal(params["w"], [-1.0, 3.0])
    assert state == {}


def test_adam_state_names_every_array_it_holds():
    _, state = optimizers.update(
        optimizers.Adam(0.1, 0.9, 0.999, 1e-8), {"w": np.ones(2)}, {"w": np.ones(2)}
    )
    assert sorted(optimizers.arrays(state)) == ["m.w", "v.w"]


def test_a_backends_own_update_is_the_one_called():
    calls = []

    class Own:
        def optimizer_update(self, optimizer, params, grads, state):
            calls.append(state)
            return {"w": params["w"] * 0}, {"mine": True}

    params, state = optimizers.step(Own(), optimizers.SGD(0.1), {"w": np.ones(2)}, {"w": 1})
    assert calls == [{}] and state == {"mine": True}
    np.testing.assert_array_equal(params["w"], [0.0, 0.0])


def write_case(tmp_path: Path, old: str, new: str, name: str = "tanh-mixed-signs") -> Path:
    text = (CASES / f"{name}.toml").read_text()
    assert old in text, old
    path = tmp_path / f"{name}.toml"
    path.write_text(text.replace(old, new, 1))
    return path


ADAM = 'optimizer = { type = "adam", lr = 0.05, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 }'


@pytest.mark.parametrize(
    ("new", "field", "says"),
    [
        (ADAM.replace('"adam"', '"adamw"'), "runs[1].task.optimizer.type", "unknown optimizer"),
        (ADAM.replace("beta1", "beta_1"), "runs[1].task.optimizer.beta_1", "unknown field"),
        (ADAM.replace(", eps = 1e-8", ""), "runs[1].task.optimizer.eps", "missing"),
        (ADAM.replace("beta2 = 0.999", "beta2 = 1.0"), "runs[1].task.optimizer.beta2",
         "must be in [0, 1), got 1.0"),
        (ADAM.replace("lr = 0.05", "lr = 1e300"), "runs[1].task.optimizer.lr",
         "must be in (0, 10]"),
        (ADAM.replace("eps = 1e-8", "eps = 0"), "runs[1].task.optimizer.eps", "(0, 1)"),
        (ADAM + ", lr = 0.05", "runs[1].task.lr", "set optimizer.lr"),
        ('optimizer = "adam"', "runs[1].task.optimizer", "must be a table"),
    ],
)  # fmt: skip
def test_a_bad_optimizer_is_one_line_naming_its_field(tmp_path, new, field, says):
    path = write_case(tmp_path, ADAM, new)
    with pytest.raises(CaseError) as raised:
        cases.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {field}: ") and says in message, message
    assert "\n" not in message


def test_a_run_cannot_retune_the_tasks_optimizer_with_a_bare_lr(tmp_path):
    text = (CASES / "tanh-mixed-signs.toml").read_text()
    text = text.replace('[task]\nkind = "gradient"', f'[task]\nkind = "gradient"\n{ADAM}')
    text = text.replace(f"batch_size = 2, {ADAM}", "batch_size = 2, lr = 0.1")
    path = tmp_path / "retune.toml"
    path.write_text(text)
    with pytest.raises(CaseError, match=r"runs\[1\]\.task\.lr: \[task\] sets optimizer Adam"):
        cases.load(path)


def test_a_run_inherits_the_tasks_optimizer(tmp_path):
    text = (CASES / "tanh-mixed-signs.toml").read_text()
    text = text.replace('[task]\nkind = "gradient"', f'[task]\nkind = "gradient"\n{ADAM}')
    text = text.replace(f", {ADAM}", "")
    path = tmp_path / "inherit.toml"
    path.write_text(text)
    train = cases.load(path).runs[1].task
    assert train.rule == optimizers.Adam(0.05, 0.9, 0.999, 1e-8) and train.lr == 0.05


def test_a_bare_lr_is_sgd(registry):
    assert registry["task3-train"].runs[0].task.rule == optimizers.SGD(0.01)


# ---- dask: the update settles what it makes ----


def adam_train(backend, case, steps: int):
    run = next(r for r in case.runs if r.task.kind == "train")
    step = backend.make_step(case.network, "float64")
    params = {k: backend.from_numpy(v, "float64") for k, v in case.params.items()}
    state = None
    for _, batch in zip(range(steps), batches(case.network, run), strict=False):
        inputs = {k: backend.from_numpy(v, data_dtype(v, "float64")) for k, v in batch.items()}
        result = step(params, inputs)
        params, state = optimizers.step(backend, run.task.rule, params, result.grads, state)
    return params, state


def test_dask_adam_keeps_no_history_in_params_or_moments(registry):
    pytest.importorskip("dask.array")
    backend = plugins.load("dask")
    case = registry["tanh-mixed-signs"]
    sizes = []
    for steps in (2, 4):
        params, state = adam_train(backend, case, steps)
        arrays = {**params, **optimizers.arrays(state)}
        assert all(
            all(isinstance(v, np.ndarray) for v in a.__dask_graph__().values())
            for a in arrays.values()
        ), "a lazy array survived the update"
        sizes.append({k: len(a.__dask_graph__()) for k, a in arrays.items()})
    assert sizes[0] == sizes[1]


# ---- integer inputs ----


@pytest.mark.parametrize("name", sorted(plugins.discover()))
def test_every_backend_takes_token_ids_as_integers(name, load_backend):
    backend = load_backend(name)
    if not plugins.availability(backend).available:
        pytest.skip(plugins.availability(backend).reason)
    ids = np.array([[0, 5, 2], [2**20, 1, 0]])
    for dtype in backend.dtypes:
        with backend.numerics(dtype):
            array = backend.from_numpy(ids, data_dtype(ids, dtype))
            back = np.asarray(backend.to_numpy(array))
        assert back.dtype.kind == "i", (dtype, back.dtype)
        np.testing.assert_array_equal(back, ids)


def test_data_dtype_sends_integers_as_the_index_dtype():
    assert data_dtype(np.array([1, 2]), "float32") == INDEX_DTYPE == "int64"
    assert data_dtype(np.array([1.0]), "float32") == "float32"


def test_token_ids_out_of_the_vocabulary_are_named(tmp_path):
    path = write_case(
        tmp_path,
        "tokens = [[2, 0, 2, 1], [3, 2, 4, 2], [2, 1, 0, 3]]",
        "tokens = [[2, 0, 2, 1], [3, 2, 6, 2], [2, 1, 0, 3]]",
        "embedding-repeated-tokens",
    )
    with pytest.raises(CaseError, match=r"runs\[0\]\.x: token ids must be integers in \[0, 6\)"):
        cases.load(path)


def test_one_hot_labels_must_be_classes(tmp_path):
    path = write_case(tmp_path, "labels = [1, 3, 0, 2]", "labels = [1, 4, 0, 2]", "log-softmax-nll")
    with pytest.raises(CaseError, match=r"arrays\.y\.of: labels must be whole numbers in \[0, 4\)"):
        cases.load(path)
