"""``DataLoaders``: the train/valid (and more) loaders a Learner consumes, plus export specs."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from torchloom.data._dataloader import DataLoader

__all__ = ["DataLoaders", "dsets_dataloaders"]


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
        if hasattr(ds, "tls"):  # Datasets (several typed lists): keep or drop the labels
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
            from torchloom._tensors import default_device

            device = default_device()
        first = DataLoader(ds[0], bs=bs, shuffle=shuffle, drop_last=shuffle, device=device, **kwargs)
        rest = [first.new(d, bs=val_bs or bs, shuffle=False, drop_last=False) for d in ds[1:]]
        return cls(first, *rest, path=path)

    @classmethod
    def from_dblock(cls, dblock: Any, source: Any, path: str | Path = ".", bs: int = 64, **kwargs: Any
                    ) -> DataLoaders:
        """``dblock.dataloaders(source, ...)`` (fastai's spelling)."""
        return dblock.dataloaders(source, path=str(path), bs=bs, **kwargs)


def dsets_dataloaders(dsets: Any, path: str = ".", bs: int = 64, shuffle: bool = True,
                      val_bs: int | None = None, device: Any = None, **kwargs: Any) -> DataLoaders:
    """Loaders for each split of ``dsets``: the first shuffled (drop_last), the others in order.

    ``device`` defaults to CUDA when available, else the CPU (as in fastai).
    """
    subsets = [dsets.subset(i) for i in range(dsets.n_subsets)]
    return DataLoaders.from_dsets(*subsets, path=path, bs=bs, shuffle=shuffle, val_bs=val_bs, device=device,
                                  **kwargs)
