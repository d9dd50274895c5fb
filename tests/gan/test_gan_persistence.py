"""Checkpoints hold both networks, both optimizers and the switching state: a killed run resumes exactly."""
from __future__ import annotations

import pytest
import torch
from torchloom_gan import (
    FixedGANSwitcher,
    GANDiscriminativeLR,
    GANLearner,
    GANOptimizer,
    fashion_gan_dls,
    sample,
)

from tests.gan.helpers import needs_fashion, tiny_models
from torchloom import Callback, Checkpoint, load_learner

pytestmark = needs_fashion


class KillAt(Callback):
    """Simulates a killed process: KeyboardInterrupt at the start of epoch ``epoch``."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def before_epoch(self):
        if self.learn.epoch == self.epoch:
            raise KeyboardInterrupt


def make(path, extra=()):
    dls = fashion_gan_dls(bs=32, n_train=160, n_valid=32, seed=3)  # 5 batches: C C G C C | G C C G C | ...
    g, c = tiny_models(seed=1)
    return GANLearner.bce(dls, g, c, switcher=FixedGANSwitcher(n_crit=2, n_gen=1), progress=False, path=path,
                          cbs=[Checkpoint(), GANDiscriminativeLR(2.0), *extra])


def _flat_opt(opt: GANOptimizer):
    out = {}
    for net, sd in (("gen", opt.gen_opt.state_dict()), ("crit", opt.crit_opt.state_dict())):
        for key, st in sd["state"].items():
            for k, v in st.items():
                out[f"{net}.{key}.{k}"] = v
        out[f"{net}.hypers"] = sd["hypers"]
    return out


def test_killed_run_resumes_exactly(tmp_path):
    a = make(tmp_path / "a")
    a.fit_one_cycle(3, 1e-3)

    b = make(tmp_path / "b", extra=[KillAt(2)])
    with pytest.raises(KeyboardInterrupt):
        b.fit_one_cycle(3, 1e-3)
    ckpt = tmp_path / "b" / "models" / "checkpoint.safetensors"
    assert ckpt.is_file()

    c = make(tmp_path / "b")
    c.fit_one_cycle(3, 1e-3, resume="checkpoint")
    assert c.resumed_from["epoch"] == 1
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, c.model.state_dict()[k]), f"{k} differs after resume"
    oa, oc = _flat_opt(a.opt), _flat_opt(c.opt)
    assert oa.keys() == oc.keys() and len(oa) > 4
    for k in oa:
        if isinstance(oa[k], torch.Tensor):
            assert torch.equal(oa[k], oc[k]), f"optimizer state {k} differs"
        else:
            assert oa[k] == oc[k], f"optimizer {k} differs"
    ta, tc = a.gan_trainer, c.gan_trainer
    assert ta.gen_mode == tc.gen_mode
    assert torch.equal(torch.stack(ta.gen_losses), torch.stack(tc.gen_losses))
    assert torch.equal(torch.stack(ta.crit_losses), torch.stack(tc.crit_losses))
    # valid loss, gen_loss, crit_loss columns (the kernel's smoothed train_loss restarts with each fit)
    assert a.recorder.values[-1][1:] == pytest.approx(c.recorder.values[-1][1:], rel=1e-6)


def test_checkpoint_holds_both_networks_and_optimizers(tmp_path):
    learn = make(tmp_path)
    learn.fit(1, 1e-3)
    learn.save_checkpoint("ck")
    fresh = make(tmp_path)
    fresh.load_checkpoint("ck")
    assert isinstance(fresh.opt, GANOptimizer)
    assert fresh.opt.gen_opt.state_dict()["state"] and fresh.opt.crit_opt.state_dict()["state"]
    assert fresh.gan_trainer.gen_mode == learn.gan_trainer.gen_mode
    assert fresh.fixed_gan_switcher.state_dict() == learn.fixed_gan_switcher.state_dict()
    for k, v in learn.model.state_dict().items():
        assert torch.equal(v, fresh.model.state_dict()[k])


def test_export_the_generator_alone_and_sample_after_load_learner(tmp_path):
    learn = make(tmp_path)
    learn.fit(1, 1e-3)
    path = learn.export("gen")
    loaded = load_learner(path)
    assert type(loaded.model).__name__ == "Sequential" and not hasattr(loaded.model, "critic")
    expected = sample(learn.model.generator, 6, seed=5)
    got = sample(loaded.model, 6, seed=5)
    assert torch.allclose(expected, got)
    preds = loaded.get_preds(dl=learn.noise_dl(4))[0]
    assert preds.shape == (4, 1, 32, 32)
    with pytest.raises(RuntimeError, match="exported by GANLearner.export for sampling"):
        loaded.loss_func(preds)
