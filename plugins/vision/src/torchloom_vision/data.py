"""Vision blocks and data factories, built on the kernel's ``DataBlock``.

``ImageBlock`` opens images (``PILImage`` / ``PILImageBW``), ``MaskBlock`` masks, ``PointBlock``/``BBoxBlock``
coordinates; ``ImageDataLoaders`` and ``SegmentationDataLoaders`` build common layouts in one call
(``from_folder``, ``from_name_func``, ``from_name_re``, ``from_df``, ``from_label_func``).
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from torchloom import (
    CategoryBlock,
    ColReader,
    ColSplitter,
    DataBlock,
    DataLoaders,
    GrandparentSplitter,
    IntToFloatTensor,
    MultiCategorize,
    MultiCategoryBlock,
    RandomSplitter,
    RegexLabeller,
    Transform,
    TransformBlock,
    get_image_files,
    parent_label,
)

from .core import PILBase, PILImage, PILImageBW, PILMask, TensorBBox, TensorPoint
from .transforms import AddMaskCodes, BBoxPad, PointScaler, ToTensor

__all__ = ["ImageCreate", "PointCreate", "BBoxCreate", "ImageBlock", "MaskBlock", "PointBlock", "BBoxBlock",
           "BBoxLblBlock",
           "ImageDataLoaders", "SegmentationDataLoaders", "NameLabeller"]

_IMG_CLASSES: dict[str, type[PILBase]] = {"PILImage": PILImage, "PILImageBW": PILImageBW, "PILMask": PILMask}


def _cls_name(cls: type[PILBase] | str) -> str:
    name = cls if isinstance(cls, str) else cls.__name__
    if name not in _IMG_CLASSES:
        raise ValueError(f"image class must be one of {sorted(_IMG_CLASSES)}, got {name!r}")
    return name


class ImageCreate(Transform):
    """Type transform: a path, bytes, array, tensor or PIL image -> ``img_cls`` (errors name the file)."""

    def __init__(self, img_cls: str = "PILImage") -> None:
        super().__init__()
        self.img_cls = _cls_name(img_cls)
        self._cls = _IMG_CLASSES[self.img_cls]

    def encodes(self, o: object) -> None:
        return self._cls.create(o)


class PointCreate(Transform):
    """Type transform: (n, 2) (x, y) pixel coordinates -> ``TensorPoint``."""

    def encodes(self, o: object) -> None:
        return TensorPoint.create(o)


class BBoxCreate(Transform):
    """Type transform: (n, 4) (x1, y1, x2, y2) pixel boxes -> ``TensorBBox``."""

    def encodes(self, o: object) -> None:
        return TensorBBox.create(o)


def ImageBlock(cls: type[PILBase] | str = PILImage) -> TransformBlock:
    """Images of class ``cls`` (``PILImage`` for RGB, ``PILImageBW`` for grey): uint8 batches made float on the
    device by ``IntToFloatTensor``."""
    return TransformBlock(type_tfms=[ImageCreate(_cls_name(cls))], item_tfms=[ToTensor()],
                          batch_tfms=[IntToFloatTensor()])


def MaskBlock(codes: Sequence[str] | None = None) -> TransformBlock:
    """Segmentation masks (one integer code per pixel, named by ``codes``)."""
    return TransformBlock(type_tfms=[ImageCreate("PILMask")], item_tfms=[AddMaskCodes(codes), ToTensor()],
                          batch_tfms=[IntToFloatTensor()])


def PointBlock() -> TransformBlock:
    """Key points in pixels, scaled to [-1, 1] by the item's image (so augmentation moves them with it)."""
    return TransformBlock(type_tfms=[PointCreate()], item_tfms=[PointScaler()])


def BBoxBlock() -> TransformBlock:
    """Bounding boxes in pixels, scaled to [-1, 1] by the item's image; ``BBoxPad`` pads each batch to the
    largest number of boxes (so items with different box counts batch together)."""
    return TransformBlock(type_tfms=[BBoxCreate()], item_tfms=[PointScaler()],
                          dls_kwargs={"before_batch": [BBoxPad()]})


def BBoxLblBlock(vocab: Sequence[str] | None = None, add_na: bool = True) -> TransformBlock:
    """The label of each box (a list per item, after a ``BBoxBlock``); index 0 is the padding class."""
    return TransformBlock(type_tfms=[MultiCategorize(vocab=vocab, add_na=add_na)])


class NameLabeller:
    """``label_func`` applied to a path's file name (fastai's ``using_attr(f, "name")``; picklable)."""

    def __init__(self, func: Callable[[str], Any]) -> None:
        self.func = func

    def __call__(self, o: str | os.PathLike) -> Any:
        return self.func(Path(o).name)


def _from_dblock(dblock: DataBlock, source: Any, path: str | os.PathLike, **kwargs: Any) -> DataLoaders:
    return dblock.dataloaders(source, path=str(path), **kwargs)


def _check_dir(path: str | os.PathLike, what: str = "path") -> Path:
    p = Path(path)
    if not p.is_dir():
        raise FileNotFoundError(f"{what} {p} is not a folder")
    return p


class ImageDataLoaders(DataLoaders):
    """Factories for image classification ``DataLoaders`` (fastai's names and arguments)."""

    @classmethod
    def from_folder(cls, path: str | os.PathLike, train: str = "train", valid: str = "valid",
                    valid_pct: float | None = None, seed: int | None = None, vocab: Sequence | None = None,
                    item_tfms: Any = None, batch_tfms: Any = None, img_cls: type[PILBase] | str = PILImage,
                    bs: int = 64, **kwargs: Any) -> DataLoaders:
        """Images in ``path/train/<label>/`` and ``path/valid/<label>/`` (or a random ``valid_pct`` split)."""
        path = _check_dir(path)
        if valid_pct is None:
            for sub in (train, valid):
                _check_dir(path / sub, f"{sub!r} folder")
            splitter = GrandparentSplitter(train_name=train, valid_name=valid)
            folders = [train, valid]
        else:
            splitter, folders = RandomSplitter(valid_pct, seed=seed), None
        files = get_image_files(path, folders=folders)
        if not files:
            raise ValueError(f"no image files found under {path}" + (f" in {folders}" if folders else ""))
        dblock = DataBlock(blocks=(ImageBlock(img_cls), CategoryBlock(vocab=vocab)), splitter=splitter,
                           get_y=parent_label, item_tfms=item_tfms, batch_tfms=batch_tfms)
        return _from_dblock(dblock, files, path, bs=bs, **kwargs)

    @classmethod
    def from_path_func(cls, path: str | os.PathLike, fnames: Sequence, label_func: Callable, valid_pct: float = 0.2,
                       seed: int | None = None, item_tfms: Any = None, batch_tfms: Any = None,
                       img_cls: type[PILBase] | str = PILImage, bs: int = 64, **kwargs: Any) -> DataLoaders:
        """Labels from ``label_func(path)`` for each of ``fnames``; a random ``valid_pct`` split."""
        dblock = DataBlock(blocks=(ImageBlock(img_cls), CategoryBlock()), splitter=RandomSplitter(valid_pct, seed=seed),
                           get_y=label_func, item_tfms=item_tfms, batch_tfms=batch_tfms)
        return _from_dblock(dblock, list(fnames), path, bs=bs, **kwargs)

    @classmethod
    def from_name_func(cls, path: str | os.PathLike, fnames: Sequence, label_func: Callable, **kwargs: Any
                       ) -> DataLoaders:
        """Labels from ``label_func(file_name)``."""
        return cls.from_path_func(path, fnames, NameLabeller(label_func), **kwargs)

    @classmethod
    def from_path_re(cls, path: str | os.PathLike, fnames: Sequence, pat: str, **kwargs: Any) -> DataLoaders:
        """Labels from the first group of regex ``pat`` matched on the full path."""
        return cls.from_path_func(path, fnames, RegexLabeller(pat), **kwargs)

    @classmethod
    def from_name_re(cls, path: str | os.PathLike, fnames: Sequence, pat: str, **kwargs: Any) -> DataLoaders:
        """Labels from the first group of regex ``pat`` matched on the file name."""
        return cls.from_path_func(path, fnames, NameLabeller(RegexLabeller(pat)), **kwargs)

    @classmethod
    def from_df(cls, df: Any, path: str | os.PathLike = ".", valid_pct: float = 0.2, seed: int | None = None,
                fn_col: int | str = 0, folder: str | None = None, suff: str = "", label_col: int | str = 1,
                label_delim: str | None = None, valid_col: int | str | None = None, item_tfms: Any = None,
                batch_tfms: Any = None, img_cls: type[PILBase] | str = PILImage, bs: int = 64,
                **kwargs: Any) -> DataLoaders:
        """File names in column ``fn_col`` (under ``path/folder``, with suffix ``suff``), labels in ``label_col``
        (several per item when ``label_delim``), split by the boolean ``valid_col`` or randomly."""
        pref = f"{Path(path) if folder is None else Path(path) / folder}{os.path.sep}"
        splitter = RandomSplitter(valid_pct, seed=seed) if valid_col is None else ColSplitter(valid_col)
        y_block = MultiCategoryBlock() if label_delim is not None else CategoryBlock()
        dblock = DataBlock(blocks=(ImageBlock(img_cls), y_block), splitter=splitter,
                           get_x=ColReader(fn_col, pref=pref, suff=suff),
                           get_y=ColReader(label_col, label_delim=label_delim),
                           item_tfms=item_tfms, batch_tfms=batch_tfms)
        return _from_dblock(dblock, df, path, bs=bs, **kwargs)


class SegmentationDataLoaders(DataLoaders):
    """Factories for segmentation ``DataLoaders``."""

    @classmethod
    def from_label_func(cls, path: str | os.PathLike, fnames: Sequence, label_func: Callable,
                        valid_pct: float = 0.2, seed: int | None = None, codes: Sequence[str] | None = None,
                        item_tfms: Any = None, batch_tfms: Any = None, img_cls: type[PILBase] | str = PILImage,
                        bs: int = 64, **kwargs: Any) -> DataLoaders:
        """Images ``fnames`` with masks at ``label_func(fname)``; ``codes`` name the mask values."""
        fnames = list(fnames)
        if not fnames:
            raise ValueError("SegmentationDataLoaders.from_label_func: fnames is empty")
        dblock = DataBlock(blocks=(ImageBlock(img_cls), MaskBlock(codes=codes)),
                           splitter=RandomSplitter(valid_pct, seed=seed), get_y=label_func,
                           item_tfms=item_tfms, batch_tfms=batch_tfms)
        return _from_dblock(dblock, fnames, path, bs=bs, **kwargs)
