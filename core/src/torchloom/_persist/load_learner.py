"""``load_learner``: rebuild a Learner from what ``learn.export`` wrote (weights, model/loss/data specs).

It sits above the Learner (it creates one); everything it trusts is decided in ``learner_io``.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from torchloom._learner import Learner
from torchloom._persist.learner_io import EXT, _need, _resolve_loss, _resolve_transform, check_plugins
from torchloom._persist.safe import BadFileError, load_file, resolve_factory
from torchloom._targets import TargetError, check_kwargs
from torchloom._unwrap import clean_state_dict
from torchloom.data._spec import dataloaders_from_spec

__all__ = ["load_learner"]


def _check_weights(model: nn.Module, weights: dict[str, Any], source: Any, what: str = "model") -> None:
    """Stored weights must match the model's parameters and buffers by name and shape."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in weights]
    extra = [k for k in weights if k not in expected]
    if missing or extra:
        raise BadFileError(f"{source}: {what} weights do not match the rebuilt model: missing {missing[:5]}"
                           f"{'...' if len(missing) > 5 else ''}, unexpected {extra[:5]}{'...' if len(extra) > 5 else ''}")
    for k, t in expected.items():
        w = weights[k]
        if not isinstance(w, Tensor):
            raise BadFileError(f"{source}: {what} weight {k!r} is a {type(w).__name__}, not a tensor")
        if tuple(w.shape) != tuple(t.shape):
            raise BadFileError(f"{source}: {what} weight {k!r} has shape {tuple(w.shape)} but the model built from "
                               f"model_spec has {tuple(t.shape)}")


def _build_model(factory: Any, kwargs: dict[str, Any], weights: dict[str, Any], source: Any) -> nn.Module:
    """Build the model first on the meta device (no memory) and compare it with the stored weights, so
    that sizes read from a file are validated before anything is allocated; then build it for real."""
    weights = clean_state_dict(weights)  # a model saved while wrapped by torch.compile elsewhere
    name = getattr(factory, "__qualname__", factory)
    try:
        with torch.device("meta"):
            shell = factory(**kwargs)
    except Exception:  # a factory that cannot run on the meta device: the shapes are checked after building
        shell = None
    if shell is not None:
        if not isinstance(shell, nn.Module):
            raise BadFileError(f"{source}: model_spec.factory {name} returned a {type(shell).__name__}, "
                               "not an nn.Module")
        _check_weights(shell, weights, source)
        del shell
    try:
        model = factory(**kwargs)
    except Exception as e:
        raise BadFileError(f"{source}: model_spec: {name}(**{kwargs}) failed: {type(e).__name__}: {e}") from e
    if not isinstance(model, nn.Module):
        raise BadFileError(f"{source}: model_spec.factory {name} returned a {type(model).__name__}, not an nn.Module")
    _check_weights(model, weights, source)
    model.load_state_dict(weights)
    return model


def load_learner(fname: str | os.PathLike, cpu: bool = True) -> Learner:
    """Rebuild a Learner from ``export``: model from its factory, loss, DataLoaders from their spec.

    Nothing is unpickled, and the file is untrusted: every name in it goes through the one target
    resolver (``torchloom._targets``), arguments must be JSON and fit the target's signature, and the
    stored weights' shapes are compared with the model before it is allocated. Errors name the file
    and the field.
    """
    path = Path(fname)
    if not path.exists() and path.suffix != EXT:
        path = path.with_name(path.name + EXT)
    obj, meta = load_file(path)
    if meta.get("kind") != "export":
        raise ValueError(f"{path} is a {meta.get('kind', 'unknown')!r} file, not an export (use learn.export)")
    plugins = meta.get("plugins", {})
    if not isinstance(plugins, dict) or not all(isinstance(v, dict) for v in plugins.values()):
        raise BadFileError(f"{path}: field 'plugins' must map names to objects")
    check_plugins(plugins, path)
    spec = _need(meta, "model_spec", dict, path, "model_spec")
    factory = resolve_factory(_need(spec, "factory", str, path, "model_spec.factory"), source=path)
    kwargs = check_kwargs(factory, spec.get("kwargs", {}), what="model factory", source=path,
                          field="model_spec.kwargs")
    model = _build_model(factory, kwargs, _need(obj, "model", dict, path, "model (weights)"), path)
    memory_format = meta.get("memory_format")
    if memory_format not in (None, "channels_last"):
        raise BadFileError(f"{path}: field 'memory_format' must be 'channels_last' or null, got {memory_format!r}")
    loss_meta = _need(meta, "loss", dict, path, "loss")
    _need(loss_meta, "target", str, path, "loss.target")
    loss_func = _resolve_loss({**loss_meta, "config": obj.get("loss", {})}, source=path)
    dls = None
    if meta.get("dls") is not None:
        dls_spec = _need(meta, "dls", dict, path, "dls")
        dls_tensors = obj.get("dls", {})
        try:
            dls = dataloaders_from_spec(dls_spec, dls_tensors if isinstance(dls_tensors, dict) else {},
                                        resolve=functools.partial(_resolve_transform, source=path))
        except TargetError as e:
            if str(path) in str(e):
                raise
            raise TargetError(f"{path}: {e}") from None
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            detail = f"missing field {e}" if isinstance(e, KeyError) else f"{type(e).__name__}: {e}"
            raise BadFileError(f"{path}: dls: cannot rebuild the DataLoaders ({detail})") from e
    device = torch.device("cpu") if cpu or not torch.cuda.is_available() else torch.device("cuda")
    model.to(device)
    if memory_format == "channels_last":  # the layout it was trained in (vision learners default to it)
        model.to(memory_format=torch.channels_last)
    model.eval()
    learner_kwargs: dict[str, Any] = {}
    opt_func = meta.get("opt_func")
    if opt_func:
        if not isinstance(opt_func, str):
            raise BadFileError(f"{path}: field 'opt_func' must be a registered optimizer name")
        learner_kwargs["opt_func"] = opt_func
    learn = Learner(dls if dls is not None else _NoData(), model, loss_func=loss_func, model_spec=spec,
                    progress=False, **learner_kwargs)
    return learn


class _NoData:
    """Stand-in DataLoaders for an export written without a data pipeline."""

    train = valid = ()
    device = None
    n_inp = 1

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"this Learner was exported without a data pipeline (DataLoaders.{name} "
                             "is unavailable); pass tensors to learn.model directly")

