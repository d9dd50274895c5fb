"""``load_learner``: rebuild a Learner from what ``learn.export`` wrote (weights, model/loss/data specs).

It sits above the Learner (it creates one); everything it trusts is decided in ``learner_io``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from torchloom._learner import Learner
from torchloom._persist.learner_io import EXT, _resolve_loss, _resolve_transform, check_plugins
from torchloom._persist.safe import load_file, resolve_factory
from torchloom.data._spec import dataloaders_from_spec

__all__ = ["load_learner"]


def load_learner(fname: str | os.PathLike, cpu: bool = True) -> Learner:
    """Rebuild a Learner from ``export``: model from its factory, loss, DataLoaders from their spec.

    Nothing is unpickled; only nn.Module subclasses, ``@model_factory`` functions, torch/torchloom loss
    classes and Transform subclasses named in the file are instantiated.
    """
    path = Path(fname)
    if not path.exists() and path.suffix != EXT:
        path = path.with_name(path.name + EXT)
    obj, meta = load_file(path)
    if meta.get("kind") != "export":
        raise ValueError(f"{path} is a {meta.get('kind', 'unknown')!r} file, not an export (use learn.export)")
    check_plugins(meta.get("plugins", {}), path)
    spec = meta["model_spec"]
    model = resolve_factory(spec["factory"])(**spec.get("kwargs", {}))
    model.load_state_dict(obj["model"])
    loss_spec = {**meta["loss"], "config": obj.get("loss", {})}
    loss_func = _resolve_loss(loss_spec)
    dls = None
    if meta.get("dls") is not None:
        dls = dataloaders_from_spec(meta["dls"], obj.get("dls", {}), resolve=_resolve_transform)
    device = torch.device("cpu") if cpu or not torch.cuda.is_available() else torch.device("cuda")
    model.to(device)
    model.eval()
    kwargs: dict[str, Any] = {}
    if meta.get("opt_func"):
        kwargs["opt_func"] = meta["opt_func"]
    learn = Learner(dls if dls is not None else _NoData(), model, loss_func=loss_func, model_spec=spec,
                    progress=False, **kwargs)
    return learn


class _NoData:
    """Stand-in DataLoaders for an export written without a data pipeline."""

    train = valid = ()
    device = None
    n_inp = 1

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"this Learner was exported without a data pipeline (DataLoaders.{name} "
                             "is unavailable); pass tensors to learn.model directly")

