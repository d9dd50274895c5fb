"""Entry point of torchloom-gan: registrations only (targets are imported when first used).

The switchers and ``gan_discriminative_lr`` require ``gan_trainer`` and run after it; the trainer runs
after ``train_eval`` (which puts both networks in train mode before the trainer freezes one).
"""
from __future__ import annotations

from typing import Any

import torchloom

PLUGIN_API = 1

_T = "torchloom_gan.callbacks"


@torchloom.hookimpl
def register_callbacks(register: Any) -> None:
    register("gan_trainer", f"{_T}:GANTrainer", after=["train_eval"],
             doc="GAN training: switch generator/critic, freeze the other, one optimizer per network")
    register("fixed_gan_switcher", f"{_T}:FixedGANSwitcher", after=["gan_trainer"], requires=["gan_trainer"],
             doc="GAN switcher: n_crit critic steps then n_gen generator steps")
    register("adaptive_gan_switcher", f"{_T}:AdaptiveGANSwitcher", after=["gan_trainer"], requires=["gan_trainer"],
             conflicts=["fixed_gan_switcher"], doc="GAN switcher: switch when a loss falls below its threshold")
    register("gan_discriminative_lr", f"{_T}:GANDiscriminativeLR", after=["gan_trainer", "param_scheduler"],
             requires=["gan_trainer"], doc="multiply the critic's learning rate while it trains")
