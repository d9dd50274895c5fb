"""Inference on a Learner: ``get_preds``, ``validate``, ``predict`` and ``show_results``, run through the same
loop and events as training (``learn.is_inference`` is True). Functions of a learner; its methods call them.
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from torchloom.callbacks._base import Callback
from torchloom.callbacks._core import GatherPreds, Recorder

if TYPE_CHECKING:
    from torchloom._learner import Learner

_LOOP_COUNTERS = ("dl", "iter", "n_iter", "epoch", "training", "train_iter", "pct_train", "xb", "yb", "pred",
                  "loss", "loss_grad", "_batch_dev", "_n_inp")


@contextlib.contextmanager
def loss_not_reduced(learn: Learner) -> Iterator[None]:
    """The loss function returns one value per item inside the block."""
    lf = learn.loss_func
    if hasattr(lf, "reduction"):
        old, lf.reduction = lf.reduction, "none"
        try:
            yield
        finally:
            lf.reduction = old
    else:
        learn.loss_func = functools.partial(lf, reduction="none")
        try:
            yield
        finally:
            learn.loss_func = lf


def inference_run(learn: Learner, dl: Any, cbs: list[Callback], inner: bool = False) -> None:
    old = learn.is_inference
    saved = {k: getattr(learn, k) for k in _LOOP_COUNTERS}  # inference may run inside a fit
    modes = [(m, m.training) for m in learn.model.modules()] if isinstance(learn.model, nn.Module) else []
    learn.is_inference = True
    try:
        with learn.no_logging(), learn.no_bar():
            if inner or learn._fit_depth:  # inside a fit, the fit-level events already ran
                with learn.added_cbs(cbs):
                    learn._do_epoch_validate(dl=dl)
            else:
                learn._run_fit(lambda: learn._do_epoch_validate(dl=dl), cbs)
    finally:
        learn.is_inference = old
        for k, v in saved.items():
            setattr(learn, k, v)
        for m, mode in modes:
            m.training = mode


def get_preds(learn: Learner, ds_idx: int = 1, dl: Any = None, with_input: bool = False, with_decoded: bool = False,
              with_loss: bool = False, act: Callable[[Any], Any] | None = None, reorder: bool = True,
              cbs: Any = None, inner: bool = False, concat_dim: int | None = None) -> tuple[Any, ...]:
    """Predictions on a dataset: ``(inputs?, preds, targets, decoded?, losses?)`` in dataset order.

    ``act`` defaults to ``loss_func.activation`` (softmax for CrossEntropyLossFlat); ``decoded``
    applies ``loss_func.decodes`` (argmax); ``with_loss`` gives one loss per item. Batches are joined
    along ``concat_dim``: by default the loader's ``preds_concat_dim`` (1 for a language-model loader,
    whose batches continue each row's stream), else 0.
    """

    if dl is None:
        dl = learn._dl_at(ds_idx)
    if concat_dim is None:
        concat_dim = int(getattr(dl, "preds_concat_dim", 0))
    dl, order = _inference_loader(dl, reorder)
    gather = GatherPreds(with_input=with_input, with_loss=with_loss, concat_dim=concat_dim)
    extra = [] if cbs is None else list(cbs if isinstance(cbs, (list, tuple)) else [cbs])
    with learn.loss_not_reduced() if with_loss else contextlib.nullcontext():
        inference_run(learn, dl, [gather, *extra], inner=inner)
    res = gather.result()
    pred_i = 1 if with_input else 0
    if res[pred_i] is not None:
        if act is None:
            act = getattr(learn.loss_func, "activation", None)
        if act is not None:
            res[pred_i] = act(res[pred_i])
        if with_decoded:
            dec = getattr(learn.loss_func, "decodes", None)
            res.insert(pred_i + 2, dec(res[pred_i]) if dec is not None else res[pred_i])
    if order is not None:
        inv = torch.as_tensor(order).argsort()
        res = [_reorder(r, inv) for r in res]
    return tuple(res)


def validate(learn: Learner, ds_idx: int = 1, dl: Any = None, cbs: Any = None) -> list[float]:
    """``[valid_loss, *metrics]`` on a dataset (the Recorder's columns), without touching history."""

    rec = next((c for c in learn.cbs if isinstance(c, Recorder)), None)
    extra = [] if cbs is None else list(cbs if isinstance(cbs, (list, tuple)) else [cbs])
    temp = [] if rec is not None else [Recorder(add_time=False)]
    if dl is None:
        dl = learn._dl_at(ds_idx)
    saved_attr = learn.__dict__.get("recorder")
    inference_run(learn, dl, temp + extra)
    if temp:
        rec = temp[0]
        if saved_attr is not None:
            learn.recorder = saved_attr
    return rec.valid_values()


def predict(learn: Learner, item: Any, rm_type_tfms: Any = None, with_input: bool = False) -> tuple[Any, ...]:
    """``(decoded_target, decoded_pred, probs)`` for one item, through ``dls.test_dl`` and ``decode_batch``."""
    for need in ("test_dl", "decode_batch"):
        if not hasattr(learn.dls, need):
            raise TypeError(f"predict needs dls.{need} ({type(learn.dls).__name__} has none): use DataLoaders "
                            f"built with torchloom's data API, or call get_preds(dl=...) directly")
    kw = {} if rm_type_tfms is None else {"rm_type_tfms": rm_type_tfms}
    dl = learn.dls.test_dl([item], num_workers=0, **kw)
    inp, preds, _, dec_preds = learn.get_preds(dl=dl, with_input=True, with_decoded=True)
    n_inp = getattr(learn.dls, "n_inp", 1) or 1
    inp_t = (inp,) if n_inp == 1 else tuple(inp)
    dec_t = dec_preds if isinstance(dec_preds, tuple) else (dec_preds,)
    dec_t = _retain_target_types(learn.dls, n_inp, dec_t)
    dec = learn.dls.decode_batch(inp_t + dec_t)[0]
    dec_inp, dec_targ = dec[:n_inp], dec[n_inp:]
    dec_inp = dec_inp[0] if len(dec_inp) == 1 else dec_inp
    dec_targ = dec_targ[0] if len(dec_targ) == 1 else dec_targ
    first = dec_preds[0] if not isinstance(dec_preds, tuple) else tuple(d[0] for d in dec_preds)
    probs = preds[0] if not isinstance(preds, tuple) else tuple(p[0] for p in preds)
    res = (dec_targ, first, probs)
    return (dec_inp, *res) if with_input else res


def show_results(learn: Learner, ds_idx: int = 1, dl: Any = None, max_n: int = 9, shuffle: bool = True,
                 **kwargs: Any) -> Any:
    """Show inputs, targets and predictions for one batch (drawing is done by the data's types)."""
    if dl is None:
        dl = learn._dl_at(ds_idx)
        if hasattr(dl, "new"):
            dl = dl.new(shuffle=shuffle)
    if not hasattr(dl, "show_results"):
        raise TypeError(f"show_results needs a DataLoader with .show_results ({type(dl).__name__} has none)")
    b = dl.one_batch() if hasattr(dl, "one_batch") else next(iter(dl))
    _, _, preds = learn.get_preds(dl=[b], with_decoded=True)
    return dl.show_results(b, preds, max_n=max_n, **kwargs)


def _retain_target_types(dls: Any, n_inp: int, preds: tuple[Any, ...]) -> tuple[Any, ...]:
    """Give decoded predictions the tensor types of the dataset's targets, so type-dispatched decodes
    (``Categorize``) turn them back into labels. Best effort: needs one labelled item."""
    ds = getattr(dls, "valid_ds", None)
    try:
        sample = ds[0] if ds is not None and len(ds) else None
    except Exception:
        return preds
    if not isinstance(sample, tuple) or len(sample) < n_inp + len(preds):
        return preds
    out = []
    for p, t in zip(preds, sample[n_inp:]):
        if isinstance(p, torch.Tensor) and isinstance(t, torch.Tensor) and type(p) is torch.Tensor \
                and type(t) is not torch.Tensor:
            p = p.as_subclass(type(t))
            p.__dict__.update(getattr(t, "__dict__", {}))
        out.append(p)
    return tuple(out)


def _inference_loader(dl: Any, reorder: bool) -> tuple[Any, Any]:
    """An unshuffled, complete version of ``dl`` and, when it yields items in a custom order, that order."""
    if getattr(dl, "shuffle", False) or getattr(dl, "drop_last", False):
        if not hasattr(dl, "new"):
            raise ValueError(f"cannot return predictions in dataset order from a shuffled {type(dl).__name__} "
                             f"without .new(shuffle=False); pass an unshuffled dl")
        dl = dl.new(shuffle=False, drop_last=False)
    order = None
    if reorder and hasattr(dl, "get_idxs"):
        idxs = list(dl.get_idxs())
        if idxs != sorted(idxs):
            try:
                dl = dl.new(get_idxs=lambda: idxs)
            except (TypeError, AttributeError) as e:
                raise ValueError(f"{type(dl).__name__} yields items in a custom order but cannot pin it with "
                                 f".new(get_idxs=...) ({e}); pass reorder=False") from e
            order = idxs
    return dl, order


def _reorder(r: Any, inv: torch.Tensor) -> Any:
    if r is None:
        return None
    if isinstance(r, (tuple, list)):
        return type(r)(_reorder(o, inv) for o in r)
    return r[inv]
