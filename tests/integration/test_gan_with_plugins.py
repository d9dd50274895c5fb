"""torchloom-gan with the precision (fp16 / bf16) and ema plugins, installed side by side."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from torchloom import PluginConflictError

gan = pytest.importorskip("torchloom_gan")
pytest.importorskip("torchloom_fp16")
pytest.importorskip("torchloom_ema")


@pytest.fixture
def learn(one_torch_thread):
    from torchloom_gan import FixedGANSwitcher, GANLearner, basic_critic, basic_generator, gan_dataloaders

    imgs = np.random.default_rng(0).integers(0, 256, (128, 28, 28), dtype=np.uint8)
    torch.manual_seed(0)
    return GANLearner.bce(gan_dataloaders(imgs, bs=32, n_valid=32), basic_generator(32, 1, n_features=8),
                          basic_critic(32, 1, n_features=8), switcher=FixedGANSwitcher(1, 1), progress=False)


@pytest.mark.parametrize("name", ["fp16", "bf16"])
def test_mixed_precision_trains_both_networks(learn, name):
    learn.use(name)
    g0 = [p.detach().clone() for p in learn.model.generator.parameters()]
    c0 = [p.detach().clone() for p in learn.model.critic.parameters()]
    learn.fit(1, 1e-3)
    t = learn.gan_trainer
    assert len(t.gen_losses) == 2 and len(t.crit_losses) == 2
    assert all(math.isfinite(float(v)) for v in [*t.gen_losses, *t.crit_losses])
    assert any(not torch.equal(a, b) for a, b in zip(g0, learn.model.generator.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(c0, learn.model.critic.parameters()))
    assert all(p.dtype == torch.float32 for p in learn.model.parameters())
    cb = learn._used[name].cb
    if name == "fp16":  # one dynamic loss scaler serves both networks' losses
        assert cb.loss_scale is not None and cb.scaler is not None
    preds = learn.get_preds(dl=learn.noise_dl(4))[0]
    assert preds.dtype == torch.float32 and preds.shape == (4, 1, 32, 32)


def test_fp16_scaler_state_is_checkpointed_with_the_gan(learn, tmp_path):
    learn.path = tmp_path
    learn.use("fp16", init_scale=1024.0)
    learn.fit(1, 1e-3)
    learn.save_checkpoint("ck")
    from torchloom_gan import GANOptimizer

    fresh = type(learn).bce(learn.dls, learn.model.generator, learn.model.critic, progress=False, path=tmp_path)
    fresh.use("fp16")
    fresh.load_checkpoint("ck")
    assert isinstance(fresh.opt, GANOptimizer)
    assert fresh.fp16.state_dict()["scale"] == learn.fp16.state_dict()["scale"]


def test_fp16_and_bf16_share_one_precision_slot(learn):
    learn.use("fp16")
    with pytest.raises(PluginConflictError, match="precision"):
        learn.use("bf16")


def test_ema_averages_the_generator_and_samples_from_it(learn):
    learn.use("ema", decay=0.5)
    learn.fit(1, 1e-3)
    ema = learn.ema
    assert ema.n_updates == 4  # every step of either network
    avg = ema.averaged_state()
    assert any(k.startswith("generator.") for k in avg) and any(k.startswith("critic.") for k in avg)
    from torchloom_gan import sample

    live = sample(learn.model.generator, 4, seed=0)          # the module as trained
    with ema.averaged():
        averaged = sample(learn.model.generator, 4, seed=0)  # the averaged generator
    assert not torch.equal(live, averaged)
    assert torch.equal(sample(learn.model.generator, 4, seed=0), live), "the live weights were not restored"
    # get_preds / generate sample from the averaged generator (as ema validates with the average)
    with_ema = learn.generate(4, seed=0)
    with learn.removed_cbs("ema"):
        without = learn.generate(4, seed=0)
    assert not torch.equal(with_ema, without)
    assert torch.equal(learn.generate(4, seed=0), with_ema)
