"""The text reader of portable exports: the tokenization and vocabulary of text-classifier DataLoaders, as
JSON (``describe``) and as a function from a raw string (a ``.txt`` file or a CSV cell) to token ids.

``torchloom predict`` finds it by its registered name ``text_reader``. The JSON holds what a consumer
without torchloom needs: the names of the rules (in order), ``fix_html``'s replacements, the word tokenizer's
regular expression (flags inline), the vocabulary (a list of tokens, index = id), the padding id and the chunk length of the padding. Batches
are padded first, as the classifier's ``SortedDL`` pads them, and the export keeps the sequence axis
variable; the exported model reads each text as if it were alone, whatever the padding.
"""
from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from . import rules as _rules
from .loaders import PadInputChunk, SortedDL
from .numericalize import Numericalize
from .tok import WordTokenizer
from .tokenize import Tokenizer, read_text_file

__all__ = ["TextReader"]

_RULES = {name: getattr(_rules, name) for name in _rules.__all__ if callable(getattr(_rules, name))}
_FLAGS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"), (re.ASCII, "a"))


def portable_pattern(pattern: re.Pattern[str]) -> str:
    """The regular expression with its flags inline (``(?x)...``): ``re.compile`` of the string alone, in
    any process, gives the same tokenizer."""
    letters = "".join(c for f, c in _FLAGS if pattern.flags & f)
    return f"(?{letters}){pattern.pattern}" if letters else pattern.pattern


def _text_tfms(dls: Any) -> tuple[Tokenizer, Numericalize] | None:
    tok = num = None
    for tl in getattr(getattr(dls.valid, "dataset", None), "tls", ())[:1]:
        for t in getattr(tl.tfms, "fs", ()):
            if isinstance(t, Tokenizer):
                tok = t
            elif isinstance(t, Numericalize):
                num = t
    return (tok, num) if tok is not None and num is not None else None


def _padding(dl: Any) -> tuple[int, bool, int] | None:
    """(pad_idx, pad_first, seq_len) of a classifier's loader: a ``SortedDL``, or the plain loader that
    ``load_learner`` rebuilds with ``PadInputChunk`` before batching; None for other loaders."""
    if isinstance(dl, SortedDL):
        return dl.pad_idx, dl.pad_first, dl.seq_len
    for t in getattr(getattr(dl, "before_batch", None), "fs", ()):
        if isinstance(t, PadInputChunk):
            return t.pad_idx, t.pad_first, t.seq_len
    return None


class TextReader:
    """Raw text -> int64 token ids, tokenized and numericalized as the validation data of the exported learner.

    An item that ends in ``.txt`` and names an existing file is read from that file (strict UTF-8 or the
    exported encoding); any other item (a CSV cell) is the text itself.
    """

    extensions = (".txt",)
    paths = False
    dynamic_axes = {1: "seq"}

    @classmethod
    def describe(cls, dls: Any) -> dict[str, Any] | None:
        """The tokenization of text-classifier ``dls`` (``SortedDL`` batches); ``None`` for other data."""
        pad = _padding(getattr(dls, "valid", None))
        tfms = _text_tfms(dls)
        if pad is None or tfms is None:
            return None
        tok, num = tfms
        if not isinstance(tok.tok, WordTokenizer):
            raise ValueError(f"the text tokenizer {type(tok.tok).__name__} has no portable description; the text "
                             "reader knows WordTokenizer (its regular expression is exported)")
        names = []
        for r in tok.rules:
            name = getattr(r, "__name__", repr(r))
            if _RULES.get(name) is not r:
                raise ValueError(f"the text rule {name} has no portable description; the text reader knows the "
                                 f"rules of torchloom_text.rules ({', '.join(_RULES)})")
            names.append(name)
        pad_idx, pad_first, seq_len = pad
        return {"rules": names, "fix_html": [list(p) for p in _rules._HTML] if "fix_html" in names else None,
                "tokenizer": {"kind": "word", "pattern": portable_pattern(tok.tok.pattern)},
                "encoding": tok.encoding, "vocab": list(num.vocab or []), "pad_idx": int(pad_idx),
                "pad_first": bool(pad_first), "seq_len": int(seq_len), "layout": "NS"}

    def __init__(self, preprocess: dict[str, Any]) -> None:
        unknown = [n for n in preprocess.get("rules", ()) if n not in _RULES]
        if unknown:
            raise ValueError(f"text reader: unknown rule(s) {unknown} (known: {', '.join(_RULES)})")
        self.rules = [_RULES[n] for n in preprocess.get("rules", ())]
        tok = dict(preprocess.get("tokenizer") or {"kind": "word"})
        if tok.get("kind") != "word":
            raise ValueError(f"text reader: unknown tokenizer kind {tok.get('kind')!r} (known: word)")
        self.tokenizer = Tokenizer(WordTokenizer(split_pattern=tok.get("pattern")), self.rules,
                                   encoding=str(preprocess.get("encoding", "utf-8")))
        vocab = preprocess.get("vocab")
        if not isinstance(vocab, list) or not vocab:
            raise ValueError("text reader: the export holds no vocabulary (preprocess['vocab'])")
        self.numericalize = Numericalize(vocab=[str(v) for v in vocab])
        self.pad_idx = int(preprocess.get("pad_idx", self.numericalize.pad_idx))
        self.pad_first = bool(preprocess.get("pad_first", True))
        self.seq_len = int(preprocess.get("seq_len", 72))

    def tokens(self, item: str) -> list[str]:
        """The tokens of ``item`` (a ``.txt`` path or the text itself)."""
        if item.lower().endswith(self.extensions) and os.path.isfile(item):
            item = read_text_file(item, self.tokenizer.encoding)
        return self.tokenizer.tok([_rules.apply_rules(item, self.rules)])[0]

    def __call__(self, item: str) -> np.ndarray:
        o2i = self.numericalize.o2i
        return np.asarray([o2i.get(t, 0) for t in self.tokens(item)], dtype=np.int64)

    def collate(self, samples: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray]:
        """Pad to the longest text: whole ``seq_len`` chunks first, the rest after the text (``SortedDL``)."""
        xs = [s[0] for s in samples]
        n = max(len(x) for x in xs)
        out = np.full((len(xs), n), self.pad_idx, dtype=np.int64)
        for i, x in enumerate(xs):
            extra = n - len(x)
            start = (extra // self.seq_len) * self.seq_len if self.pad_first else 0
            out[i, start:start + len(x)] = x
        return (out,)
