"""Generic target/type transforms: categories, multi-labels, regression targets, uint8 -> float."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from torchloom._tensors import (
    ShowTitle,
    TensorBase,
    TensorCategory,
    TensorMultiCategory,
    TitledFloat,
    show_title,
)
from torchloom._transform import DisplayedTransform

__all__ = ["CategoryMap", "Category", "MultiCategory", "Categorize", "MultiCategorize", "EncodedMultiCategorize",
           "OneHotEncode", "RegressionSetup", "IntToFloatTensor", "LabelNotInVocabError"]


class LabelNotInVocabError(KeyError):
    """A label was not seen in the training data (so it has no index in the vocab)."""

    def __str__(self) -> str:  # KeyError's str() would quote the whole message
        return str(self.args[0]) if self.args else ""


def _py(o: Any) -> Any:
    """numpy scalars -> python scalars (JSON-able vocab, consistent keys)."""
    return o.item() if hasattr(o, "item") and not isinstance(o, (str, bytes)) and getattr(o, "ndim", 1) == 0 \
        else o


def _vocab_preview(vocab: list, n: int = 20) -> str:
    shown = ", ".join(repr(v) for v in vocab[:n])
    return f"[{shown}{', ...' if len(vocab) > n else ''}] ({len(vocab)} labels)"


class CategoryMap(list):
    """The sorted unique labels of ``col`` (``o2i`` maps a label to its index); ``#na#`` first if ``add_na``."""

    def __init__(self, col: Iterable[Any] = (), sort: bool = True, add_na: bool = False, strict: bool = False
                 ) -> None:
        seen: dict[Any, None] = {}
        for o in col:
            seen.setdefault(_py(o), None)
        items = list(seen)
        if sort:
            try:
                items = sorted(items)
            except TypeError:
                pass
        if add_na:
            items = ["#na#"] + [o for o in items if o != "#na#"]
        super().__init__(items)
        self.o2i = {v: i for i, v in enumerate(self)}

    def map_objs(self, objs: Iterable[Any]) -> list[int]:
        return [self.o2i[o] for o in objs]

    def map_ids(self, ids: Iterable[int]) -> list[Any]:
        return [self[i] for i in ids]


class Category(str, ShowTitle):
    """A decoded label (shows as a title)."""


class MultiCategory(list):
    """Decoded multi-labels (shows as a ``;``-joined title)."""

    def show(self, ctx: Any = None, sep: str = ";", color: str = "black", **kwargs: Any) -> Any:
        return show_title(sep.join(str(o) for o in self), ctx=ctx, color=color)


class Categorize(DisplayedTransform):
    """Label -> ``TensorCategory`` index into a vocab built from the training labels; decodes back to the label."""

    order = 1

    def __init__(self, vocab: Iterable[Any] | None = None, sort: bool = True, add_na: bool = False) -> None:
        super().__init__()
        self.sort, self.add_na = sort, add_na
        self.vocab = None if vocab is None else CategoryMap(vocab, sort=False, add_na=add_na)

    def setups(self, dsets: Any) -> None:
        if self.vocab is None and dsets is not None:
            self.vocab = CategoryMap(dsets, sort=self.sort, add_na=self.add_na)
        if self.vocab is not None and not self.vocab:
            raise ValueError("Categorize: the training labels are empty, so the vocab is empty")

    def encodes(self, o: Any) -> TensorCategory:
        if self.vocab is None:
            raise RuntimeError("Categorize has no vocab: run setup on the training labels or pass vocab=")
        try:
            return TensorCategory(self.vocab.o2i[_py(o)])
        except (KeyError, TypeError):
            raise LabelNotInVocabError(f"label {o!r} was not included in the training data; the vocab is "
                                       f"{_vocab_preview(self.vocab)}") from None

    def decodes(self, o: TensorCategory) -> Category:
        return Category(self.vocab[int(o)])

    @property
    def c(self) -> int:
        return len(self.vocab) if self.vocab is not None else 0

    @property
    def loss_func(self) -> Any:
        from torchloom._losses import CrossEntropyLossFlat

        return CrossEntropyLossFlat()

    def get_config(self) -> dict:
        return {"sort": self.sort, "add_na": self.add_na}

    def state_dict(self) -> dict:
        return {"vocab": list(self.vocab) if self.vocab is not None else None}

    def load_state_dict(self, d: dict) -> None:
        v = d.get("vocab")
        self.vocab = None if v is None else CategoryMap(v, sort=False)


class MultiCategorize(Categorize):
    """A list of labels -> ``TensorMultiCategory`` of indices (use ``OneHotEncode`` after it)."""

    order = 1
    _retain = True  # a tuple of labels is one target, not several

    def __init__(self, vocab: Iterable[Any] | None = None, add_na: bool = False) -> None:
        super().__init__(vocab=vocab, sort=True, add_na=add_na)

    def setups(self, dsets: Any) -> None:
        if self.vocab is None and dsets is not None:
            self.vocab = CategoryMap((o for item in dsets for o in item), add_na=self.add_na)

    def encodes(self, o: Any) -> TensorMultiCategory:
        if self.vocab is None:
            raise RuntimeError("MultiCategorize has no vocab: run setup on the training labels or pass vocab=")
        if isinstance(o, (str, bytes)):
            o = [o]
        missing = [x for x in o if _py(x) not in self.vocab.o2i]
        if missing:
            raise LabelNotInVocabError(f"label(s) {missing!r} were not included in the training data; the vocab is "
                                       f"{_vocab_preview(self.vocab)}")
        return TensorMultiCategory(torch.tensor([self.vocab.o2i[_py(x)] for x in o], dtype=torch.long))

    def decodes(self, o: TensorMultiCategory) -> MultiCategory:
        return MultiCategory([self.vocab[int(i)] for i in o])

    @property
    def loss_func(self) -> Any:
        from torchloom._losses import BCEWithLogitsLossFlat

        return BCEWithLogitsLossFlat()

    def get_config(self) -> dict:
        return {"add_na": self.add_na}


class OneHotEncode(DisplayedTransform):
    """Indices -> multi-hot float vector of length ``c`` (taken from the vocab at setup)."""

    order = 2

    def __init__(self, c: int | None = None) -> None:
        super().__init__()
        self.c = c

    def setups(self, dsets: Any) -> None:
        if self.c is None:
            vocab = getattr(dsets, "vocab", None)
            if vocab is None:
                raise ValueError("OneHotEncode needs c= or a vocab from an earlier transform (MultiCategorize)")
            self.c = len(vocab)

    def encodes(self, o: TensorMultiCategory) -> TensorMultiCategory:
        if o.dtype.is_floating_point:
            return o
        res = torch.zeros(self.c, dtype=torch.float32)
        res[o.as_subclass(Tensor).long()] = 1.0
        return TensorMultiCategory(res)

    def decodes(self, o: TensorMultiCategory) -> TensorMultiCategory:
        if not o.dtype.is_floating_point:
            return o
        return TensorMultiCategory(torch.nonzero(o.as_subclass(Tensor) > 0.5).flatten())


class EncodedMultiCategorize(Categorize):
    """Targets already one-hot encoded: a float ``TensorMultiCategory``; decodes to the vocab's labels."""

    order = 1

    def __init__(self, vocab: Iterable[Any]) -> None:
        super().__init__(vocab=vocab, sort=False)

    def setups(self, dsets: Any) -> None:
        pass

    def encodes(self, o: Any) -> TensorMultiCategory:
        return TensorMultiCategory(torch.as_tensor(o, dtype=torch.float32))

    def decodes(self, o: TensorMultiCategory) -> MultiCategory:
        t = o.as_subclass(Tensor)
        idx = torch.nonzero(t > 0.5).flatten().tolist() if t.dtype.is_floating_point else t.tolist()
        return MultiCategory([self.vocab[i] for i in idx])

    @property
    def loss_func(self) -> Any:
        from torchloom._losses import BCEWithLogitsLossFlat

        return BCEWithLogitsLossFlat()

    def get_config(self) -> dict:
        return {"vocab": list(self.vocab)}

    def state_dict(self) -> dict:
        return {}


class RegressionSetup(DisplayedTransform):
    """Number(s) -> float tensor; ``c`` is the number of targets (set from the first training item)."""

    order = 1

    def __init__(self, c: int | None = None) -> None:
        super().__init__()
        self.c = c

    def setups(self, dsets: Any) -> None:
        if self.c is None and dsets is not None and len(dsets):
            first = dsets[0]
            self.c = int(first.numel()) if isinstance(first, Tensor) else 1

    def encodes(self, o: Any) -> Tensor:
        if isinstance(o, Tensor):
            return o.float()
        try:
            return torch.as_tensor(o, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as e:
            raise ValueError(f"RegressionSetup: target {o!r} is not a number or a sequence of numbers") from e

    def decodes(self, o: Tensor) -> Any:
        if type(o) is Tensor and o.numel() == 1:
            return TitledFloat(o.item())
        return o


class IntToFloatTensor(DisplayedTransform):
    """uint8 typed tensors (images) -> float in [0, 1] (``/div``); decodes back to uint8.

    Only ``TensorBase`` subtypes are touched (labels stay integers); a subtype that holds integer codes
    (e.g. a segmentation mask) sets ``int_codes = True`` and is converted to ``long`` (``/div_mask``) instead.
    """

    order = 10

    def __init__(self, div: float = 255.0, div_mask: int = 1) -> None:
        super().__init__()
        self.div, self.div_mask = div, div_mask

    def encodes(self, o: TensorBase) -> TensorBase:
        if isinstance(o, TensorCategory):
            return o
        if getattr(o, "int_codes", False):
            return (o.long() // self.div_mask) if self.div_mask != 1 else o.long()
        if o.dtype == torch.uint8:
            return o.float().div_(self.div) if self.div else o.float()
        return o

    def decodes(self, o: TensorBase) -> TensorBase:
        if isinstance(o, TensorCategory) or getattr(o, "int_codes", False) or not o.dtype.is_floating_point:
            return o
        return (o.clamp(0.0, 1.0) * self.div).round().to(torch.uint8) if self.div else o

