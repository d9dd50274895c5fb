"""The pieces with fastai's names: GANModule, GANLoss, loss pairs, models, noise, GANOptimizer, the score maths."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torchloom_gan import (
    GANLoss,
    GANModule,
    GANOptimizer,
    InvisibleTensor,
    basic_critic,
    basic_generator,
    bce_crit_loss,
    bce_gen_loss,
    class_coverage,
    frechet_distance,
    gan_critic,
    gan_loss_from_func,
    generate_noise,
    hinge_crit_loss,
    hinge_gen_loss,
    wgan_crit_loss,
    wgan_gen_loss,
)

from torchloom import Adam


def test_gan_module_routes_to_the_selected_network():
    g, c = basic_generator(32, 1, n_features=8), basic_critic(32, 1, n_features=8)
    gan = GANModule(g, c)
    real = torch.randn(3, 1, 32, 32)
    assert gan(real).shape == (3, 1)          # critic mode by default
    gan.switch()
    fake = gan(torch.randn(3, 100))
    assert fake.shape == (3, 1, 32, 32) and fake.abs().max() <= 1
    gan.switch(False)
    assert not gan.gen_mode and gan(fake).shape == (3, 1)


@pytest.mark.parametrize("size,channels", [(32, 1), (64, 3), (16, 1)])
def test_basic_models_have_fastai_shapes(size, channels):
    g = basic_generator(size, channels, n_features=8, n_extra_layers=1)
    c = basic_critic(size, channels, n_features=8, n_extra_layers=1)
    assert g(torch.randn(2, 100)).shape == (2, channels, size, size)
    assert c(torch.randn(2, channels, size, size)).shape == (2, 1)


def test_spectral_critics():
    c = gan_critic(n_channels=1, nf=8, n_blocks=2)
    assert c(torch.randn(2, 1, 32, 32)).shape == (2, 1)
    assert any(name.endswith("weight_orig") for name, _ in c.named_parameters())  # spectral norm is applied
    sn = basic_critic(32, 1, n_features=8, norm="spectral")
    assert sn(torch.randn(2, 1, 32, 32)).shape == (2, 1)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in sn.modules())


def test_bad_model_sizes_are_refused():
    with pytest.raises(ValueError, match="power of two"):
        basic_generator(28, 1)
    with pytest.raises(ValueError, match="power of two"):
        basic_critic(28, 1)


def test_generator_records_how_to_rebuild_it():
    g = basic_generator(32, 1, n_features=16)
    assert g.model_spec == {"factory": "torchloom_gan.models:basic_generator",
                            "kwargs": {"out_size": 32, "n_channels": 1, "in_sz": 100, "n_features": 16,
                                       "n_extra_layers": 0}}


def test_gan_loss_switches_between_generator_and_critic_losses():
    torch.manual_seed(0)
    g, c = basic_generator(32, 1, n_features=8), basic_critic(32, 1, n_features=8)
    gan = GANModule(g, c)
    loss = GANLoss(wgan_gen_loss, wgan_crit_loss, gan)
    noise, real = torch.randn(4, 100), torch.randn(4, 1, 32, 32)
    fake = g(noise)
    loss.switch(True)
    assert torch.allclose(loss(fake, real), c(fake).mean())
    loss.switch(False)
    real_pred = c(real)
    with torch.no_grad():
        expected = real_pred.mean() - c(g(noise)).mean()
    got = loss(real_pred, noise)
    assert torch.allclose(got, expected, atol=1e-6)
    got.backward()
    assert all(p.grad is None for p in g.parameters()), "the critic loss must not reach the generator"
    assert loss.crit_loss is not None and loss.gen_loss is not None


def test_loss_pairs_values():
    real, fake = torch.tensor([[2.0], [3.0]]), torch.tensor([[-1.0], [0.5]])
    assert hinge_crit_loss(real, fake) == pytest.approx(0.0 + (0.0 + 1.5) / 2)
    assert hinge_gen_loss(fake, None, None) == pytest.approx(0.25)
    sp = torch.nn.functional.softplus
    assert bce_gen_loss(fake, None, None) == pytest.approx(float(sp(-fake).mean()))
    assert bce_crit_loss(real, fake) == pytest.approx(float((sp(-real).mean() + sp(fake).mean()) / 2))
    lg, lc = gan_loss_from_func(nn.L1Loss(), nn.BCEWithLogitsLoss(), weights_gen=(1.0, 0.5))
    out, tgt = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    assert lg(fake, out, tgt) == pytest.approx(float(bce_gen_loss(fake, None, None) + 0.5))
    assert lc(real, fake) == pytest.approx(float(bce_crit_loss(real, fake)))


def test_noise_is_an_invisible_input():
    n = generate_noise("ignored.png", size=7)
    assert isinstance(n, InvisibleTensor) and n.shape == (7,)
    sentinel = object()
    assert n.show(ctx=sentinel) is sentinel


def _opt_pair():
    torch.manual_seed(0)
    g, c = nn.Linear(3, 2), nn.Linear(2, 1)
    return g, c, GANOptimizer(Adam(list(g.parameters()), lr=0.1), Adam(list(c.parameters()), lr=0.1))


def test_gan_optimizer_steps_only_the_network_being_trained():
    g, c, opt = _opt_pair()
    g0 = [p.detach().clone() for p in g.parameters()]
    c0 = [p.detach().clone() for p in c.parameters()]
    for p in [*g.parameters(), *c.parameters()]:
        p.grad = torch.ones_like(p)
    opt.gen_mode = False
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(g0, g.parameters())), "the generator moved in critic mode"
    assert not all(torch.equal(a, b) for a, b in zip(c0, c.parameters()))
    assert not opt.gen_opt.state_dict()["state"], "the generator's optimizer state moved in critic mode"
    opt.zero_grad()
    assert all(p.grad is None for p in [*g.parameters(), *c.parameters()])


def test_gan_optimizer_hypers_and_state_round_trip():
    g, c, opt = _opt_pair()
    assert len(opt.hypers) == 2
    opt.set_hypers(lr=slice(1e-3, 1e-1))
    assert [h["lr"] for h in opt.hypers] == pytest.approx([1e-3, 1e-1])
    with pytest.raises(ValueError, match="1 generator, 1 critic"):
        opt.set_hyper("lr", [1, 2, 3])
    for p in c.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    sd = opt.state_dict()
    g2, c2, opt2 = _opt_pair()
    opt2.load_state_dict(sd)
    assert opt2.hypers[1]["lr"] == pytest.approx(1e-1)
    with pytest.raises(ValueError, match="'gen' and 'crit'"):
        opt2.load_state_dict(opt.crit_opt.state_dict())


def test_frechet_distance_and_coverage():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 5, generator=g)
    b = torch.randn(4000, 5, generator=g)
    assert frechet_distance(a, b) < 0.05
    shift = torch.tensor([3.0, 0, 0, 0, 0])
    assert frechet_distance(a, b + shift) == pytest.approx(9.0, abs=0.2)
    assert frechet_distance(a, b * 2) == pytest.approx(5 * (1 + 4 - 2 * 2), abs=0.3)  # tr(S1+S2-2sqrt(S1S2))
    with pytest.raises(ValueError, match="same d"):
        frechet_distance(a, b[:, :3])
    labels = torch.tensor([0] * 50 + [1] * 49 + [2])
    assert class_coverage(labels, min_share=0.02) == pytest.approx(0.2)
    assert class_coverage(torch.eye(10).repeat(3, 1)) == 1.0


def test_momentum_on_frozen_steps_like_one_optimizer_over_both_networks():
    """fastai's stepping: one optimizer whose gradients are zeroed in place keeps moving a frozen network
    that has trained before; ``momentum_on_frozen=True`` gives the same weights, the default does not."""
    seq = [False, True, False, True, True, False, True]  # critic, generator, ... (gen_mode per step)
    gen = torch.Generator().manual_seed(1)
    grads = [[torch.randn(3, 2, generator=gen), torch.randn(3, generator=gen)] for _ in seq]

    def run(kind: str) -> list[torch.Tensor]:
        torch.manual_seed(0)
        g, c = nn.Linear(2, 3), nn.Linear(2, 3)
        if kind == "single":
            opt = Adam([*g.parameters(), *c.parameters()], lr=0.1, mom=0.5, sqr_mom=0.999)
        else:
            opt = GANOptimizer(Adam(list(g.parameters()), lr=0.1, mom=0.5, sqr_mom=0.999),
                               Adam(list(c.parameters()), lr=0.1, mom=0.5, sqr_mom=0.999),
                               momentum_on_frozen=kind == "mof")
        for gen_mode, (gw, gb) in zip(seq, grads):
            net = g if gen_mode else c
            net.weight.grad, net.bias.grad = gw.clone(), gb.clone()
            if kind != "single":
                opt.gen_mode = gen_mode
            opt.step()
            opt.zero_grad(set_to_none=kind != "single")
        return [p.detach().clone() for p in [*g.parameters(), *c.parameters()]]

    single, mof, default = run("single"), run("mof"), run("default")
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(single, mof))
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(single, default))


def test_momentum_on_frozen_survives_a_state_round_trip():
    g, c, _ = _opt_pair()
    opt = GANOptimizer(Adam(list(g.parameters()), lr=0.1), Adam(list(c.parameters()), lr=0.1),
                       momentum_on_frozen=True)
    for p in c.parameters():
        p.grad = torch.ones_like(p)
    opt.step()  # the critic has trained: from now on it coasts while the generator trains
    opt.zero_grad()
    g2, c2, _ = _opt_pair()
    opt2 = GANOptimizer(Adam(list(g2.parameters()), lr=0.1), Adam(list(c2.parameters()), lr=0.1),
                        momentum_on_frozen=True)
    opt2.load_state_dict(opt.state_dict())
    before = [p.detach().clone() for p in c2.parameters()]
    opt2.gen_mode = True
    for p in g2.parameters():
        p.grad = torch.ones_like(p)
    opt2.step()
    assert not all(torch.equal(a, b) for a, b in zip(before, c2.parameters())), "the critic did not coast"
