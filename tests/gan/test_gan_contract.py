"""The kernel's conformance kit for "gan_trainer" and the switchers, on a plain Learner with a GANModule."""
from __future__ import annotations

import numpy as np
from torchloom_gan import GANLoss, GANModule, gan_dataloaders, wgan_crit_loss, wgan_gen_loss

from tests.gan.helpers import tiny_models
from torchloom import Learner
from torchloom.testing import CallbackContract


def gan_learner():
    imgs = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    g, c = tiny_models()
    gan = GANModule(g, c)
    return Learner(gan_dataloaders(imgs, bs=16, n_valid=16), gan, loss_func=GANLoss(wgan_gen_loss, wgan_crit_loss, gan),
                   progress=False)


class TestGANTrainerContract(CallbackContract):
    name = "gan_trainer"
    kwargs = {"clip": 0.01}

    def make_learner(self):
        return gan_learner()


class TestFixedSwitcherContract(CallbackContract):
    name = "fixed_gan_switcher"
    kwargs = {"n_crit": 2, "n_gen": 1}

    def make_learner(self):
        return gan_learner().use("gan_trainer")
