"""GAN training is the kernel's loop plus callbacks: switching, freezing, ordering, clipping, loss records."""
from __future__ import annotations

import pytest
import torch
from torchloom_gan import (
    AdaptiveGANSwitcher,
    FixedGANSwitcher,
    GANDiscriminativeLR,
    GANLearner,
    GANLoss,
    GANModule,
    GANOptimizer,
    GANTrainer,
    wgan_crit_loss,
    wgan_gen_loss,
)

from tests.gan.helpers import needs_fashion, tiny_models
from torchloom import Callback, Learner

pytestmark = needs_fashion


class ModeLog(Callback):
    """Records, per training batch, which network trained, what is frozen and what the loss saw."""

    after = ("gan_trainer",)
    before = ("fixed_gan_switcher", "adaptive_gan_switcher")

    def before_fit(self):
        self.modes, self.frozen_ok, self.crit_lrs, self.gen_lrs = [], [], [], []

    def after_step(self):
        t = self.learn.gan_trainer
        self.modes.append("G" if t.gen_mode else "C")
        gen_rg = all(p.requires_grad for p in self.learn.model.generator.parameters())
        crit_rg = all(p.requires_grad for p in self.learn.model.critic.parameters())
        self.frozen_ok.append(gen_rg == t.gen_mode and crit_rg == (not t.gen_mode))
        opt = self.learn.opt
        self.crit_lrs.append(opt.crit_opt.hypers[0]["lr"])
        self.gen_lrs.append(opt.gen_opt.hypers[0]["lr"])


def test_fixed_switcher_alternates_and_freezes(tiny_dls):
    g, c = tiny_models()
    log = ModeLog()
    learn = GANLearner.wgan(tiny_dls, g, c, switcher=FixedGANSwitcher(n_crit=2, n_gen=1), cbs=[log],
                            progress=False)
    learn.fit(1, 1e-4)
    assert log.modes == list("CCGCCGCC"), log.modes  # 8 batches of 32
    assert all(log.frozen_ok)
    assert isinstance(learn.opt, GANOptimizer)
    assert len(learn.gan_trainer.crit_losses) == 6 and len(learn.gan_trainer.gen_losses) == 2
    row = learn.recorder.values[-1]
    names = learn.recorder.metric_names
    assert "gen_loss" in names and "crit_loss" in names
    assert row[names.index("gen_loss") - 1] == pytest.approx(learn.gan_trainer.gen_loss)


def test_wgan_clips_the_critic_and_trains_only_the_selected_network(tiny_dls):
    g, c = tiny_models()
    learn = GANLearner.wgan(tiny_dls, g, c, progress=False)
    g0 = {k: v.clone() for k, v in g.state_dict().items()}
    assert max(float(p.detach().abs().max()) for p in c.parameters()) > 0.05  # kaiming init: far above the clip
    learn.fit(1, 1e-3)  # 8 batches: 5 critic steps, 1 generator step, 2 critic steps
    # clipped before every batch, so at most one optimizer step (about lr) above the clip afterwards
    assert all(float(p.detach().abs().max()) <= 0.01 + 2e-3 for p in c.parameters())
    moved = [k for k, v in g.state_dict().items() if v.is_floating_point() and not torch.equal(v, g0[k])]
    assert moved, "the generator never trained"
    assert learn.gan_trainer.gen_losses and learn.gan_trainer.crit_losses


def test_adaptive_switcher_follows_the_thresholds(tiny_dls):
    g, c = tiny_models()
    log = ModeLog()
    # the critic switches as soon as its loss is below +inf; the generator never (threshold -inf)
    learn = GANLearner(tiny_dls, g, c, wgan_gen_loss, wgan_crit_loss, cbs=[log], progress=False,
                       switcher=AdaptiveGANSwitcher(gen_thresh=float("-inf"), critic_thresh=float("inf")))
    learn.fit(1, 1e-4)
    assert log.modes == ["C"] + ["G"] * 7


def test_discriminative_lr_multiplies_the_critic_lr_only_while_it_trains(tiny_dls):
    g, c = tiny_models()
    log = ModeLog()
    learn = GANLearner.wgan(tiny_dls, g, c, switcher=FixedGANSwitcher(1, 1), progress=False,
                            cbs=[GANDiscriminativeLR(mult_lr=5.0), log])
    learn.fit(1, 1e-4)
    for mode, clr, glr in zip(log.modes, log.crit_lrs, log.gen_lrs):
        assert glr == pytest.approx(1e-4)
        assert clr == pytest.approx(5e-4 if mode == "C" else 1e-4)
    assert learn.opt.crit_opt.hypers[0]["lr"] == pytest.approx(1e-4)  # restored after each batch


def test_order_comes_from_constraints_not_insertion(tiny_dls):
    g, c = tiny_models()
    gan = GANModule(g, c)
    # switcher and lr multiplier added BEFORE the trainer: the constraints still put them after it
    learn = Learner(tiny_dls, gan, loss_func=GANLoss(wgan_gen_loss, wgan_crit_loss, gan), progress=False,
                    cbs=[FixedGANSwitcher(), GANDiscriminativeLR(), GANTrainer()])
    names = [cb.name for cb in learn.ordered_cbs("after_batch")]
    assert names.index("gan_trainer") < names.index("fixed_gan_switcher")
    before = [cb.name for cb in learn.ordered_cbs("before_batch")]
    assert before.index("gan_trainer") < before.index("gan_discriminative_lr")
    report = learn.order_report("after_batch")
    assert "fixed_gan_switcher declares after='gan_trainer'" in report
    learn.fit(1, 1e-4)
    assert learn.gan_trainer.gen_losses  # the switcher did switch


def test_plain_learner_with_use_gets_one_optimizer_per_network(tiny_dls):
    g, c = tiny_models()
    gan = GANModule(g, c)
    learn = Learner(tiny_dls, gan, loss_func=GANLoss(wgan_gen_loss, wgan_crit_loss, gan), progress=False)
    learn.use("gan_trainer", clip=0.01).use("fixed_gan_switcher", n_crit=1, n_gen=1)
    learn.fit(1, 1e-4)
    assert isinstance(learn.opt, GANOptimizer)
    assert learn.opt.gen_opt.state_dict()["state"] and learn.opt.crit_opt.state_dict()["state"]
    assert learn.plugins_used["gan_trainer"]["dist"] == "torchloom-gan"


def test_validation_runs_the_generator_and_keeps_the_training_mode(tiny_dls):
    g, c = tiny_models()
    learn = GANLearner.bce(tiny_dls, g, c, switcher=FixedGANSwitcher(n_crit=3, n_gen=1), progress=False)
    learn.fit(1, 1e-4)  # 8 batches: CCCG CCCG -> critic next
    assert learn.gan_trainer.gen_mode is False
    valid_loss = learn.recorder.values[-1][1]
    assert valid_loss is not None and valid_loss > 0  # generator loss on the validation images
    assert all(p.requires_grad for p in learn.model.parameters()), "a frozen network was left behind"


def test_generation_through_get_preds_predict_and_show_results(tiny_dls):
    import matplotlib

    matplotlib.use("Agg")
    g, c = tiny_models()
    learn = GANLearner.bce(tiny_dls, g, c, progress=False)
    learn.fit(1, 1e-4)
    preds = learn.get_preds(dl=learn.noise_dl(10))[0]
    assert preds.shape == (10, 1, 32, 32) and preds.min() >= -1 and preds.max() <= 1
    img, raw, _ = learn.predict()
    assert img.shape == (1, 32, 32) and 0 <= float(img.min()) and float(img.max()) <= 1
    assert type(img).__name__ == "TensorImageBW"
    with pytest.raises(ValueError, match="noise vector of size 100"):
        learn.predict(torch.zeros(3))
    assert learn.gan_trainer.gen_mode is False, "sampling changed the training mode"
    learn.show_results(max_n=4)
    learn.dls.show_batch(max_n=4)
    assert learn.generate(5, seed=1).shape == (5, 1, 32, 32)
    assert torch.equal(learn.generate(5, seed=1), learn.generate(5, seed=1))
