"""Word and subword tokenizers: callables from a batch of texts to lists of tokens.

``WordTokenizer`` splits like spaCy's blank English pipeline (fastai's default) -- punctuation apart,
clitics ``n't 's 're 'll 've 'd 'm`` as their own tokens, hyphens between letters split -- with one
compiled regular expression from the standard library: about 10x fastai + spaCy's throughput on the
same corpus (bench/bench_text.py) with no dependency at all. ``SubwordTokenizer`` trains a BPE or
unigram model on the corpus with HuggingFace ``tokenizers`` (Rust), fastai's SentencePiece path.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .rules import SPECIAL_TOKENS

__all__ = ["WordTokenizer", "SubwordTokenizer"]

_APOS = "'\u2019"
_WORD = re.compile(rf"""
      xx[a-z]+                                  # special tokens (text is lowercased by the rules)
    | \w+(?=n[{_APOS}]t\b)                      # "do" of "don't"
    | n[{_APOS}]t\b                             # "n't"
    | [{_APOS}](?:s|re|ve|ll|d|m)\b             # clitics: 's 're 've 'll 'd 'm
    | \d+(?:[.,:]\d+)+                          # 1,000.5  12:30
    | (?:[a-z]\.){{2,}}                         # u.s.  e.g.
    | \w+                                      # words
    | \.\.\.|--|[^\w\s]                         # punctuation, one mark at a time
""", re.VERBOSE | re.UNICODE)


class WordTokenizer:
    """Split rule-processed text into word and punctuation tokens (spaCy English semantics, ``re`` speed)."""

    def __init__(self, lang: str = "en", split_pattern: str | re.Pattern[str] | None = None) -> None:
        if lang != "en":
            raise ValueError(f"WordTokenizer: only lang='en' rules are built in, got {lang!r}; pass "
                             "split_pattern= with a regex for your language or use SubwordTokenizer")
        self.lang = lang
        self.pattern = re.compile(split_pattern) if isinstance(split_pattern, str) else (split_pattern or _WORD)

    def __call__(self, texts: Iterable[str]) -> list[list[str]]:
        findall = self.pattern.findall
        return [findall(t) for t in texts]

    def config(self) -> dict[str, Any]:
        return {"kind": "word", "lang": self.lang, "pattern": self.pattern.pattern}


class SubwordTokenizer:
    """BPE (``model="bpe"``) or unigram subwords trained on the corpus with HuggingFace ``tokenizers``.

    Like fastai's ``SentencePieceTokenizer``: ``setup(texts)`` trains a vocabulary of ``vocab_sz`` pieces
    (fastai's heuristic when None), spaces become ``▁``, the special tokens stay whole. The trained model
    is saved as ``<cache_dir>/subword.json`` when ``cache_dir`` is given and reused from there.
    """

    def __init__(self, vocab_sz: int | None = None, model: str = "unigram", max_vocab_sz: int = 30000,
                 special_toks: list[str] | None = None, cache_dir: str | os.PathLike[str] | None = None) -> None:
        if model not in ("bpe", "unigram"):
            raise ValueError(f"SubwordTokenizer: model must be 'bpe' or 'unigram', got {model!r}")
        self.vocab_sz, self.model, self.max_vocab_sz = vocab_sz, model, max_vocab_sz
        self.special_toks = list(special_toks or SPECIAL_TOKENS)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.tok: Any = None
        if self.cache_dir is not None and (self.cache_dir / "subword.json").exists():
            self._load(self.cache_dir / "subword.json")

    def _load(self, path: Path) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(path))

    def _vocab_size(self, texts: list[str]) -> int:
        if self.vocab_sz is not None:
            return self.vocab_sz
        # fastai's rule of thumb: a quarter of the distinct words, rounded to 8, capped
        words = {w for t in texts for w in t.split()}
        return max(len(self.special_toks) + 8, min(self.max_vocab_sz, (len(words) // 4) // 8 * 8))

    def setup(self, texts: list[str]) -> None:
        """Train the subword model on ``texts`` (already through the rules)."""
        if self.tok is not None:
            return
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        if not texts:
            raise ValueError("SubwordTokenizer.setup: no texts to train on")
        n = self._vocab_size(texts)
        if self.model == "bpe":
            tok = Tokenizer(models.BPE(unk_token=SPECIAL_TOKENS[0]))
            trainer: Any = trainers.BpeTrainer(vocab_size=n, special_tokens=self.special_toks, show_progress=False)
        else:
            tok = Tokenizer(models.Unigram())
            trainer = trainers.UnigramTrainer(vocab_size=n, special_tokens=self.special_toks,
                                              unk_token=SPECIAL_TOKENS[0], show_progress=False)
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        tok.train_from_iterator(texts, trainer=trainer)
        self.tok = tok
        if self.cache_dir is not None:
            from torchloom import atomic_write

            with atomic_write(self.cache_dir / "subword.json", "w", encoding="utf-8") as f:
                f.write(tok.to_str())

    def __call__(self, texts: Iterable[str]) -> list[list[str]]:
        if self.tok is None:
            raise RuntimeError("SubwordTokenizer is not trained: call setup(texts) first (Tokenizer does it)")
        return [e.tokens for e in self.tok.encode_batch(list(texts))]

    def config(self) -> dict[str, Any]:
        return {"kind": "subword", "model": self.model, "vocab_sz": self.vocab_sz,
                "trained": None if self.tok is None else self.tok.to_str()}
