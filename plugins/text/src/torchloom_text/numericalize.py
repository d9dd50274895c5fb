"""Token lists <-> integer tensors: the vocabulary, ``Numericalize`` and the text tensor types."""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import torch

from torchloom import TensorBase, Transform

from .rules import PAD, SPECIAL_TOKENS, UNK
from .tokenize import TitledStr

__all__ = ["TensorText", "LMTensorText", "make_vocab", "Numericalize"]


class TensorText(TensorBase):
    """A numericalized text (token ids); decoded by ``Numericalize`` back to text."""


class LMTensorText(TensorText):
    """A language-model input sequence (its target is the same stream shifted by one token)."""


def make_vocab(counter: Counter, min_freq: int = 3, max_vocab: int = 60000,
               special_toks: Iterable[str] | None = None) -> list[str]:
    """Specials first, then tokens seen ``min_freq`` times or more by decreasing count (at most ``max_vocab``),
    padded with ``xxfake`` to a multiple of 8 (fastai's rule, for tensor-core-friendly embedding sizes)."""
    special = list(SPECIAL_TOKENS if special_toks is None else special_toks)
    vocab = [o for o, c in counter.most_common(max_vocab) if c >= min_freq]
    seen = set(special)
    vocab = special + [o for o in vocab if o not in seen]
    vocab = vocab[:max_vocab]
    if len(vocab) % 8 != 0:
        vocab += ["xxfake"] * (8 - len(vocab) % 8)
    return vocab


class Numericalize(Transform):
    """Tokens -> ``TensorText`` of ids (unknown tokens -> ``xxunk``, id 0); decodes ids back to text.

    The vocabulary is built in ``setups`` from the training items only (``min_freq``, ``max_vocab``), or
    given (``vocab=``, e.g. the language model's, so the encoder's rows line up).
    """

    order = 1

    def __init__(self, vocab: list[str] | None = None, min_freq: int = 3, max_vocab: int = 60000,
                 special_toks: list[str] | None = None) -> None:
        super().__init__()
        self.min_freq, self.max_vocab = min_freq, max_vocab
        self.special_toks = list(SPECIAL_TOKENS if special_toks is None else special_toks)
        self.vocab: list[str] | None = None
        if vocab is not None:
            self._set_vocab(list(vocab))

    def _set_vocab(self, vocab: list[str]) -> None:
        if UNK not in vocab[:1]:
            raise ValueError(f"Numericalize: the vocab must start with {UNK!r} (unknown tokens map to index 0), "
                             f"got {vocab[:3]}")
        self.vocab = vocab
        self.o2i = {}
        for i, w in enumerate(vocab):
            if w != "xxfake":
                self.o2i.setdefault(w, i)
        self.pad_idx = self.o2i.get(PAD, 1)

    def setups(self, dsets: Any) -> None:
        if self.vocab is not None:
            return
        if dsets is None:
            return
        counter: Counter = Counter()
        n = 0
        for toks in dsets:
            counter.update(toks)
            n += 1
        if n == 0:
            raise ValueError("Numericalize: no training texts to build the vocab from (the corpus is empty)")
        self._set_vocab(make_vocab(counter, self.min_freq, self.max_vocab, self.special_toks))

    def encodes(self, o: list) -> TensorText:
        if self.vocab is None:
            raise RuntimeError("Numericalize has no vocab: run setup on the training texts or pass vocab=")
        get = self.o2i.get
        return TensorText(torch.tensor([get(t, 0) for t in o], dtype=torch.long))

    def decodes(self, o: TensorText) -> TitledStr:
        v = self.vocab
        return TitledStr(" ".join(v[int(i)] for i in o.tolist() if int(i) != self.pad_idx))

    def get_config(self) -> dict:
        return {"min_freq": self.min_freq, "max_vocab": self.max_vocab}

    def state_dict(self) -> dict:
        return {"vocab": self.vocab}

    def load_state_dict(self, d: dict) -> None:
        if d.get("vocab") is not None:
            self._set_vocab(list(d["vocab"]))
