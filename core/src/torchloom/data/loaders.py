"""``DataLoaders``: the train/valid (and more) loaders a Learner consumes, plus export specs."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._targets import TRANSFORM, TYPE, import_target
from ..transform import Pipeline, Transform
from .lists import Datasets
from .load import DataLoader

__all__ = ["DataLoaders", "transform_spec", "transform_from_spec"]

SPEC_VERSION = 1


class DataLoaders:
    """Holds the training loader, the validation loader (and any others), and knows how to make test loaders."""

    def __init__(self, *loaders: DataLoader, path: str | Path = ".", device: torch.device | str | None = None
                 ) -> None:
        if not loaders:
            raise ValueError("DataLoaders needs at least one DataLoader (train, then valid)")
        self.loaders = list(loaders)
        self.path = Path(path)
        if device is not None:
            self.to(device)

    def __getitem__(self, i: int) -> DataLoader:
        return self.loaders[i]

    def __len__(self) -> int:
        return len(self.loaders)

    @property
    def train(self) -> DataLoader:
        return self.loaders[0]

    @property
    def valid(self) -> DataLoader:
        if len(self.loaders) < 2:
            raise AttributeError("these DataLoaders have no validation loader")
        return self.loaders[1]

    @property
    def train_ds(self) -> Any:
        return self.train.dataset

    @property
    def valid_ds(self) -> Any:
        return self.valid.dataset

    # --- device ------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device | None:
        return self.train.device

    @device.setter
    def device(self, d: torch.device | str | None) -> None:
        self.to(d)

    def to(self, device: torch.device | str | None) -> DataLoaders:
        for dl in self.loaders:
            dl.to(device)
        return self

    def cpu(self) -> DataLoaders:
        return self.to("cpu")

    def cuda(self) -> DataLoaders:
        return self.to("cuda")

    # --- what the model / learner needs ------------------------------------------------------------------
    @property
    def bs(self) -> int:
        return self.train.bs

    @property
    def n_inp(self) -> int:
        return self.train.n_inp

    @property
    def vocab(self) -> Any:
        """The targets' vocab (from the datasets' transforms)."""
        for src in (self.train_ds, self.train.after_item, self.train.after_batch):
            try:
                return src.vocab
            except AttributeError:
                continue
        raise AttributeError("these DataLoaders have no vocab (no transform with a vocab)")

    @property
    def c(self) -> int:
        """Number of outputs the model needs: a transform's ``c``, else ``len(vocab)``."""
        for src in (self.train_ds, self.train.after_item, self.train.after_batch):
            try:
                c = src.c
            except AttributeError:
                continue
            return c[-1] if isinstance(c, list) else c
        v = self.vocab
        if isinstance(v, list) and v and isinstance(v[0], (list, tuple)) and not isinstance(v[0], str):
            v = v[-1]
        return len(v)

    @property
    def loss_func(self) -> Any:
        """The loss a target transform suggests (e.g. ``Categorize`` -> cross-entropy), when there is one."""
        try:
            lf = self.train_ds.loss_func
        except AttributeError:
            raise AttributeError("no transform of these DataLoaders suggests a loss function") from None
        return lf[-1] if isinstance(lf, list) else lf

    def one_batch(self) -> Any:
        return self.train.one_batch()

    def decode(self, b: Any) -> Any:
        return self.valid.decode(b) if len(self.loaders) > 1 else self.train.decode(b)

    def decode_batch(self, b: Any, max_n: int = 9, full: bool = True) -> list:
        return self.train.decode_batch(b, max_n=max_n, full=full)

    def show_batch(self, b: Any = None, max_n: int = 9, ctxs: Any = None, show: bool = True, **kwargs: Any) -> Any:
        return self.train.show_batch(b, max_n=max_n, ctxs=ctxs, show=show, **kwargs)

    def add_tfms(self, tfms: Any, event: str, loaders: list[int] | None = None) -> None:
        """Add transforms to the ``event`` hook (``after_item``/``before_batch``/``after_batch``) of some loaders."""
        if event not in ("after_item", "before_batch", "after_batch"):
            raise ValueError(f"event must be 'after_item', 'before_batch' or 'after_batch', got {event!r}")
        for i in range(len(self.loaders)) if loaders is None else loaders:
            getattr(self.loaders[i], event).add(tfms if isinstance(tfms, (list, tuple)) else [tfms])

    def __repr__(self) -> str:
        return f"DataLoaders({', '.join(repr(dl) for dl in self.loaders)})"

    # --- new loaders -------------------------------------------------------------------------------------
    def test_dl(self, items: Any, rm_type_tfms: int | None = None, with_labels: bool = False, **kwargs: Any
                ) -> DataLoader:
        """A loader over new raw ``items`` with the validation transforms (inputs only unless ``with_labels``).

        ``rm_type_tfms`` skips that many leading dataset transforms (items already past them).
        """
        src = self.valid if len(self.loaders) > 1 else self.train
        ds = src.dataset
        if not hasattr(ds, "new"):
            raise TypeError(f"test_dl needs a dataset with .new(items), got {type(ds).__name__}")
        if isinstance(ds, Datasets):
            test_ds = ds.new(items, split_idx=1, with_labels=with_labels, rm_type_tfms=rm_type_tfms or 0)
        else:
            test_ds = ds.new(items, split_idx=1)
        return src.new(test_ds, **{"shuffle": False, "drop_last": False, **kwargs})

    def new_empty(self) -> DataLoaders:
        """The same transforms and settings over no items (what an exported learner keeps)."""
        loaders = [dl.new(dl.dataset.new_empty()) for dl in self.loaders]
        return type(self)(*loaders, path=self.path)

    @classmethod
    def from_dsets(cls, *ds: Any, path: str | Path = ".", bs: int = 64, shuffle: bool = True,
                   device: torch.device | str | None = None, val_bs: int | None = None, **kwargs: Any
                   ) -> DataLoaders:
        """One loader per dataset: the first shuffles and drops its last partial batch, the others do not.

        ``device`` defaults to CUDA when available, else the CPU (as in fastai).
        """
        if not ds:
            raise ValueError("DataLoaders.from_dsets needs at least one dataset")
        if device is None:
            from ..torch_core import default_device

            device = default_device()
        first = DataLoader(ds[0], bs=bs, shuffle=shuffle, drop_last=shuffle, device=device, **kwargs)
        rest = [first.new(d, bs=val_bs or bs, shuffle=False, drop_last=False) for d in ds[1:]]
        return cls(first, *rest, path=path)

    @classmethod
    def from_dblock(cls, dblock: Any, source: Any, path: str | Path = ".", bs: int = 64, **kwargs: Any
                    ) -> DataLoaders:
        """``dblock.dataloaders(source, ...)`` (fastai's spelling)."""
        return dblock.dataloaders(source, path=str(path), bs=bs, **kwargs)

    # --- export ------------------------------------------------------------------------------------------
    def get_spec(self) -> tuple[dict, dict[str, Tensor]]:
        """A JSON-able description of the transforms and settings, plus the tensors of their state."""
        tensors: dict[str, Tensor] = {}
        ds = self.train_ds
        if not isinstance(ds, Datasets):
            raise TypeError(f"get_spec needs Datasets-based loaders, got a {type(ds).__name__}")
        spec: dict[str, Any] = {
            "version": SPEC_VERSION, "n_inp": ds.n_inp, "path": str(self.path),
            "tls": [[transform_spec(t, f"tls.{i}.{j}", tensors) for j, t in enumerate(tl.tfms.fs)]
                    for i, tl in enumerate(ds.tls)],
            "loaders": [],
        }
        for k, dl in enumerate(self.loaders):
            if dl._custom_create:
                raise TypeError("get_spec: a DataLoader with a custom create_batch cannot be exported")
            spec["loaders"].append({
                "bs": dl.bs, "shuffle": dl.shuffle, "drop_last": dl.drop_last, "seed": dl.seed,
                "types": [_type_name(t) for t in (dl.types or ())],
                **{h: [transform_spec(t, f"dl.{k}.{h}.{j}", tensors) for j, t in enumerate(getattr(dl, h).fs)]
                   for h in ("after_item", "before_batch", "after_batch")}})
        return spec, tensors

    @classmethod
    def from_spec(cls, spec: dict, tensors: dict[str, Tensor] | None = None,
                  resolve: Callable[[str], Any] | None = None) -> DataLoaders:
        """Rebuild empty loaders from ``get_spec`` output (for ``test_dl``/``decode_batch``/``vocab``).

        Only registered transform names or ``Transform`` subclasses are instantiated.
        """
        tensors = tensors or {}
        if spec.get("version") != SPEC_VERSION:
            raise ValueError(f"unsupported DataLoaders spec version {spec.get('version')!r}")

        def build(lst: list[dict]) -> list[Transform]:
            return [transform_from_spec(d, tensors, resolve) for d in lst]

        tls_tfms = [build(lst) for lst in spec["tls"]]
        loaders = []
        for k, ls in enumerate(spec["loaders"]):
            tls = [type_tl(tf, k) for tf in tls_tfms]
            ds = Datasets(tls=tls, n_inp=spec["n_inp"])
            loaders.append(DataLoader(ds, bs=ls["bs"], shuffle=ls["shuffle"], drop_last=ls["drop_last"],
                                      seed=ls.get("seed"), after_item=build(ls["after_item"]),
                                      before_batch=build(ls["before_batch"]), after_batch=build(ls["after_batch"]),
                                      do_setup=False))
            if ls.get("types"):
                loaders[-1].types = tuple(_resolve_tensor_type(t, f"dls.loaders.{k}.types.{i}")
                                          for i, t in enumerate(ls["types"]))
        return cls(*loaders, path=spec.get("path", "."))


def type_tl(tfms: list[Transform], split_idx: int) -> Any:
    from .lists import TfmdLists

    return TfmdLists([], Pipeline(tfms, split_idx=split_idx), split_idx=split_idx, do_setup=False)


def _type_name(t: type) -> str | None:
    """``module:QualName`` of a tensor type a spec can name (``None`` for other or local types)."""
    if not (isinstance(t, type) and issubclass(t, Tensor)) or "<locals>" in t.__qualname__:
        return None
    return f"{t.__module__}:{t.__qualname__}"


def _resolve_tensor_type(name: str | None, field: str | None = None) -> type | None:
    """A tensor type named in a spec: a ``torch.Tensor`` subclass, resolved by the one target resolver."""
    if not name:
        return None
    return import_target(name, TYPE, field=field)


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def _registered_name(obj: Any) -> str | None:
    try:
        from ..plugins.registry import get_registry
    except ImportError:
        return None
    try:
        found = get_registry().find_name_for(type(obj))
    except Exception:
        return None
    return found[1] if found and found[0] == "transform" else None


def transform_spec(t: Transform, key: str, tensors: dict[str, Tensor]) -> dict:
    """``{"target", "config", "state"}`` for ``t``; tensor state goes into ``tensors`` under ``key``."""
    if not isinstance(t, Transform) or "<locals>" in type(t).__qualname__:
        raise TypeError(f"cannot export transform {getattr(t, 'name', t)!r}: only module-level Transform "
                        "subclasses (or registered transforms) can be exported")
    config = t.get_config()
    state = {}
    for k, v in t.state_dict().items():
        if isinstance(v, Tensor):
            tensors[f"{key}.{k}"] = v.detach().cpu().as_subclass(Tensor).contiguous()
            state[k] = {"__tensor__": f"{key}.{k}"}
        else:
            state[k] = v
    return {"target": _registered_name(t) or _qualname(t), "config": config, "state": state}


def _default_resolve(target: str) -> Any:
    return import_target(target, TRANSFORM)


def transform_from_spec(d: dict, tensors: dict[str, Tensor], resolve: Callable[[str], Any] | None = None
                        ) -> Transform:
    """Instantiate a transform from its spec; refuses anything that is not a ``Transform`` subclass."""
    target = d["target"]
    try:
        cls = (resolve or _default_resolve)(target)
    except Exception as e:
        raise ValueError(f"cannot resolve transform {target!r} in the DataLoaders spec: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, Transform)):
        raise TypeError(f"refusing to rebuild {target!r}: it is not a Transform subclass")
    t = cls(**d.get("config", {}))
    state = {k: tensors[v["__tensor__"]] if isinstance(v, dict) and "__tensor__" in v else v
             for k, v in d.get("state", {}).items()}
    if state:
        t.load_state_dict(state)
    return t
