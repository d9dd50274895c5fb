"""torchloom-ema: the average itself, validation with it, restoring live weights, and its state."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from torchloom_ema import EMA

from torchloom import CancelStepException, FuncCallback, Learner
from torchloom.testing import CallbackContract

N_BATCHES = 4


def _data(seed: int = 0, n: int = N_BATCHES, bs: int = 8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n * bs, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.3
    batches = [(x[i:i + bs], y[i:i + bs]) for i in range(0, n * bs, bs)]
    return SimpleNamespace(train=batches, valid=batches[:2], device=None)


def make_learner(model: nn.Module | None = None, seed: int = 0, **kw) -> Learner:
    torch.manual_seed(seed)
    model = model if model is not None else nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    learn = Learner(_data(seed), model, loss_func=nn.MSELoss(), lr=0.05, opt_func="sgd", **kw)
    learn.remove_cbs([c for c in learn.cbs if c.name == "progress"])
    return learn


def _params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def _clone(d: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in d.items()}


def _equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class Spy(FuncCallback):
    """Snapshots the weights at the events the tests look at."""

    def __init__(self) -> None:
        super().__init__(name="spy", after=("ema",), before_fit=Spy._before_fit, after_step=Spy._after_step,
                         after_train=Spy._after_train, before_batch=Spy._before_batch, after_loss=Spy._after_loss)
        self.start, self.steps, self.end_of_train, self.valid_seen, self.train_first, self.valid_loss = (
            None, [], [], [], [], [])

    def _before_fit(self):
        self.start = _params(self.learn.model)

    def _after_step(self):
        self.steps.append(_params(self.learn.model))

    def _after_train(self):
        self.end_of_train.append(_params(self.learn.model))

    def _before_batch(self):
        if not self.learn.training:
            self.valid_seen.append((_params(self.learn.model), _clone(self.learn.ema.averaged_state())))
        elif self.learn.iter == 0:
            self.train_first.append(_params(self.learn.model))

    def _after_loss(self):
        if not self.learn.training:
            self.valid_loss.append(self.learn.loss.item())


def _hand_ema(start, steps, decay, every=1, warmup=False):
    avg = {k: v.clone() for k, v in start.items()}
    n_updates = 0
    for i, w in enumerate(steps, 1):
        if i % every:
            continue
        d = min(decay, (1 + n_updates) / (10 + n_updates)) if warmup else decay
        avg = {k: d * avg[k] + (1 - d) * w[k] for k in avg}
        n_updates += 1
    return avg, n_updates


@pytest.mark.parametrize(("decay", "every", "warmup"), [(0.9, 1, False), (0.8, 3, False), (0.99, 1, True)])
def test_average_equals_hand_computed_ema(decay, every, warmup):
    learn = make_learner()
    spy = Spy()
    learn.use("ema", decay=decay, every=every, warmup=warmup).add_cb(spy)
    learn.fit(2)
    assert len(spy.steps) == 2 * N_BATCHES
    expected, n_updates = _hand_ema(spy.start, spy.steps, decay, every, warmup)
    got = learn.ema.averaged_state()
    assert got.keys() == expected.keys()
    for k in expected:
        torch.testing.assert_close(got[k], expected[k], rtol=1e-5, atol=1e-6)
    assert (learn.ema.n_steps, learn.ema.n_updates) == (2 * N_BATCHES, n_updates)
    assert not torch.equal(got["0.weight"], spy.steps[-1]["0.weight"])  # an average, not the live weights


def test_validation_uses_averaged_weights_then_training_resumes_from_live():
    learn = make_learner()
    spy = Spy()
    learn.use("ema", decay=0.9).add_cb(spy)
    learn.fit(2)
    assert len(spy.valid_seen) == 2 * 2  # 2 epochs x 2 validation batches
    for weights, avg in spy.valid_seen:
        assert _equal(weights, avg)
    # the weights validated are not the live ones...
    assert not _equal(spy.valid_seen[0][0], spy.end_of_train[0])
    # ...and epoch 2 trains on the live weights from the end of epoch 1's training
    assert _equal(spy.train_first[1], spy.end_of_train[0])
    # the validation loss is the loss of the averaged model
    avg_model = make_learner().model
    avg_model.load_state_dict(spy.valid_seen[-1][1])
    xb, yb = learn.dls.valid[1]
    torch.testing.assert_close(spy.valid_loss[-1], nn.MSELoss()(avg_model(xb), yb).item())
    # after fit the model holds the live weights by default
    assert _equal(_params(learn.model), spy.steps[-1])
    assert not learn.ema.swapped


def test_ema_at_end_leaves_the_average_in_the_model():
    learn = make_learner()
    learn.use("ema", decay=0.9, ema_at_end=True)
    learn.fit(1)
    assert _equal(_params(learn.model), learn.ema.averaged_state())


def test_validate_with_ema_false_validates_live_weights():
    learn = make_learner()
    spy = Spy()
    learn.use("ema", decay=0.9, validate_with_ema=False).add_cb(spy)
    learn.fit(1)
    assert all(_equal(w, spy.end_of_train[0]) for w, _ in spy.valid_seen)


def test_keyboard_interrupt_during_validation_leaves_live_weights():
    learn = make_learner()
    spy = Spy()

    def interrupt(cb):
        if not cb.learn.training and cb.learn.iter == 1:
            raise KeyboardInterrupt

    learn.use("ema", decay=0.9).add_cb(spy).add_cb(FuncCallback(name="boom", after_pred=interrupt))
    with pytest.raises(KeyboardInterrupt):
        learn.fit(2)
    assert _equal(spy.valid_seen[0][0], spy.valid_seen[0][1])  # it was validating with the average
    assert _equal(_params(learn.model), spy.end_of_train[0])  # and the live weights are back
    assert not learn.ema.swapped
    learn.remove_cb("boom")
    learn.fit(1)  # and the learner trains on normally
    assert learn.ema.n_steps == 2 * N_BATCHES


def test_cancelled_steps_are_not_averaged():
    learn = make_learner()

    def skip_odd(cb):
        if cb.learn.iter % 2:
            raise CancelStepException

    learn.use("ema", decay=0.5).add_cb(FuncCallback(name="skip", before_step=skip_odd))
    learn.fit(1)
    assert learn.ema.n_steps == learn.ema.n_updates == N_BATCHES // 2


def test_buffers_are_copied_by_default_and_averaged_on_request():
    def bn_model():
        return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))

    live = make_learner(bn_model())
    live.use("ema", decay=0.9)
    spy = Spy()
    live.add_cb(spy)
    live.fit(1)
    assert "1.running_mean" not in live.ema.averaged_state()

    avg = make_learner(bn_model())
    avg.use("ema", decay=0.9, average_buffers=True)
    seen = []
    avg.add_cb(FuncCallback(name="bufs", before_batch=lambda cb: None if cb.learn.training else seen.append(
        cb.learn.model[1].running_mean.clone())))
    avg.fit(1)
    state = avg.ema.averaged_state()
    assert "1.num_batches_tracked" not in state  # integer buffers stay live
    torch.testing.assert_close(seen[0], state["1.running_mean"])
    assert not torch.equal(avg.model[1].running_mean, state["1.running_mean"])  # live stats are back


def test_state_dict_round_trip_and_resume_continues_the_average():
    ref = make_learner()
    ref.use("ema", decay=0.9)
    ref.fit(2)

    first = make_learner()
    first.use("ema", decay=0.9)
    first.fit(1)
    state = first.ema.state_dict()
    assert state["n_steps"] == N_BATCHES and set(state) >= {"avg.0.weight", "avg.2.bias"}

    second = make_learner()
    second.model.load_state_dict(first.model.state_dict())
    second.use("ema", decay=0.9)
    second.ema.load_state_dict(state)
    assert _equal(second.ema.averaged_state(), first.ema.averaged_state())  # before any fit too
    second.fit(1)
    assert second.ema.n_steps == 2 * N_BATCHES
    for k, v in ref.ema.averaged_state().items():
        torch.testing.assert_close(second.ema.averaged_state()[k], v)


def test_state_for_another_model_is_refused_with_the_keys():
    learn = make_learner()
    learn.use("ema")
    learn.ema.load_state_dict({"n_steps": 3, "n_updates": 3, "avg.weight": torch.zeros(1, 3)})
    with pytest.raises(ValueError, match=r"missing \['0.bias'.*unexpected \['weight'\]"):
        learn.fit(1)
    assert set(learn.ema.state_dict()) == {"n_steps", "n_updates", "avg.weight"}  # kept, not half-applied
    bad = {k: torch.zeros(7) for k in make_learner().model.state_dict()}
    learn.ema.load_state_dict({"n_steps": 3, "n_updates": 3, **{"avg." + k: v for k, v in bad.items()}})
    with pytest.raises(ValueError, match=r"do not fit the model: 0.weight: saved \(7,\), model \(4, 3\)"):
        learn.fit(1)
    trained = make_learner()
    trained.use("ema").fit(1)
    with pytest.raises(ValueError, match="do not fit the model"):  # also when already attached to a model
        trained.ema.load_state_dict({"n_steps": 3, "n_updates": 3, **{"avg." + k: v for k, v in bad.items()}})
    assert (trained.ema.n_steps, trained.ema.n_updates) == (N_BATCHES, N_BATCHES)  # nothing changed
    with pytest.raises(ValueError, match="unexpected keys \\['bogus'\\]"):
        learn.ema.load_state_dict({"n_steps": 0, "n_updates": 0, "bogus": 1})


@pytest.mark.parametrize(("kwargs", "says"), [({"decay": 1.0}, "decay"), ({"decay": -0.1}, "decay"),
                                              ({"every": 0}, "every"), ({"every": 1.5}, "every")])
def test_bad_arguments_are_refused(kwargs, says):
    with pytest.raises(ValueError, match=f"ema: `{says}`"):
        EMA(**kwargs)


def test_averaged_context_manager_swaps_and_restores():
    learn = make_learner()
    learn.use("ema", decay=0.9)
    with pytest.raises(RuntimeError, match="no averaged weights yet"):
        with learn.ema.averaged():
            pass
    learn.fit(1)
    live = _params(learn.model)
    with learn.ema.averaged() as model:
        assert _equal(_params(model), learn.ema.averaged_state())
    assert _equal(_params(learn.model), live)


@pytest.mark.parametrize("ema_at_end", [False, True])
def test_validate_and_get_preds_after_fit_use_the_average_and_keep_the_weights(ema_at_end):
    learn = make_learner()
    learn.use("ema", decay=0.9, ema_at_end=ema_at_end)
    learn.fit(1)
    before = _params(learn.model)
    avg_model = make_learner().model
    avg_model.load_state_dict(learn.ema.averaged_state())
    xb = torch.cat([b[0] for b in learn.dls.valid])
    yb = torch.cat([b[1] for b in learn.dls.valid])
    valid_loss = learn.validate()[0]
    preds, _ = learn.get_preds(dl=learn.dls.valid)
    with torch.no_grad():
        expected = avg_model(xb)
    torch.testing.assert_close(valid_loss, ((expected - yb) ** 2).mean().item(), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(preds, expected)
    assert _equal(_params(learn.model), before)  # inference never changes the weights


class TestEMAContract(CallbackContract):
    """torchloom's conformance kit."""

    name = "ema"
    kwargs = {"decay": 0.9}


def test_state_is_saved_in_checkpoints_and_resume_matches_an_uninterrupted_run(tmp_path):
    from torchloom import Checkpoint

    ref = make_learner(path=tmp_path / "ref")
    ref.use("ema", decay=0.9).add_cb(Checkpoint())
    ref.fit(3)

    def stop_in_epoch_2(cb):
        if cb.learn.epoch == 1 and cb.learn.iter == 2 and cb.learn.training:
            raise KeyboardInterrupt

    run = make_learner(path=tmp_path / "run")
    run.use("ema", decay=0.9).add_cb(Checkpoint()).add_cb(FuncCallback(name="stop", before_batch=stop_in_epoch_2))
    with pytest.raises(KeyboardInterrupt):
        run.fit(3)

    resumed = make_learner(path=tmp_path / "run")
    resumed.use("ema", decay=0.9).add_cb(Checkpoint())
    resumed.fit(3, resume="checkpoint")
    assert resumed.ema.n_steps == ref.ema.n_steps == 3 * N_BATCHES
    for k, v in ref.ema.averaged_state().items():
        torch.testing.assert_close(resumed.ema.averaged_state()[k], v)
    assert _equal(_params(resumed.model), _params(ref.model))


class TestEMAContractAllOptions(CallbackContract):
    """The kit again with every option switched on."""

    name = "ema"
    kwargs = {"decay": 0.5, "every": 2, "warmup": True, "average_buffers": True, "ema_at_end": True}


def test_discovery_imports_neither_the_callback_nor_torch():
    code = "import sys, torchloom_ema.plugin; print('torchloom_ema.ema' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
