"""The kernel's default callbacks: train/eval switching, type stripping, recording; and prediction gathering.

They are registered by the built-in plugin (``train_eval``, ``cast_to_tensor``, ``recorder``) and
added to every Learner unless ``default_cbs=False``.
"""
from __future__ import annotations

import itertools
import time
from typing import Any

import torch
from torch import Tensor, nn

from torchloom._metrics import AvgLoss, AvgSmoothLoss, Metric
from torchloom._tensors import same_device
from torchloom.callbacks._base import Callback

__all__ = ["CastToTensor", "GatherPreds", "Recorder", "TrainEvalCallback", "format_time", "to_floats"]


class TrainEvalCallback(Callback):
    """Put the model in train/eval mode, set ``training``, count ``train_iter`` / ``pct_train``."""

    order = -10
    run_valid = False

    def after_create(self) -> None:
        self.learn.n_epoch = 1

    def before_fit(self) -> None:
        learn = self.learn
        if not learn.is_inference:
            learn.epoch = learn.start_epoch
            try:
                n_train = len(learn.dls.train)
            except TypeError:
                n_train = 0
            learn.train_iter = learn.start_epoch * n_train
            learn.pct_train = learn.start_epoch / max(learn.n_epoch, 1)
        device = getattr(learn.dls, "device", None)
        if device is not None:
            if hasattr(learn.model, "to"):
                _to_device(learn.model, device)
            if hasattr(learn.loss_func, "to"):
                _to_device(learn.loss_func, device)
        if hasattr(learn.model, "reset"):
            learn.model.reset()

    def after_batch(self) -> None:
        learn = self.learn
        learn.pct_train += 1.0 / ((learn.n_iter or 1) * (learn.n_epoch or 1))  # both counts are >= 0
        learn.train_iter += 1

    def before_train(self) -> None:
        learn = self.learn
        learn.pct_train = learn.epoch / max(learn.n_epoch, 1)
        learn.model.train()
        learn.training = True

    def before_validate(self) -> None:
        self.learn.model.eval()
        self.learn.training = False


def _to_device(obj: Any, device: Any) -> None:
    """``obj.to(device)``, skipped for a plain module already all there (``Module.to`` walks every submodule).

    One pass over the submodules' own parameter/buffer dicts (``parameters()`` builds a generator chain per call)."""
    if isinstance(obj, nn.Module) and type(obj).to is nn.Module.to:
        dev = device if isinstance(device, torch.device) else torch.device(device)
        for m in obj.modules():
            if type(m)._apply is not nn.Module._apply or not _all_on(m, dev):
                break
        else:
            return
    obj.to(device)


def _all_on(m: nn.Module, dev: torch.device) -> bool:
    for t in itertools.chain(m._parameters.values(), m._buffers.values()):
        if t is not None and not same_device(t.device, dev):
            return False
    return True


def _plain(t: Any) -> Any:
    if type(t) is Tensor or not isinstance(t, Tensor):
        return t
    return t.as_subclass(Tensor)


class CastToTensor(Callback):
    """Hand plain ``torch.Tensor`` inputs/targets to the model and loss (typed tensors stay in the data).

    Typed tensors are useful for decoding and showing, but they cost on every op and break
    ``torch.compile``; stripping them here makes both go away without copying data.
    """

    order = 9

    def before_batch(self) -> None:
        learn = self.learn
        xb, yb = learn.xb, learn.yb
        for t in xb:  # a plain loop: this runs on every batch
            if type(t) is not Tensor:
                learn.xb = tuple(_plain(t) for t in xb)
                break
        for t in yb:
            if type(t) is not Tensor:
                learn.yb = tuple(_plain(t) for t in yb)
                break


def format_time(t: float) -> str:
    """``mm:ss`` (or ``h:mm:ss``) as in fastai's tables."""
    t = int(t)
    h, m, s = t // 3600, (t // 60) % 60, t % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def to_floats(values: list[Any]) -> list[Any]:
    """Turn 0-dim tensors into floats with one device->host transfer; other values pass through."""
    idx = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.numel() == 1]
    out = list(values)
    if not idx:
        return out
    try:
        floats = torch.stack([values[i].detach().reshape(()).float() for i in idx]).tolist()
    except RuntimeError:  # tensors on different devices
        floats = [values[i].item() for i in idx]
    for i, f in zip(idx, floats):
        out[i] = f
    return out


def _scalar(t: Tensor) -> Tensor:
    """A one-element tensor as a detached 0-dim one (no op when it already is)."""
    if t.requires_grad:
        t = t.detach()
    return t.reshape(()) if t.ndim else t


class _SmoothLossSlot:
    """Stands in ``Recorder.log`` for the epoch's smoothed training loss until ``after_epoch`` fills it in."""

    def __repr__(self) -> str:
        return "<train_loss: filled in at after_epoch>"


_SMOOTH = _SmoothLossSlot()


class Recorder(Callback):
    """Record losses, learning rates and metrics; log one row per epoch.

    Columns (``metric_names``) are fastai's: ``epoch, train_loss, valid_loss, *metrics, time``.
    Per batch only on-device tensor ops happen; values become floats once per epoch.
    """

    order = 50

    def __init__(self, add_time: bool = True, train_metrics: bool = False, valid_metrics: bool = True,
                 beta: float = 0.98) -> None:
        super().__init__()
        self.add_time, self.train_metrics, self.valid_metrics = add_time, train_metrics, valid_metrics
        self.avg_loss, self.smooth_loss = AvgLoss(), AvgSmoothLoss(beta=beta)
        self.lrs: list[float] = []
        self.iters: list[int] = []
        self.values: list[list[Any]] = []
        self.hps: dict[str, list[Any]] = {}
        self.log: list[Any] = []
        self.metric_names: list[str] = []
        self._losses: list[float] = []
        self._valid_vals: list[Any] = []
        self._opt: Any = None
        self._groups: Any = None
        self.cancel_train = self.cancel_valid = False

    # -- columns --------------------------------------------------------------------------------
    @property
    def _metric_objs(self) -> list[Metric]:
        return self.learn.metrics

    def _names(self) -> list[str]:
        names = [m.name for m in self._metric_objs]
        if self.train_metrics and self.valid_metrics:
            names = ["loss", *names]
            names = [f"train_{n}" for n in names] + [f"valid_{n}" for n in names]
        elif self.valid_metrics:
            names = ["train_loss", "valid_loss", *names]
        else:
            names = ["train_loss", *names]
        if self.add_time:
            names.append("time")
        return ["epoch", *names]

    @property
    def losses(self) -> list[float]:
        """Smoothed training loss of every batch so far (floats)."""
        self._flush()
        return self._losses

    def _flush(self, extra: list[Any] | None = None) -> list[Any]:
        """Move pending per-batch smooth losses to ``losses`` and turn ``extra`` into floats, in one sync.

        ``extra`` may hold ``_SMOOTH``: the smoothed training loss at that point, filled in from the same transfer."""
        out = [] if extra is None else list(extra)
        idx = [i for i, v in enumerate(out) if isinstance(v, Tensor) and v.numel() == 1]
        tensors = [_scalar(out[i]) for i in idx]
        taken = self.smooth_loss.take_floats(tensors)
        if taken is None:  # tensors on several devices: one transfer per device kind
            steps = self.smooth_loss.take_steps()
            losses = [] if steps is None else steps.tolist()
            floats = to_floats(tensors)
        else:
            losses, floats = taken
        self._losses.extend(losses)
        for i, f in zip(idx, floats):
            out[i] = f
        for i, v in enumerate(out):
            if v is _SMOOTH:
                out[i] = self._losses[-1] if self._losses else None
        return out

    # -- events ---------------------------------------------------------------------------------
    def before_fit(self) -> None:
        if self.learn.is_inference:
            return
        self.lrs, self.iters, self.values, self._losses = [], [], [], []
        self.hps = {}
        self.metric_names = self._names()
        self.smooth_loss.reset()
        self.learn._smooth_loss_source = self.smooth_loss

    def before_epoch(self) -> None:
        self.start_epoch = time.time()
        self.log = [self.learn.epoch]
        self.cancel_train = self.cancel_valid = False

    def before_train(self) -> None:
        if self.train_metrics:
            for m in self._metric_objs:
                m.reset()

    def before_validate(self) -> None:
        self.avg_loss.reset()
        if self.valid_metrics or self.learn.is_inference:
            for m in self._metric_objs:
                m.reset()

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.yb:
            return
        if learn.training:
            self.smooth_loss.accumulate(learn)  # no tensor op: the average is folded when read
            opt = learn.opt
            groups = self._groups if opt is self._opt else self._lr_groups(opt)
            self.lrs.append(groups[-1]["lr"])
            if self.train_metrics:
                for m in self._metric_objs:
                    m.accumulate(learn)
        else:
            self.avg_loss.accumulate(learn)
            if self.valid_metrics or learn.is_inference:
                for m in self._metric_objs:
                    m.accumulate(learn)

    def _lr_groups(self, opt: Any) -> Any:
        """Where the optimizer keeps ``lr`` per group, remembered for ``opt`` (read on every batch)."""
        self._opt = opt
        self._groups = opt.param_groups if isinstance(getattr(type(opt), "hypers", None), property) else opt.hypers
        return self._groups

    def after_cancel_train(self) -> None:
        self.cancel_train = True

    def after_cancel_validate(self) -> None:
        self.cancel_valid = True

    def after_train(self) -> None:
        if self.learn.is_inference or self.cancel_train:
            return
        # the smoothed loss is filled in by after_epoch's single transfer (no on-device fold here)
        self.log += [_SMOOTH] + ([m.value for m in self._metric_objs] if self.train_metrics else [])

    def after_validate(self) -> None:
        vals = [self.avg_loss.value] + [m.value for m in self._metric_objs]  # each metric computed once
        self._valid_vals = vals
        if not self.learn.is_inference and not self.cancel_valid:
            self.log += vals if self.valid_metrics else vals[:1]

    def after_epoch(self) -> None:
        self.log = self._flush(self.log)
        self.learn.final_record = self.log[1:].copy()
        self.values.append(self.learn.final_record)
        if self.add_time:
            self.log.append(format_time(time.time() - self.start_epoch))
        self.learn.logger(self.log)
        self.iters.append(self.smooth_loss.count)

    def valid_values(self) -> list[Any]:
        """``[valid_loss, *metrics]`` of the last validation pass, as floats."""
        return to_floats(self._valid_vals)

    # -- plots ----------------------------------------------------------------------------------
    def plot_loss(self, skip_start: int = 5, with_valid: bool = True, ax: Any = None) -> Any:
        """Plot the smoothed training loss per batch (and validation loss per epoch); returns the figure."""
        if ax is None:
            _, ax = _subplots("plot_loss")
        losses = self.losses
        ax.plot(list(range(skip_start, len(losses))), losses[skip_start:], label="train")
        if with_valid and self.values and self.iters:
            idx = (torch.tensor(self.iters) - 1).tolist()
            names = self.metric_names
            valid_col = names.index("valid_loss") - 1 if "valid_loss" in names else len(names)
            vals = [v[valid_col] for v in self.values if len(v) > valid_col]
            keep = [(i, v) for i, v in zip(idx, vals) if i >= skip_start and v is not None]
            if keep:
                ax.plot([i for i, _ in keep], [v for _, v in keep], label="valid")
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.legend()
        return ax.figure

    def plot_sched(self, keys: list[str] | None = None, figsize: tuple[float, float] | None = None) -> Any:
        """Plot the recorded hyper-parameter schedules (``lr`` and whatever schedulers put in ``hps``)."""
        series = {"lr": self.lrs, **self.hps}
        keys = list(series) if keys is None else keys
        unknown = [k for k in keys if k not in series]
        if unknown:
            raise KeyError(f"no recorded schedule for {unknown}; recorded: {sorted(series)}")
        fig, axs = _subplots("plot_sched", len(keys), 1, figsize=figsize or (6, 3 * len(keys)), squeeze=False)
        for k, ax in zip(keys, axs[:, 0]):
            ax.plot(series[k])
            ax.set_ylabel(k)
        return fig

    def plot_lr_find(self, skip_end: int = 5, ax: Any = None) -> Any:
        """Plot the last ``learn.lr_find()`` (loss against learning rate, with its suggestions); the figure."""
        finder = getattr(self.learn, "lr_finder", None)
        if finder is None:
            raise ValueError("plot_lr_find: no LR range test to plot; run learn.lr_find() first")
        from torchloom._plotting import plot_lr_find

        return plot_lr_find(finder, skip_end=skip_end, ax=ax)

    def state_dict(self) -> dict[str, Any]:
        return {"lrs": list(self.lrs), "losses": list(self.losses), "iters": list(self.iters),
                "values": [list(v) for v in self.values], "metric_names": list(self.metric_names)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.lrs, self._losses = list(state.get("lrs", [])), list(state.get("losses", []))
        self.iters = list(state.get("iters", []))
        self.values = [list(v) for v in state.get("values", [])]
        self.metric_names = list(state.get("metric_names", self.metric_names))


def _subplots(what: str, *args: Any, **kwargs: Any) -> Any:
    from torchloom._plotting import subplots

    return subplots(*args, what=what, **kwargs)


def _detach(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.detach()
    if isinstance(x, (tuple, list)):
        return type(x)(_detach(o) for o in x)
    return x


def cat_batches(items: list[Tensor], dim: int = 0) -> Tensor:
    """Per-batch tensors joined along ``dim``; stacked on a new last axis when they have only ``dim`` axes
    (scalars, or one value per row when ``dim`` is 1)."""
    d = min(dim, items[0].ndim)
    return torch.stack(items, d) if d == items[0].ndim else torch.cat(items, d)


def _cat(items: list[Any], dim: int = 0) -> Any:
    if not items:
        return None
    first = items[0]
    if isinstance(first, Tensor):
        return cat_batches(items, dim).cpu()
    if isinstance(first, tuple):
        parts = tuple(_cat([it[i] for it in items], dim) for i in range(len(first)))
        return parts[0] if len(parts) == 1 else parts
    return [o for it in items for o in (it if isinstance(it, list) else [it])]


class GatherPreds(Callback):
    """Collect inputs, predictions, targets (and per-item losses) during validation, on the device."""

    order = 0
    run_train = False

    def __init__(self, with_input: bool = False, with_loss: bool = False, concat_dim: int = 0) -> None:
        super().__init__()
        self.with_input, self.with_loss, self.concat_dim = with_input, with_loss, concat_dim
        self.before_validate()

    def before_validate(self) -> None:
        self.inputs: list[Any] = []
        self.preds: list[Any] = []
        self.targets: list[Any] = []
        self.losses: list[Any] = []

    def after_batch(self) -> None:
        learn = self.learn
        if self.with_input:
            self.inputs.append(_detach(learn.xb))
        self.preds.append(_detach(learn.pred))
        if learn.yb:
            self.targets.append(_detach(learn.yb))
            if self.with_loss:
                loss = learn.loss
                bs = learn.yb[0].shape[0]
                if loss.numel() != bs:
                    loss = loss.reshape(bs, -1).mean(1) if loss.numel() % bs == 0 else loss.expand(bs)
                self.losses.append(loss.detach())

    def result(self) -> list[Any]:
        """``[inputs?, preds, targets, losses?]`` concatenated on the CPU (None where nothing was seen)."""
        d = self.concat_dim
        res = [_cat(self.preds, d), _cat(self.targets, d)]
        if self.with_input:
            res.insert(0, _cat(self.inputs, d))
        if self.with_loss:
            res.append(_cat(self.losses, d))
        return res
