"""Bad input gets an error naming what is wrong."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torchloom_gan import (
    FixedGANSwitcher,
    GANLearner,
    GANLoss,
    GANModule,
    basic_critic,
    basic_generator,
    gan_dataloaders,
    wgan_crit_loss,
    wgan_gen_loss,
)

from tests.gan.helpers import needs_fashion, tiny_models
from torchloom import DataLoader, DataLoaders, Learner, PluginConflictError


@needs_fashion
def test_generator_output_not_matching_the_critic_input(tiny_dls):
    torch.manual_seed(0)
    g = basic_generator(64, 1, n_features=8)  # 64x64 images, but the data is 32x32
    c = basic_critic(32, 1, n_features=8)
    learn = GANLearner.wgan(tiny_dls, g, c, progress=False)
    w0 = {k: v.clone() for k, v in learn.model.state_dict().items()}
    with pytest.raises(ValueError) as e:
        learn.fit(1)
    msg = str(e.value)
    assert "(2, 1, 64, 64)" in msg and "(32, 1, 32, 32)" in msg and "generator (Sequential)" in msg
    assert all(torch.equal(v, w0[k]) for k, v in learn.model.state_dict().items()), "weights changed"


@needs_fashion
def test_critic_that_cannot_read_the_generated_images(tiny_dls):
    torch.manual_seed(0)
    g = basic_generator(32, 1, n_features=8)
    c = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 1))  # expects 3 channels
    learn = GANLearner.wgan(tiny_dls, g, c, progress=False)
    with pytest.raises(ValueError, match=r"the critic \(Sequential\) cannot read the generator's"):
        learn.fit(1)


def test_dataset_without_images():
    with pytest.raises(ValueError, match="does not look like a set of images"):
        gan_dataloaders(np.arange(100, dtype=np.uint8))
    with pytest.raises(ValueError, match="numeric array of images"):
        gan_dataloaders(np.array(["a.png", "b.png"]))
    with pytest.raises(TypeError, match="numpy array or a tensor of images"):
        gan_dataloaders(["a.png", "b.png"])


class _Items:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return torch.randn(100), torch.tensor(i % 10)  # noise and a label: no image


def test_batches_without_images_are_refused_naming_the_target():
    ds = _Items(64)
    dls = DataLoaders(DataLoader(ds, bs=16), DataLoader(ds, bs=16))
    g, c = tiny_models()
    learn = GANLearner.wgan(dls, g, c, progress=False)
    with pytest.raises(ValueError, match=r"the batch target is a Tensor of shape \(16,\): the dataset holds no images"):
        learn.fit(1)


@needs_fashion
def test_switcher_without_gan_trainer(tiny_dls):
    g, c = tiny_models()
    gan = GANModule(g, c)
    learn = Learner(tiny_dls, gan, loss_func=GANLoss(wgan_gen_loss, wgan_crit_loss, gan), progress=False)
    with pytest.raises(PluginConflictError, match="requires 'gan_trainer'"):
        learn.use("fixed_gan_switcher")
    learn.add_cb(FixedGANSwitcher())
    with pytest.raises(RuntimeError, match="no 'gan_trainer' callback: build it with GANLearner"):
        learn.fit(1)


@needs_fashion
def test_plain_learner_without_a_gan_module(tiny_dls):
    model = nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 1))
    learn = Learner(tiny_dls, model, loss_func=nn.MSELoss(), progress=False).use("gan_trainer")
    with pytest.raises(TypeError, match="gan_trainer trains a GANModule.*learn.model is Sequential"):
        learn.fit(1)
    g, c = tiny_models()
    gan = GANModule(g, c)
    learn = Learner(tiny_dls, gan, loss_func=nn.MSELoss(), progress=False).use("gan_trainer")
    with pytest.raises(TypeError, match="needs loss_func to be a GANLoss"):
        learn.fit(1)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_crit must be a positive int"):
        FixedGANSwitcher(n_crit=0)
    g, c = tiny_models()
    with pytest.raises(TypeError, match="critic must be an nn.Module"):
        GANLearner(None, g, "critic", wgan_gen_loss, wgan_crit_loss)
    with pytest.raises(TypeError, match="crit_loss_func must be callable"):
        GANLoss(wgan_gen_loss, None, GANModule(g, c))
