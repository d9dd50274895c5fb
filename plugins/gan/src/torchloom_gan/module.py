"""The two-headed model and loss of a GAN, and the usual loss pairs (WGAN, non-saturating BCE, hinge).

``GANModule`` routes ``forward`` to the generator or the critic; ``GANLoss`` computes the generator's
or the critic's loss depending on the same switch. The ``GANTrainer`` callback flips both.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GANLoss", "GANModule", "bce_crit_loss", "bce_gen_loss", "gan_loss_from_func", "hinge_crit_loss",
           "hinge_gen_loss", "wgan_crit_loss", "wgan_gen_loss"]


class GANModule(nn.Module):
    """Wrapper around a ``generator`` and a ``critic``: ``forward`` calls the one selected by ``gen_mode``."""

    def __init__(self, generator: nn.Module | None = None, critic: nn.Module | None = None,
                 gen_mode: bool = False) -> None:
        super().__init__()
        if generator is not None:
            self.generator = generator
        if critic is not None:
            self.critic = critic
        self.gen_mode = bool(gen_mode)

    def forward(self, *args: Any) -> Any:
        return self.generator(*args) if self.gen_mode else self.critic(*args)

    def switch(self, gen_mode: bool | None = None) -> None:
        """Generator mode if ``gen_mode``, critic mode if False, the other mode if None."""
        self.gen_mode = (not self.gen_mode) if gen_mode is None else bool(gen_mode)


class GANLoss(GANModule):
    """Generator loss ``gen_loss_func(fake_pred, output, target)`` in generator mode, critic loss
    ``crit_loss_func(real_pred, fake_pred)`` in critic mode (fastai's signatures).

    The last values are kept in ``gen_loss`` / ``crit_loss`` (detached) for logging.
    """

    def __init__(self, gen_loss_func: Callable[..., Tensor], crit_loss_func: Callable[..., Tensor],
                 gan_model: GANModule) -> None:
        super().__init__()
        for what, f in (("gen_loss_func", gen_loss_func), ("crit_loss_func", crit_loss_func)):
            if not callable(f):
                raise TypeError(f"GANLoss: {what} must be callable, got {f!r}")
        if not isinstance(gan_model, GANModule):
            raise TypeError(f"GANLoss: gan_model must be a GANModule, got {type(gan_model).__name__}")
        self.gen_loss_func, self.crit_loss_func = gen_loss_func, crit_loss_func
        # not a registered submodule: the learner already owns (moves, saves) the model
        object.__setattr__(self, "gan_model", gan_model)
        self.gen_loss: Tensor | None = None
        self.crit_loss: Tensor | None = None

    def generator(self, output: Tensor, target: Tensor | None = None) -> Tensor:
        """Score the generated ``output`` with the critic; the loss says how badly it fooled the critic."""
        fake_pred = self.gan_model.critic(output)
        loss = self.gen_loss_func(fake_pred, output, target)
        self.gen_loss = loss.detach()
        return loss

    def critic(self, real_pred: Tensor, input: Tensor) -> Tensor:
        """Generate fakes from the noise ``input`` (no gradient to the generator) and compare the critic's
        scores of real and fake images."""
        with torch.no_grad():
            fake = self.gan_model.generator(input)
        fake_pred = self.gan_model.critic(fake)
        loss = self.crit_loss_func(real_pred, fake_pred)
        self.crit_loss = loss.detach()
        return loss


# --- loss pairs ----------------------------------------------------------------------------------

def wgan_gen_loss(fake_pred: Tensor, output: Tensor, target: Tensor | None) -> Tensor:
    """WGAN generator loss (fastai's ``_tk_mean``): the critic's mean score of the fakes."""
    return fake_pred.mean()


def wgan_crit_loss(real_pred: Tensor, fake_pred: Tensor) -> Tensor:
    """WGAN critic loss (fastai's ``_tk_diff``): real minus fake mean score."""
    return real_pred.mean() - fake_pred.mean()


def bce_gen_loss(fake_pred: Tensor, output: Tensor, target: Tensor | None) -> Tensor:
    """Non-saturating generator loss: ``-log sigmoid(D(G(z)))``."""
    return F.binary_cross_entropy_with_logits(fake_pred.flatten(), torch.ones_like(fake_pred.flatten()))


def bce_crit_loss(real_pred: Tensor, fake_pred: Tensor) -> Tensor:
    """Discriminator loss: binary cross-entropy of real (1) and fake (0), averaged."""
    r, f = real_pred.flatten(), fake_pred.flatten()
    return (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
            + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f))) / 2


def hinge_gen_loss(fake_pred: Tensor, output: Tensor, target: Tensor | None) -> Tensor:
    """Hinge generator loss: ``-D(G(z))``."""
    return -fake_pred.mean()


def hinge_crit_loss(real_pred: Tensor, fake_pred: Tensor) -> Tensor:
    """Hinge critic loss: ``relu(1 - D(x)) + relu(1 + D(G(z)))``."""
    return F.relu(1.0 - real_pred).mean() + F.relu(1.0 + fake_pred).mean()


class _LossG:
    def __init__(self, loss_gen: Callable[..., Tensor], loss_crit: Callable[..., Tensor],
                 weights_gen: Sequence[float]) -> None:
        self.loss_gen, self.loss_crit, self.weights_gen = loss_gen, loss_crit, tuple(weights_gen)

    def __call__(self, fake_pred: Tensor, output: Tensor, target: Tensor | None) -> Tensor:
        ones = fake_pred.new_ones(fake_pred.shape[0])
        w = self.weights_gen
        return w[0] * self.loss_crit(fake_pred.flatten(), ones) + w[1] * self.loss_gen(output, target)


class _LossC:
    def __init__(self, loss_crit: Callable[..., Tensor]) -> None:
        self.loss_crit = loss_crit

    def __call__(self, real_pred: Tensor, fake_pred: Tensor) -> Tensor:
        ones = real_pred.new_ones(real_pred.shape[0])
        zeros = fake_pred.new_zeros(fake_pred.shape[0])
        return (self.loss_crit(real_pred.flatten(), ones) + self.loss_crit(fake_pred.flatten(), zeros)) / 2


def gan_loss_from_func(loss_gen: Callable[..., Tensor], loss_crit: Callable[..., Tensor],
                       weights_gen: Sequence[float] | None = None) -> tuple[Callable[..., Tensor], Callable[..., Tensor]]:
    """fastai's helper: a generator loss mixing ``loss_crit(fake_pred, 1)`` with ``loss_gen(output, target)``
    (weights ``weights_gen``, default (1, 1)) and a critic loss ``loss_crit`` on real=1 / fake=0."""
    w = (1.0, 1.0) if weights_gen is None else tuple(weights_gen)
    if len(w) != 2:
        raise ValueError(f"gan_loss_from_func: weights_gen must hold two numbers, got {weights_gen!r}")
    return _LossG(loss_gen, loss_crit, w), _LossC(loss_crit)
