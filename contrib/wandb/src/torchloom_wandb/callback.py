"""``WandbCallback``: a torchloom ``LoggerCallback`` that writes to a Weights & Biases run.

Per batch: ``train/loss_smooth`` and ``train/lr``; per epoch: ``epoch/<column>`` for every column of
the epoch table; the run's config holds the hyper-parameters (lr, bs, optimizer, loss, model,
parameter count, plugins). Steps are global batch counts, so a resumed fit continues the curves.
With ``log_preds=True`` a figure of predictions (``learn.show_results``) is logged when the fit ends.

Runs without an account: ``WANDB_MODE=offline`` (or ``mode="offline"``) writes the run locally and
``wandb sync`` uploads it later.
"""
from __future__ import annotations

from typing import Any

from torchloom import LoggerCallback

__all__ = ["WandbCallback"]


class WandbCallback(LoggerCallback):
    """Log to W&B. ``project``, ``name``, ``mode``, ``dir`` and ``init_kwargs`` go to ``wandb.init`` when no
    run is active (that run is finished when the fit ends); if a run is already active (you called
    ``wandb.init`` yourself) it is used and left open. ``config`` adds your own hyper-parameters."""

    def __init__(self, project: str | None = None, name: str | None = None, config: dict[str, Any] | None = None,
                 mode: str | None = None, dir: str | None = None, log_preds: bool = False, n_preds: int = 9,
                 init_kwargs: dict[str, Any] | None = None) -> None:
        super().__init__()
        try:  # fail at learn.use("wandb"), not at the end of the first epoch
            import wandb  # noqa: F401
        except ImportError as e:
            raise ImportError("the 'wandb' callback needs the wandb package: pip install torchloom-wandb") from e
        if mode not in (None, "online", "offline", "disabled"):
            raise ValueError(f"WandbCallback(mode=...) must be None, 'online', 'offline' or 'disabled', got {mode!r}")
        if int(n_preds) < 1:
            raise ValueError(f"WandbCallback(n_preds={n_preds}): n_preds must be >= 1")
        self.project, self.run_name, self.config, self.mode, self.dir = project, name, dict(config or {}), mode, dir
        self.log_preds, self.n_preds, self.init_kwargs = log_preds, int(n_preds), dict(init_kwargs or {})
        self.wandb_run: Any = None
        self._own_run = False

    def start(self, hparams: dict[str, Any]) -> None:
        import wandb

        if wandb.run is not None:
            self.wandb_run, self._own_run = wandb.run, False
            self.wandb_run.config.update({**hparams, **self.config}, allow_val_change=True)
            return
        kwargs = {k: v for k, v in (("project", self.project), ("name", self.run_name), ("mode", self.mode),
                                    ("dir", self.dir)) if v is not None}
        self.wandb_run = wandb.init(config={**hparams, **self.config}, **kwargs, **self.init_kwargs)
        self._own_run = True

    def log_batches(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        for step, vals in rows:
            self.wandb_run.log({"train/loss_smooth": vals["train_loss_smooth"], "train/lr": vals["lr"]}, step=step)

    def log_epoch(self, step: int, values: dict[str, Any]) -> None:
        data = {f"epoch/{k}": v for k, v in values.items() if isinstance(v, (int, float)) and v is not None}
        self.wandb_run.log(data, step=step)

    def after_fit(self) -> None:
        if self.active and self.log_preds and self.wandb_run is not None:  # only after a fit that finished
            fig = _preds_figure(self.learn, self.n_preds)
            if fig is not None:
                import wandb

                self.wandb_run.log({"predictions": wandb.Image(_pixels(fig))}, step=self.learn.train_iter)
        super().after_fit()

    def finish(self) -> None:
        run, self.wandb_run = self.wandb_run, None
        if run is not None and self._own_run:
            run.finish()


def _preds_figure(learn: Any, n: int) -> Any:
    """A matplotlib figure of ``learn.show_results`` (None when the data cannot show itself)."""
    try:
        fig = learn.show_results(max_n=n)
    except (TypeError, AttributeError, NotImplementedError):
        return None
    return getattr(fig, "figure", fig)


def _pixels(fig: Any) -> Any:
    """The figure rendered to an ``H x W x 3`` uint8 array (what ``wandb.Image`` takes from any figure class)."""
    import numpy as np

    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
