"""A real training run, measured by a score that fails when training fails.

The quality classifier (trained once, cached) must reach 90 % on the Fashion-MNIST test set; a short
DCGAN run must bring the Fréchet distance far below the untrained generator's and spread its samples
over at least 6 of the 10 classes; a broken generator loss (one that rewards being caught) and a
collapsed generator must fail the same score.
"""
from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn
from torchloom_gan import GANLearner, bce_crit_loss, fashion_gan_dls, sample

from tests.gan.helpers import needs_fashion, tiny_models
from torchloom import Adam

pytestmark = [needs_fashion, pytest.mark.slow]

ITERS = 600   # generator + critic steps (300 each), batches of 64
FEATURES = 32


def train(gen_loss=None, iters: int = ITERS):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same numerics whichever fixture order pytest picks
    try:
        return _train(gen_loss, iters)
    finally:
        torch.set_num_threads(threads)


def _train(gen_loss, iters):
    dls = fashion_gan_dls(bs=64, n_train=64 * iters, seed=0)
    g, c = tiny_models(seed=0, nf=FEATURES)
    untrained = sample(g, 2000, seed=0)
    opt = partial(Adam, mom=0.5, sqr_mom=0.999)
    if gen_loss is None:
        learn = GANLearner.bce(dls, g, c, opt_func=opt, progress=False)
    else:
        learn = GANLearner(dls, g, c, gen_loss, bce_crit_loss, opt_func=opt, switch_eval=False, progress=False)
    with learn.no_logging():
        learn.fit(1, 2e-4, wd=0.0)
    return untrained, learn


@pytest.fixture(scope="module")
def trained(scorer):
    untrained, learn = train()
    return scorer.score(untrained), scorer.score_generator(learn.model.generator, n=2000), learn


def test_the_classifier_behind_the_score_is_accurate(scorer):
    assert scorer.accuracy >= 0.90


def test_training_improves_the_frechet_distance_by_a_clear_margin(trained):
    before, after, _ = trained
    assert after.fid < 0.4 * before.fid, f"untrained {before}, trained {after}"


def test_trained_generator_covers_at_least_six_classes(trained):
    before, after, _ = trained
    assert after.coverage >= 0.6, f"trained {after}"


def test_losses_were_recorded_for_both_networks(trained):
    _, _, learn = trained
    t = learn.gan_trainer
    assert len(t.gen_losses) == len(t.crit_losses) == ITERS // 2
    assert t.gen_loss is not None and t.crit_loss is not None


def _caught(fake_pred, output, target):
    """A broken generator loss: it rewards the generator for being recognised as fake."""
    return -nn.functional.binary_cross_entropy_with_logits(fake_pred.flatten(), torch.ones_like(fake_pred.flatten()))


def test_a_broken_generator_loss_fails_the_score(scorer, trained):
    _, good, _ = trained
    _, learn = train(gen_loss=_caught, iters=200)
    bad = scorer.score_generator(learn.model.generator, n=2000)
    assert bad.fid > 2 * good.fid, f"broken loss {bad}, working loss {good}"


class _Collapsed(nn.Module):
    """A generator that always draws the same picture (mode collapse)."""

    def __init__(self, image: torch.Tensor) -> None:
        super().__init__()
        self.image = nn.Parameter(image)

    def forward(self, noise):
        return self.image.expand(len(noise), *self.image.shape)


def test_a_collapsed_generator_fails_the_coverage(scorer):
    real = next(iter(fashion_gan_dls(bs=8, n_train=8).train))[1]
    collapsed = scorer.score_generator(_Collapsed(real[0].as_subclass(torch.Tensor).clone()), n=500)
    assert collapsed.coverage <= 0.1
    real_score = scorer.score(torch.cat([b[1].as_subclass(torch.Tensor)
                                         for b in fashion_gan_dls(bs=100, n_train=1000).train]))
    assert real_score.coverage == 1.0 and real_score.fid < collapsed.fid / 5
