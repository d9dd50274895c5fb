"""torchloom-gan: GANs trained by callbacks on torchloom's ordinary Learner (fastai's GAN API as a plugin).

Public names load lazily (PEP 562): the entry point imports only ``torchloom_gan.plugin``.
"""
from __future__ import annotations

from torchloom import lazy_exports

_LAZY: dict[str, str] = {
    # models
    "basic_generator": "models", "basic_critic": "models", "gan_critic": "models", "AddChannels": "models",
    "DenseResBlock": "models", "SelfAttention": "models", "conv_layer": "models",
    # model, loss, loss pairs
    "GANModule": "module", "GANLoss": "module", "gan_loss_from_func": "module",
    "wgan_gen_loss": "module", "wgan_crit_loss": "module", "bce_gen_loss": "module", "bce_crit_loss": "module",
    "hinge_gen_loss": "module", "hinge_crit_loss": "module",
    # optimizer and callbacks
    "GANOptimizer": "optimizer", "make_gan_optimizer": "optimizer",
    "GANTrainer": "callbacks", "FixedGANSwitcher": "callbacks", "AdaptiveGANSwitcher": "callbacks",
    "GANDiscriminativeLR": "callbacks", "set_freeze_model": "callbacks",
    # data
    "InvisibleTensor": "data", "generate_noise": "data", "gan_dataloaders": "data", "fashion_gan_dls": "data",
    "noise_dl": "data",
    # learner
    "GANLearner": "learner", "SampleOnly": "learner", "sample": "learner",
    # quality score
    "FashionClassifier": "quality", "GANScore": "quality", "QualityScorer": "quality",
    "frechet_distance": "quality", "class_coverage": "quality", "quality_classifier": "quality",
    "quality_cache_dir": "quality",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, extra=__all__, dist="torchloom-gan")
