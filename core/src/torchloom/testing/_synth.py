"""A tiny learner on synthetic tensors, for tests of callbacks and plugins (CPU, about a second)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from torchloom._learner import Learner

__all__ = ["RegModel", "SynthDataLoaders", "synth_learner"]


class RegModel(nn.Module):
    """``y = a * x + b`` (fastai's synthetic regression model)."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Parameter(torch.randn(1))
        self.b = nn.Parameter(torch.randn(1))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.a + self.b


class SynthDataLoaders:
    """Pre-built batches of ``(x, y)`` tensors with the parts of the DataLoaders API a Learner uses.

    ``train`` is reshuffled every epoch when ``shuffle`` (seeded, so runs are reproducible).
    """

    def __init__(self, train: tuple[Tensor, Tensor], valid: tuple[Tensor, Tensor], bs: int = 16,
                 shuffle: bool = True, seed: int = 0, device: Any = None) -> None:
        self.train_ds, self.valid_ds, self.bs = train, valid, bs
        self.device = None if device is None else torch.device(device)
        self.n_inp = 1
        self.loss_func: Any = None  # the loss the data implies (synth_learner sets it): Learner(dls, model) works
        self.train = _Loader(train, bs, shuffle, seed, self.device)
        self.valid = _Loader(valid, bs, False, seed, self.device)

    def __getitem__(self, i: int) -> _Loader:
        return (self.train, self.valid)[i]

    def test_dl(self, items: list[Any], **kwargs: Any) -> _Loader:
        """A loader over unlabelled inputs (used by ``predict``)."""
        x = torch.stack([torch.as_tensor(i, dtype=self.train_ds[0].dtype) for i in items])
        return _Loader((x,), self.bs, False, 0, self.device)

    def decode_batch(self, b: tuple[Tensor, ...], max_n: int = 9) -> list[tuple[Any, ...]]:
        """One tuple per item (synthetic data has no types to decode)."""
        n = min(len(b[0]), max_n)
        return [tuple(t[i] for t in b) for i in range(n)]


class _Loader:
    def __init__(self, tensors: tuple[Tensor, ...], bs: int, shuffle: bool, seed: int, device: Any) -> None:
        self.tensors, self.bs, self.shuffle, self.drop_last = tensors, bs, shuffle, False
        self.device = device
        self._gen = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.tensors[0]) + self.bs - 1) // self.bs

    def __iter__(self):
        n = len(self.tensors[0])
        idx = torch.randperm(n, generator=self._gen) if self.shuffle else torch.arange(n)
        for i in range(0, n, self.bs):
            sel = idx[i: i + self.bs]
            b = tuple(t[sel] for t in self.tensors)
            yield b if self.device is None else tuple(t.to(self.device) for t in b)

    def new(self, shuffle: bool | None = None, drop_last: bool | None = None, **kwargs: Any) -> _Loader:
        return _Loader(self.tensors, self.bs, self.shuffle if shuffle is None else shuffle, 0, self.device)

    def one_batch(self) -> tuple[Tensor, ...]:
        return next(iter(self))


def synth_learner(n_train: int = 160, n_valid: int = 80, bs: int = 16, lr: float = 1e-2,
                  task: str = "regression", n_classes: int = 3, seed: int = 0, quiet: bool = True,
                  **learner_kwargs: Any) -> Learner:
    """A Learner on synthetic data: ``task="regression"`` (``y = 2x + 3``, ``RegModel``, MSE) or
    ``"classification"`` (Gaussian blobs, a linear layer, cross-entropy, ``n_classes`` classes).

    ``quiet`` turns off the progress bar and the epoch log. Other arguments go to ``Learner``.
    """
    from torchloom._learner import Learner
    from torchloom._losses import CrossEntropyLossFlat, MSELossFlat
    from torchloom.callbacks._base import noop

    g = torch.Generator().manual_seed(seed)
    n = n_train + n_valid
    if task == "regression":
        x = torch.randn(n, 1, generator=g)
        y = 2 * x + 3 + 0.1 * torch.randn(n, 1, generator=g)
        make: Any = RegModel
        loss: Any = MSELossFlat()
    elif task == "classification":
        centers = torch.randn(n_classes, 4, generator=g) * 3
        y = torch.randint(0, n_classes, (n,), generator=g)
        x = centers[y] + torch.randn(n, 4, generator=g)
        make = lambda: nn.Linear(4, n_classes)  # noqa: E731
        loss = CrossEntropyLossFlat()
    else:
        raise ValueError(f"synth_learner(task=...) must be 'regression' or 'classification', got {task!r}")
    with torch.random.fork_rng():  # seeded weights without touching the caller's RNG
        torch.manual_seed(seed)
        model = make()
    dls = SynthDataLoaders((x[:n_train], y[:n_train]), (x[n_train:], y[n_train:]), bs=bs, seed=seed)
    dls.loss_func = loss
    learner_kwargs.setdefault("loss_func", loss)
    if quiet:
        learner_kwargs.setdefault("progress", False)
    learn = Learner(dls, model, lr=lr, **learner_kwargs)
    if quiet:
        learn.logger = noop
    return learn
