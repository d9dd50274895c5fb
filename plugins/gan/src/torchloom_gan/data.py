"""GAN data: batches of ``(noise, real images)``; the noise is an input type that is never shown.

Two ways to build them, as in fastai:

* ``DataBlock(blocks=(TransformBlock, ImageBlock(PILImageBW)), get_x=generate_noise, ...)`` over image
  files (each item gets its own noise vector);
* ``gan_dataloaders(images)`` over an in-memory uint8 array (Fashion-MNIST: ``fashion_gan_dls()``),
  which builds a whole batch with one indexing operation -- the fast path for training.

Images are scaled to [0, 1] and normalised to [-1, 1] (the generator's tanh range) by a ``Normalize``
batch transform, which also decodes them back for showing.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from torchloom import DataLoader, DataLoaders, TensorBase

__all__ = ["InvisibleTensor", "fashion_gan_dls", "gan_dataloaders", "generate_noise", "noise_dl"]


class InvisibleTensor(TensorBase):
    """A tensor type that ``show`` skips: the generator's noise input."""

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        return ctx


def generate_noise(fn: Any = None, size: int = 100) -> InvisibleTensor:
    """A standard normal noise vector of ``size`` (``fn`` is ignored: it lets ``DataBlock`` use this as ``get_x``)."""
    return InvisibleTensor(torch.randn(size))


class _Indices:
    """A dataset whose items are their own indices; the batch maker does the real work."""

    n_inp = 1

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> int:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return i


class GANBatch:
    """Turn a list of indices into ``(noise, images)``: one gather from the uint8 image tensor, images in
    [0, 1] (``Normalize`` in ``after_batch`` maps them to [-1, 1]) and fresh noise for each row."""

    def __init__(self, images: Tensor, noise_sz: int) -> None:
        self.images, self.noise_sz = images, noise_sz

    def __call__(self, idxs: list[int]) -> tuple[Tensor, Tensor]:
        from torchloom_vision import TensorImage, TensorImageBW

        x = self.images[torch.as_tensor(idxs)].float().div_(255.0)
        img_cls = TensorImageBW if x.shape[1] == 1 else TensorImage
        return InvisibleTensor(torch.randn(len(idxs), self.noise_sz)), img_cls(x)


class _NoiseBatch:
    def __init__(self, noise_sz: int) -> None:
        self.noise_sz = noise_sz

    def __call__(self, idxs: list[int]) -> tuple[Tensor]:
        return (InvisibleTensor(torch.randn(len(idxs), self.noise_sz)),)


def _as_images(images: Any, size: int | None) -> Tensor:
    """(N, H, W) or (N, C, H, W) uint8 -> (N, C, size, size) uint8, zero-padded around the centre."""
    if isinstance(images, np.ndarray):
        if images.dtype.kind not in "uif":
            raise ValueError(f"gan_dataloaders: images must be a numeric array of images, got dtype {images.dtype}")
        t = torch.from_numpy(np.array(images, copy=True))
    elif isinstance(images, Tensor):
        t = images.as_subclass(Tensor)
    else:
        raise TypeError(f"gan_dataloaders: images must be a numpy array or a tensor of images (N, H, W) or "
                        f"(N, C, H, W), got {type(images).__name__}")
    if t.ndim == 3:
        t = t[:, None]
    if t.ndim != 4 or t.shape[0] == 0 or t.shape[2] < 2 or t.shape[3] < 2:
        raise ValueError(f"gan_dataloaders: images must have shape (N, H, W) or (N, C, H, W) with N > 0, got "
                         f"{tuple(t.shape)}: this does not look like a set of images")
    if t.dtype.is_floating_point:
        if float(t.min()) < 0 or float(t.max()) > 1:
            raise ValueError("gan_dataloaders: float images must be in [0, 1] (or pass uint8 0-255)")
        t = (t * 255).round().to(torch.uint8)
    elif t.dtype != torch.uint8:
        if int(t.min()) < 0 or int(t.max()) > 255:
            raise ValueError("gan_dataloaders: integer images must be in 0-255")
        t = t.to(torch.uint8)
    if size is not None:
        h, w = t.shape[2:]
        if h > size or w > size:
            raise ValueError(f"gan_dataloaders: images of {h}x{w} do not fit size={size} (only padding is done)")
        top, left = (size - h) // 2, (size - w) // 2
        if (h, w) != (size, size):
            t = torch.nn.functional.pad(t, (left, size - w - left, top, size - h - top))
    return t.contiguous()


def _normalize() -> Any:
    from torchloom_vision import Normalize

    return Normalize.from_stats([0.5], [0.5])


def gan_dataloaders(images: Any, bs: int = 64, size: int | None = 32, noise_sz: int = 100,
                    valid_images: Any = None, n_valid: int = 256, seed: int | None = 0, shuffle: bool = True,
                    device: Any = None) -> DataLoaders:
    """``DataLoaders`` of ``(noise, images)`` batches from an in-memory image array.

    ``size`` pads the images to ``size`` x ``size`` (28 -> 32 for the DCGAN models; None keeps them).
    The validation loader holds ``n_valid`` images from ``valid_images`` (default: the first training
    images). ``seed`` fixes the shuffling and the noise of each batch (a resumed run draws the same
    batches); None draws them from the global RNG.
    """
    if not isinstance(noise_sz, int) or noise_sz < 1:
        raise ValueError(f"gan_dataloaders: noise_sz must be a positive int, got {noise_sz!r}")
    imgs = _as_images(images, size)
    vimgs = _as_images(valid_images, size) if valid_images is not None else imgs[:n_valid]
    vimgs = vimgs[:n_valid]
    train = DataLoader(_Indices(len(imgs)), bs=bs, shuffle=shuffle, drop_last=len(imgs) >= bs,
                       create_batch=GANBatch(imgs, noise_sz), after_batch=[_normalize()], seed=seed, device=device)
    valid = DataLoader(_Indices(len(vimgs)), bs=bs, shuffle=False, create_batch=GANBatch(vimgs, noise_sz),
                       after_batch=[_normalize()], seed=0 if seed is None else seed + 1, device=device)
    dls = DataLoaders(train, valid)
    dls.noise_sz = noise_sz  # type: ignore[attr-defined]
    return dls


def fashion_gan_dls(bs: int = 64, size: int = 32, n_train: int | None = None, noise_sz: int = 100,
                    n_valid: int = 256, seed: int | None = 0, classes: list[int] | None = None,
                    device: Any = None) -> DataLoaders:
    """GAN data over Fashion-MNIST (``torchloom.load_dataset("fashion-mnist")``): training images, padded
    to ``size``, and ``n_valid`` images of the official test set for validation. ``n_train`` takes a
    seeded random subset; ``classes`` keeps only those labels."""
    from torchloom import load_dataset

    ds = load_dataset("fashion-mnist")
    x, y = ds.x_train, ds.y_train
    if classes is not None:
        x = x[np.isin(y, classes)]
    if n_train is not None and n_train < len(x):
        idx = np.sort(np.random.default_rng(0).choice(len(x), n_train, replace=False))
        x = x[idx]
    return gan_dataloaders(x, bs=bs, size=size, noise_sz=noise_sz, valid_images=ds.x_test[:n_valid],
                           n_valid=n_valid, seed=seed, device=device)


def noise_dl(n: int, noise_sz: int = 100, bs: int = 64, seed: int | None = None, device: Any = None) -> DataLoader:
    """A loader of ``n`` noise vectors only (batches ``(noise,)``): ``learn.get_preds(dl=noise_dl(16))``
    returns 16 generated images."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"noise_dl: n must be a positive int, got {n!r}")
    return DataLoader(_Indices(n), bs=bs, create_batch=_NoiseBatch(noise_sz), seed=seed, device=device)
