"""The image reader of portable exports: the validation preprocessing of image DataLoaders, as JSON
(``describe``) and as a function from an image file to a model-ready array (``ImageReader``).

``torchloom predict`` finds it by its registered name ``image_reader``. The JSON keeps to what a
consumer without torchloom can redo with PIL and numpy: the colour mode, the resize steps, the
scale (``/255``) and the per-channel ``mean``/``std``; the image is laid out channels first (NCHW).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from torchloom import IntToFloatTensor

from .augment import AffineCoordTfm
from .core import PILImage, PILImageBW, load_image
from .transforms import CropPad, Normalize, RandomResizedCrop, Resize

__all__ = ["ImageReader", "IMAGE_EXTENSIONS"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_STEPS = {"resize": Resize, "crop_pad": CropPad, "random_resized_crop": RandomResizedCrop}
_MODES = {"PILImage": "RGB", "PILImageBW": "L"}


def _image_class(dls: Any) -> str | None:
    for tl in getattr(dls.valid.dataset, "tls", ())[:1]:
        for t in getattr(tl.tfms, "fs", ()):
            name = getattr(t, "img_cls", None)
            if name in _MODES:
                return name
    return None


def _applies_in_valid(t: Any) -> bool:
    return getattr(t, "split_idx", None) in (None, 1)


class ImageReader:
    """Image file -> float32 CHW array, preprocessed as the validation data of the exported learner."""

    extensions = IMAGE_EXTENSIONS
    paths = True

    @classmethod
    def describe(cls, dls: Any) -> dict[str, Any] | None:
        """The validation preprocessing of image-classification ``dls``; ``None`` for other data."""
        img_cls = _image_class(dls)
        if img_cls is None:
            return None
        mode, n_ch = _MODES[img_cls], 1 if img_cls == "PILImageBW" else 3
        steps: list[dict[str, Any]] = []
        for t in dls.valid.after_item.fs:
            if not _applies_in_valid(t) or type(t).__name__ in ("ToTensor", "AddMaskCodes"):
                continue
            name = next((k for k, c in _STEPS.items() if type(t) is c), None)
            if name is None:
                raise ValueError(f"the image item transform {type(t).__name__} has no portable description; the "
                                 f"image reader knows {', '.join(c.__name__ for c in _STEPS.values())}")
            steps.append({"name": name, **t.get_config()})
        scale, mean, std = 1.0, [0.0] * n_ch, [1.0] * n_ch
        for t in dls.valid.after_batch.fs:
            if not _applies_in_valid(t):
                continue
            if isinstance(t, IntToFloatTensor):
                scale = float(t.div) if t.div else 1.0
            elif isinstance(t, AffineCoordTfm):
                if t.size is not None:  # on validation data it resizes the batch by grid sampling
                    raise ValueError(f"{type(t).__name__}(size={t.size}) resizes validation batches on the device, "
                                     "which the portable preprocessing cannot describe; resize with "
                                     "item_tfms=Resize(size) instead")
            elif isinstance(t, Normalize):
                m, s = t.mean.flatten().tolist(), t.std.flatten().tolist()
                if len(m) != n_ch:  # RGB statistics on grey images are averaged, as Normalize does
                    m, s = [sum(m) / len(m)] * n_ch, [sum(s) / len(s)] * n_ch
                mean, std = m, s
            else:
                raise ValueError(f"the batch transform {type(t).__name__} runs on validation data but has no "
                                 "portable description (only IntToFloatTensor and Normalize have one)")
        return {"mode": mode, "steps": steps, "scale": scale, "mean": mean, "std": std, "layout": "NCHW"}

    def __init__(self, preprocess: dict[str, Any]) -> None:
        self.mode = preprocess.get("mode", "RGB")
        if self.mode not in ("RGB", "L"):
            raise ValueError(f"image reader: unknown colour mode {self.mode!r} (known: RGB, L)")
        self._cls = PILImageBW if self.mode == "L" else PILImage
        self.steps = []
        for step in preprocess.get("steps", ()):
            kw = dict(step)
            cls = _STEPS.get(kw.pop("name", None))
            if cls is None:
                raise ValueError(f"image reader: unknown resize step {step!r} (known: {', '.join(_STEPS)})")
            kw["resamples"] = tuple(kw.get("resamples", (Image.BILINEAR, Image.NEAREST)))
            if "ratio" in kw:
                kw["ratio"] = tuple(kw["ratio"])
            self.steps.append(cls(**kw))
        self.scale = float(preprocess.get("scale", 1.0))
        n_ch = 1 if self.mode == "L" else 3
        self.mean = np.asarray(preprocess.get("mean", [0.0] * n_ch), dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(preprocess.get("std", [1.0] * n_ch), dtype=np.float32).reshape(-1, 1, 1)

    def __call__(self, item: str) -> np.ndarray:
        img = self._cls._cast(load_image(item, self.mode))
        for step in self.steps:
            img = step(img, split_idx=1)
        arr = np.asarray(img, dtype=np.float32)
        arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        if self.scale != 1.0:
            arr = arr / self.scale
        return np.ascontiguousarray((arr - self.mean) / self.std, dtype=np.float32)
