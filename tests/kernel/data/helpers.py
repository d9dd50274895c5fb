"""Helpers for the data-layer tests: stand-in typed tensors (the kernel tests run without plugins)."""
from __future__ import annotations

import torch

from torchloom import TensorBase
from torchloom._tensors import show_image


class TensorImage(TensorBase):
    """Stand-in for the vision plugin's image type (the kernel tests run without plugins)."""

    def show(self, ctx=None, **kwargs):
        return show_image(self, ctx=ctx, **kwargs)


class TensorMask(TensorBase):
    int_codes = True


def make_img(v: int, size: int = 4) -> TensorImage:
    return TensorImage(torch.full((3, size, size), v, dtype=torch.uint8))


