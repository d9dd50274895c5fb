"""GAN training as callbacks: the Learner's ordinary loop trains whichever network the trainer selects.

``GANTrainer`` switches the model, the loss and the optimizer between generator and critic, freezes
the other network, clips the critic's weights (WGAN) and records both losses. A switcher decides when
to switch (``FixedGANSwitcher``: n critic steps then m generator steps; ``AdaptiveGANSwitcher``: when a
loss falls under a threshold). Their order is declared with ``after`` constraints, not magic numbers:
the trainer runs after ``train_eval``; the switchers and ``GANDiscriminativeLR`` after the trainer
(and after ``param_scheduler``, whose learning rate the latter multiplies).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from torchloom import Callback

from .module import GANLoss, GANModule
from .optimizer import GANOptimizer, make_gan_optimizer

__all__ = ["AdaptiveGANSwitcher", "FixedGANSwitcher", "GANDiscriminativeLR", "GANTrainer", "set_freeze_model"]


def set_freeze_model(m: nn.Module, rg: bool) -> None:
    """Set ``requires_grad`` of every parameter of ``m`` to ``rg`` (True: trainable)."""
    for p in m.parameters():
        p.requires_grad_(rg)


class _Smooth:
    """Debiased exponential moving average kept as a tensor on the loss's device (no host sync per batch)."""

    def __init__(self, beta: float) -> None:
        self.beta, self.val, self.count = beta, None, 0

    def add(self, x: Tensor) -> None:
        x = x.detach().float().mean()
        self.val = x.clone() if self.val is None else torch.lerp(x, self.val, self.beta)
        self.count += 1

    @property
    def value(self) -> Tensor | None:
        return None if self.val is None else self.val / (1 - self.beta**self.count)

    def state(self) -> dict[str, Any]:
        return {"count": self.count, **({"val": self.val} if self.val is not None else {})}

    def load(self, st: dict[str, Any]) -> None:
        self.count = int(st.get("count", 0))
        self.val = st["val"].clone() if "val" in st else None


def _find_trainer(learn: Any, who: str) -> GANTrainer:
    for cb in learn.cbs:
        if isinstance(cb, GANTrainer):
            return cb
    raise RuntimeError(f"{who} switches a GAN between generator and critic, but this Learner has no 'gan_trainer' "
                       "callback: build it with GANLearner(...) or call learn.use('gan_trainer') first")


class GANTrainer(Callback):
    """Train a ``GANModule`` one network at a time.

    Args:
        switch_eval: put the network that only computes the loss in eval mode while the other trains.
        clip: clamp the critic's weights to ``[-clip, clip]`` before every training batch (WGAN).
        beta: smoothing of the recorded losses (``gen_losses`` / ``crit_losses``).
        gen_first: start with the generator (default: the critic).
        show_img: keep one generated image per epoch in ``imgs`` (drawn by ``show_progress``).
    """

    after = ("train_eval",)

    def __init__(self, switch_eval: bool = False, clip: float | None = None, beta: float = 0.98,
                 gen_first: bool = False, show_img: bool = True) -> None:
        super().__init__()
        if clip is not None and not clip > 0:
            raise ValueError(f"GANTrainer: clip must be a positive number or None, got {clip!r}")
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"GANTrainer: beta must be in [0, 1), got {beta!r}")
        self.switch_eval, self.clip, self.beta = bool(switch_eval), clip, float(beta)
        self.gen_first, self.show_img = bool(gen_first), bool(show_img)
        self.gen_mode = self.gen_first
        self._gen_smooth, self._crit_smooth = _Smooth(self.beta), _Smooth(self.beta)
        self.gen_losses: list[Tensor] = []
        self.crit_losses: list[Tensor] = []
        self.imgs: list[Tensor] = []
        self.last_gen: Tensor | None = None
        self._resumed = False
        self._checked = False
        self._mode_before: bool | None = None
        self._train_mode: bool | None = None

    # -- the switch ---------------------------------------------------------------------------------
    def _set_trainable(self) -> None:
        train_model = self.generator if self.gen_mode else self.critic
        loss_model = self.critic if self.gen_mode else self.generator
        set_freeze_model(train_model, True)
        set_freeze_model(loss_model, False)
        if self.switch_eval and self.learn.training:
            train_model.train()
            loss_model.eval()

    def switch(self, gen_mode: bool | None = None) -> None:
        """Train the generator if ``gen_mode``, the critic if False, the other one if None."""
        self.gen_mode = (not self.gen_mode) if gen_mode is None else bool(gen_mode)
        self._set_trainable()
        self.learn.model.switch(self.gen_mode)
        self.learn.loss_func.switch(self.gen_mode)
        if isinstance(self.learn.opt, GANOptimizer):
            self.learn.opt.gen_mode = self.gen_mode

    # -- checks -------------------------------------------------------------------------------------
    def _check_learner(self) -> None:
        model, lf = self.learn.model, self.learn.loss_func
        if not isinstance(model, GANModule):
            raise TypeError(f"gan_trainer trains a GANModule(generator, critic), but learn.model is "
                            f"{type(model).__name__}: build the learner with GANLearner(dls, generator, critic, ...) "
                            "or Learner(dls, GANModule(generator, critic), loss_func=GANLoss(...))")
        for part in ("generator", "critic"):
            if not isinstance(getattr(model, part, None), nn.Module):
                raise TypeError(f"gan_trainer: the GANModule has no {part} module")
        if not isinstance(lf, GANLoss):
            raise TypeError(f"gan_trainer needs loss_func to be a GANLoss(gen_loss_func, crit_loss_func, gan_model), "
                            f"got {type(lf).__name__}")

    def _check_shapes(self, noise: Any, real: Any) -> None:
        """Once per fit: the generator's output must be what the critic reads (the real images)."""
        gen_name, crit_name = type(self.generator).__name__, type(self.critic).__name__
        if not isinstance(real, Tensor) or real.ndim != 4:
            what = f"a {type(real).__name__}" + (f" of shape {tuple(real.shape)}" if isinstance(real, Tensor) else "")
            raise ValueError(f"gan_trainer: GAN batches must be (noise, images) with images of shape (bs, channels, "
                             f"height, width), but the batch target is {what}: the dataset holds no images "
                             "(build the data with gan_dataloaders(images) or a DataBlock with an ImageBlock)")
        modes = [(m, m.training) for m in self.learn.model.modules()]
        try:
            self.learn.model.eval()
            with torch.no_grad():
                fake = self.generator(noise[:2])
                if not isinstance(fake, Tensor) or tuple(fake.shape[1:]) != tuple(real.shape[1:]):
                    shape = tuple(fake.shape) if isinstance(fake, Tensor) else type(fake).__name__
                    raise ValueError(f"gan_trainer: the generator ({gen_name}) produces images of shape {shape}, but "
                                     f"the critic ({crit_name}) reads real images of shape {tuple(real.shape)}: their "
                                     "channels, height and width must match (e.g. basic_generator(32, 1) for "
                                     "Fashion-MNIST padded to 32x32)")
                try:
                    self.critic(fake)
                except RuntimeError as e:
                    raise ValueError(f"gan_trainer: the critic ({crit_name}) cannot read the generator's "
                                     f"({gen_name}) images of shape {tuple(fake.shape)}: {e}") from e
        finally:
            for m, mode in modes:
                m.training = mode

    # -- events -------------------------------------------------------------------------------------
    def before_fit(self) -> None:
        self._check_learner()
        model = self.learn.model
        self.generator, self.critic = model.generator, model.critic
        if self.learn.is_inference:  # get_preds / validate / predict: sample from the generator
            self._mode_before = self.gen_mode
            self.gen_mode = True
            model.switch(True)
            self.learn.loss_func.switch(True)
            return
        opt = self.learn.opt
        if not isinstance(opt, GANOptimizer):  # a plain Learner: one optimizer per network from its opt_func
            new = make_gan_optimizer(self.generator, self.critic, self.learn.opt_func, self.learn.lr,
                                     wd_bn_bias=getattr(self.learn, "wd_bn_bias", False),
                                     train_bn=getattr(self.learn, "train_bn", True))
            if opt is not None and getattr(opt, "hypers", None):
                last = dict(opt.hypers[-1])
                new.set_hypers(**{k: v for k, v in last.items() if k in new.hypers[-1]})
            self.learn.opt = new
        if not self._resumed:
            self.gen_mode = self.gen_first
            self._gen_smooth, self._crit_smooth = _Smooth(self.beta), _Smooth(self.beta)
            self.gen_losses, self.crit_losses, self.imgs = [], [], []
        self._resumed = False
        self._checked = False
        self.switch(self.gen_mode)

    def before_train(self) -> None:
        self.switch(self.gen_mode)  # after train_eval put both networks in train mode

    def before_batch(self) -> None:
        if not self.learn.training:
            return
        if not self._checked:
            self._checked = True
            if self.learn.xb and self.learn.yb:
                self._check_shapes(self.learn.xb[0], self.learn.yb[0])
            else:
                raise ValueError("gan_trainer: GAN training batches must be (noise, real images); got a batch with "
                                 f"{len(self.learn.xb)} input(s) and {len(self.learn.yb)} target(s)")
        if self.clip is not None:
            with torch.no_grad():
                for p in self.critic.parameters():
                    p.clamp_(-self.clip, self.clip)
        if not self.gen_mode:
            self.learn.xb, self.learn.yb = self.learn.yb, self.learn.xb

    def after_batch(self) -> None:
        if not self.learn.training or self.learn.loss is None:
            return
        if self.gen_mode:
            self._gen_smooth.add(self.learn.loss)
            self.gen_losses.append(self._gen_smooth.value)
            self.last_gen = self.learn.pred.detach()
        else:
            self._crit_smooth.add(self.learn.loss)
            self.crit_losses.append(self._crit_smooth.value)

    def before_validate(self) -> None:
        self._train_mode = self.gen_mode
        self.switch(True)

    def after_validate(self) -> None:
        if self._train_mode is not None:
            self.switch(self._train_mode)
            self._train_mode = None

    def after_epoch(self) -> None:
        if self.show_img and self.last_gen is not None:
            self.imgs.append(self.last_gen[0].cpu())

    def after_fit(self) -> None:
        if self._mode_before is not None:
            self.switch_back()

    def cleanup_fit(self) -> None:
        if self._train_mode is not None:  # interrupted during validation
            self.gen_mode, self._train_mode = self._train_mode, None
        if self._mode_before is not None:
            self.switch_back()
        if self.learn is not None and isinstance(getattr(self.learn, "model", None), GANModule):
            set_freeze_model(self.learn.model, True)  # leave no frozen network behind

    def switch_back(self) -> None:
        self.gen_mode, self._mode_before = bool(self._mode_before), None
        self.learn.model.switch(self.gen_mode)
        self.learn.loss_func.switch(self.gen_mode)

    # -- logging ------------------------------------------------------------------------------------
    @property
    def gen_loss(self) -> float | None:
        """Smoothed generator training loss (None before the first generator step)."""
        v = self._gen_smooth.value
        return None if v is None else float(v)

    @property
    def crit_loss(self) -> float | None:
        """Smoothed critic training loss (None before the first critic step)."""
        v = self._crit_smooth.value
        return None if v is None else float(v)

    def show_progress(self, **kwargs: Any) -> Any:
        """Draw the image kept at the end of each epoch (``show_img=True``)."""
        from torchloom_vision import show_images

        if not self.imgs:
            raise ValueError("gan_trainer: no images kept yet (train with show_img=True)")
        ims = [(im + 1) / 2 for im in self.imgs]
        return show_images(ims, titles=[f"epoch {i}" for i in range(len(ims))], **kwargs)

    # -- checkpoint state ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        st: dict[str, Any] = {"gen_mode": self.gen_mode, "gen_smooth": self._gen_smooth.state(),
                              "crit_smooth": self._crit_smooth.state()}
        for name in ("gen_losses", "crit_losses"):
            vals = getattr(self, name)
            if vals:
                st[name] = torch.stack([v.detach() for v in vals]).cpu()
        return st

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "gen_mode" not in state:
            raise ValueError(f"gan_trainer: bad state (no 'gen_mode'; keys {sorted(state)})")
        self.gen_mode = bool(state["gen_mode"])
        self._gen_smooth, self._crit_smooth = _Smooth(self.beta), _Smooth(self.beta)
        self._gen_smooth.load(state.get("gen_smooth", {}))
        self._crit_smooth.load(state.get("crit_smooth", {}))
        self.gen_losses = list(state["gen_losses"]) if "gen_losses" in state else []
        self.crit_losses = list(state["crit_losses"]) if "crit_losses" in state else []
        self._resumed = True


class FixedGANSwitcher(Callback):
    """``n_crit`` critic steps, then ``n_gen`` generator steps, and so on (each may be a callable of the
    number of steps the other network just did, as in fastai)."""

    after = ("gan_trainer",)

    def __init__(self, n_crit: int | Callable[[int], int] = 1, n_gen: int | Callable[[int], int] = 1) -> None:
        super().__init__()
        for what, v in (("n_crit", n_crit), ("n_gen", n_gen)):
            if not callable(v) and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"FixedGANSwitcher: {what} must be a positive int or a callable, got {v!r}")
        self.n_crit, self.n_gen = n_crit, n_gen
        self.n_c, self.n_g = 0, 0

    def before_fit(self) -> None:
        if not self.learn.is_inference:
            _find_trainer(self.learn, "fixed_gan_switcher")

    def before_train(self) -> None:
        self.n_c, self.n_g = 0, 0

    def after_batch(self) -> None:
        if not self.learn.training:
            return
        trainer = _find_trainer(self.learn, "fixed_gan_switcher")
        if trainer.gen_mode:
            self.n_g += 1
            n_iter, n_in, n_out = self.n_gen, self.n_c, self.n_g
        else:
            self.n_c += 1
            n_iter, n_in, n_out = self.n_crit, self.n_g, self.n_c
        target = n_iter if isinstance(n_iter, int) else n_iter(n_in)
        if target == n_out:
            trainer.switch()
            self.n_c, self.n_g = 0, 0

    def state_dict(self) -> dict[str, Any]:
        return {"n_c": self.n_c, "n_g": self.n_g}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.n_c, self.n_g = int(state.get("n_c", 0)), int(state.get("n_g", 0))


class AdaptiveGANSwitcher(Callback):
    """Switch away from a network once its loss falls below its threshold (None: after every step)."""

    after = ("gan_trainer",)

    def __init__(self, gen_thresh: float | None = None, critic_thresh: float | None = None) -> None:
        super().__init__()
        self.gen_thresh, self.critic_thresh = gen_thresh, critic_thresh

    def before_fit(self) -> None:
        if not self.learn.is_inference:
            _find_trainer(self.learn, "adaptive_gan_switcher")

    def after_batch(self) -> None:
        if not self.learn.training or self.learn.loss is None:
            return
        trainer = _find_trainer(self.learn, "adaptive_gan_switcher")
        thresh = self.gen_thresh if trainer.gen_mode else self.critic_thresh
        if thresh is None or float(self.learn.loss) < thresh:
            trainer.switch()


class GANDiscriminativeLR(Callback):
    """Multiply the critic's learning rate by ``mult_lr`` while the critic trains (after any schedule set it)."""

    after = ("gan_trainer", "param_scheduler")

    def __init__(self, mult_lr: float = 5.0) -> None:
        super().__init__()
        if not mult_lr > 0:
            raise ValueError(f"GANDiscriminativeLR: mult_lr must be positive, got {mult_lr!r}")
        self.mult_lr = float(mult_lr)
        self._saved: list[Any] | None = None

    def before_fit(self) -> None:
        if not self.learn.is_inference:
            _find_trainer(self.learn, "gan_discriminative_lr")

    def before_batch(self) -> None:
        trainer = _find_trainer(self.learn, "gan_discriminative_lr")
        opt = self.learn.opt
        if self.learn.training and not trainer.gen_mode and isinstance(opt, GANOptimizer):
            self._saved = [h["lr"] for h in opt.crit_opt.hypers]
            for h in opt.crit_opt.hypers:
                h["lr"] = h["lr"] * self.mult_lr

    def after_batch(self) -> None:
        if self._saved is not None:
            for h, lr in zip(self.learn.opt.crit_opt.hypers, self._saved):
                h["lr"] = lr
            self._saved = None

    after_cancel_batch = after_batch
    cleanup_fit = after_batch
