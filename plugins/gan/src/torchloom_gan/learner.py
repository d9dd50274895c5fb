"""``GANLearner``: a Learner whose model is a ``GANModule`` and whose callbacks do the GAN switching.

fastai's constructor and factories (``wgan``, ``from_learners``) plus a non-saturating BCE GAN
(``bce``) and a hinge GAN (``hinge``). Differences from fastai: one optimizer per network that steps
as fastai's single one does (see ``GANOptimizer``), channels-last weights, ``predict`` / ``get_preds`` /
``show_results`` generate from noise, and ``export`` writes the generator alone, for sampling after
``load_learner``.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from torchloom import Callback, Learner, ValueMetric, exportable_loss

from .callbacks import FixedGANSwitcher, GANTrainer
from .data import generate_noise, noise_dl
from .module import (
    GANLoss,
    GANModule,
    bce_crit_loss,
    bce_gen_loss,
    gan_loss_from_func,
    hinge_crit_loss,
    hinge_gen_loss,
    wgan_crit_loss,
    wgan_gen_loss,
)
from .optimizer import make_gan_optimizer

__all__ = ["GANLearner", "SampleOnly", "sample"]


class _TrainerLoss:
    """Epoch-end value of the trainer's smoothed generator or critic loss (a ``ValueMetric`` source)."""

    def __init__(self, learn: Learner, which: str) -> None:
        self.learn, self.which = learn, which

    def __call__(self) -> float | None:
        for cb in self.learn.cbs:
            if isinstance(cb, GANTrainer):
                return getattr(cb, f"{self.which}_loss")
        return None


@exportable_loss
class SampleOnly(nn.Module):
    """The loss of an exported generator: there is none (the export is for sampling, not training)."""

    def forward(self, *args: Any) -> Tensor:
        raise RuntimeError("this Learner holds a generator exported by GANLearner.export for sampling; it has no "
                           "training loss (train a GANLearner instead)")

    def get_config(self) -> dict[str, Any]:
        return {}


def _noise_size(generator: nn.Module, default: int = 100) -> int:
    for m in generator.modules():
        if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d, nn.Linear)):
            return int(m.in_channels if not isinstance(m, nn.Linear) else m.in_features)
    return default


@torch.no_grad()
def sample(generator: nn.Module, n: int, noise_sz: int | None = None, seed: int | None = None,
           bs: int = 256) -> Tensor:
    """``n`` images from ``generator`` in eval mode, in its output range ([-1, 1] for tanh), on the CPU.

    ``seed`` draws the noise from a private generator (the global RNG is left untouched)."""
    if noise_sz is None:
        noise_sz = _noise_size(generator)
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    noise = torch.randn(n, noise_sz, generator=g)
    p = next(generator.parameters())
    was = [(m, m.training) for m in generator.modules()]
    generator.eval()
    try:
        out = [generator(noise[i:i + bs].to(p.device)).float().cpu() for i in range(0, n, bs)]
    finally:
        for m, mode in was:
            m.training = mode
    return torch.cat(out)


class GANLearner(Learner):
    """A Learner for GANs: ``GANModule(generator, critic)``, ``GANLoss``, a ``GANTrainer`` and a switcher.

    Args mirror fastai: ``switcher`` (default ``FixedGANSwitcher()``), ``gen_first``, ``switch_eval``,
    ``show_img``, ``clip``; ``splitter`` is applied to each network to build its optimizer's parameter
    groups (default: all its parameters). The recorder gets ``gen_loss`` / ``crit_loss`` columns.
    ``channels_last`` (default True) stores both networks' convolution weights in channels-last memory
    format, which the convolutions then run in (faster on CPU; see BENCHMARKS.md); False keeps the
    default layout. ``momentum_on_frozen`` (default True) steps the frozen network on its momentum as
    fastai's single optimizer does (see ``GANOptimizer``); False leaves it untouched.
    """

    def __init__(self, dls: Any, generator: nn.Module, critic: nn.Module, gen_loss_func: Callable[..., Tensor],
                 crit_loss_func: Callable[..., Tensor], switcher: Callback | None = None, gen_first: bool = False,
                 switch_eval: bool = True, show_img: bool = True, clip: float | None = None, cbs: Any = None,
                 metrics: Any = None, splitter: Callable[[nn.Module], Any] | None = None, channels_last: bool = True,
                 momentum_on_frozen: bool = True, **kwargs: Any) -> None:
        for what, m in (("generator", generator), ("critic", critic)):
            if not isinstance(m, nn.Module):
                raise TypeError(f"GANLearner: {what} must be an nn.Module, got {type(m).__name__}")
        gan = GANModule(generator, critic)
        loss_func = GANLoss(gen_loss_func, crit_loss_func, gan)
        if switcher is None:
            switcher = FixedGANSwitcher()
        trainer = GANTrainer(clip=clip, switch_eval=switch_eval, gen_first=gen_first, show_img=show_img)
        extra = [] if cbs is None else list(cbs) if isinstance(cbs, (list, tuple)) else [cbs]
        mets = [] if metrics is None else list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]
        self.gan_splitter, self.momentum_on_frozen = splitter, bool(momentum_on_frozen)
        self.noise_sz = getattr(dls, "noise_sz", None) or _noise_size(generator)
        if channels_last:
            gan.to(memory_format=torch.channels_last)
        super().__init__(dls, gan, loss_func=loss_func, cbs=[*extra, trainer, switcher], metrics=mets, **kwargs)
        self.metrics = [*mets, ValueMetric(_TrainerLoss(self, "gen"), "gen_loss"),
                        ValueMetric(_TrainerLoss(self, "crit"), "crit_loss")]

    # -- factories ----------------------------------------------------------------------------------
    @classmethod
    def from_learners(cls, gen_learn: Learner, crit_learn: Learner, switcher: Callback | None = None,
                      weights_gen: Any = None, **kwargs: Any) -> GANLearner:
        """A GAN from a (pretrained) generator learner and critic learner: their losses are combined by
        ``gan_loss_from_func`` (generator: critic loss on fakes labelled real + ``weights_gen[1]`` x its own
        loss against the real images)."""
        losses = gan_loss_from_func(gen_learn.loss_func, crit_learn.loss_func, weights_gen=weights_gen)
        return cls(gen_learn.dls, gen_learn.model, crit_learn.model, *losses, switcher=switcher, **kwargs)

    @classmethod
    def wgan(cls, dls: Any, generator: nn.Module, critic: nn.Module, switcher: Callback | None = None,
             clip: float | None = 0.01, switch_eval: bool = False, **kwargs: Any) -> GANLearner:
        """A Wasserstein GAN (fastai's): 5 critic steps per generator step, critic weights clipped to 0.01."""
        if switcher is None:
            switcher = FixedGANSwitcher(n_crit=5, n_gen=1)
        return cls(dls, generator, critic, wgan_gen_loss, wgan_crit_loss, switcher=switcher, clip=clip,
                   switch_eval=switch_eval, **kwargs)

    @classmethod
    def bce(cls, dls: Any, generator: nn.Module, critic: nn.Module, switcher: Callback | None = None,
            switch_eval: bool = False, **kwargs: Any) -> GANLearner:
        """The DCGAN recipe: non-saturating binary cross-entropy, one critic step per generator step."""
        return cls(dls, generator, critic, bce_gen_loss, bce_crit_loss, switcher=switcher,
                   switch_eval=switch_eval, **kwargs)

    @classmethod
    def hinge(cls, dls: Any, generator: nn.Module, critic: nn.Module, switcher: Callback | None = None,
              switch_eval: bool = False, **kwargs: Any) -> GANLearner:
        """Hinge-loss GAN (as with spectral-norm critics such as ``gan_critic``)."""
        return cls(dls, generator, critic, hinge_gen_loss, hinge_crit_loss, switcher=switcher,
                   switch_eval=switch_eval, **kwargs)

    # -- optimizer ----------------------------------------------------------------------------------
    def create_opt(self) -> None:
        """One optimizer per network from ``opt_func`` (see ``GANOptimizer``)."""
        trainer = next((c for c in self.cbs if isinstance(c, GANTrainer)), None)
        self.opt = make_gan_optimizer(self.model.generator, self.model.critic, self.opt_func, self.lr,
                                      splitter=self.gan_splitter, gen_mode=bool(trainer and trainer.gen_mode),
                                      momentum_on_frozen=self.momentum_on_frozen, wd_bn_bias=self.wd_bn_bias,
                                      train_bn=self.train_bn)

    # -- sampling -----------------------------------------------------------------------------------
    def noise_dl(self, n: int, bs: int | None = None, seed: int | None = None) -> Any:
        """A loader of ``n`` noise vectors for ``get_preds(dl=...)``."""
        return noise_dl(n, self.noise_sz, bs=bs or getattr(self.dls, "bs", 64), seed=seed,
                        device=getattr(self.dls, "device", None))

    def generate(self, n: int, seed: int | None = None) -> Tensor:
        """``n`` generated images in [0, 1] (generator in eval mode, through ``get_preds``)."""
        preds = self.get_preds(dl=self.noise_dl(n, seed=seed))[0]
        return ((preds.float() + 1) / 2).clamp(0, 1)

    def predict(self, item: Any = None, rm_type_tfms: Any = None, with_input: bool = False) -> tuple[Any, ...]:
        """Generate one image from the noise vector ``item`` (random if None):
        ``(image in [0, 1], raw generator output, raw generator output)``."""
        noise = generate_noise(size=self.noise_sz) if item is None else torch.as_tensor(item)
        if noise.ndim != 1 or noise.shape[0] != self.noise_sz:
            raise ValueError(f"GANLearner.predict: expected a noise vector of size {self.noise_sz}, got shape "
                             f"{tuple(noise.shape)}")
        p = next(self.model.parameters())
        raw = self.get_preds(dl=[(noise[None].to(p.device),)])[0][0]
        from torchloom_vision import TensorImage, TensorImageBW

        img = ((raw.float() + 1) / 2).clamp(0, 1)
        img = (TensorImageBW if img.shape[0] == 1 else TensorImage)(img.as_subclass(Tensor))
        return (noise, img, raw, raw) if with_input else (img, raw, raw)

    def show_results(self, ds_idx: int = 1, dl: Any = None, max_n: int = 9, shuffle: bool = True,
                     **kwargs: Any) -> Any:
        """A grid of ``max_n`` generated images (``ds_idx``/``dl``/``shuffle`` are accepted for fastai
        compatibility: the images come from fresh noise)."""
        from torchloom_vision import TensorImage, TensorImageBW, show_images

        imgs = self.generate(max_n)
        cls = TensorImageBW if imgs.shape[1] == 1 else TensorImage
        return show_images([cls(im.as_subclass(Tensor)) for im in imgs], **kwargs)

    # -- export -------------------------------------------------------------------------------------
    def export(self, fname: str | Path = "export", model_spec: dict[str, Any] | None = None) -> Path:
        """Export the generator alone (weights + how to rebuild it); ``load_learner`` gives a Learner whose
        ``model`` samples images (``sample(learn.model, 16)``). ``model_spec`` defaults to the spec that
        ``basic_generator`` records on the model it builds."""
        spec = model_spec or getattr(self.model.generator, "model_spec", None)
        if not spec:
            raise ValueError("GANLearner.export needs model_spec={'factory': 'module:callable', 'kwargs': {...}} "
                             "naming an @torchloom.model_factory function or nn.Module class that rebuilds the "
                             "generator (basic_generator records it by itself)")
        learn = Learner(_SamplingData(), self.model.generator, loss_func=SampleOnly(), model_spec=spec,
                        default_cbs=False, path=self.path)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*no get_spec")
            return learn.export(fname)


class _SamplingData:
    """The data of an exported generator: none (it samples from noise)."""

    train = valid = ()
    device = None
    n_inp = 1
