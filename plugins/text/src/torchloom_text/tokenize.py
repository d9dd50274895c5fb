"""Corpus tokenization: rules + a tokenizer over many texts, in parallel, with a progress bar and a cache.

``tokenize_texts`` is the engine; ``tokenize_folder`` mirrors a folder of ``.txt`` files into a token
cache (``<folder>_tok``) that a second run reuses when files, rules and tokenizer are unchanged; ``Tokenizer``
is the ``Transform`` that DataBlocks and loaders use (raw string -> tokens, tokens -> text).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from torchloom import Transform

from .rules import DEFAULT_RULES, apply_rules
from .tok import SubwordTokenizer, WordTokenizer

__all__ = ["TitledStr", "tokenize_texts", "tokenize_folder", "read_text_file", "Tokenizer", "TokenizedFolder"]

_CHUNK = 2000


class TitledStr(str):
    """Decoded text; ``show`` prints it (or draws it as a title on a matplotlib ``ctx``)."""

    def show(self, ctx: Any = None, **kwargs: Any) -> Any:
        if ctx is None:
            print(self)
            return None
        if hasattr(ctx, "set_title"):
            ctx.set_title(self[:80])
        return ctx


def _process(args: tuple[Any, list[Callable[[str], str]], list[str]]) -> list[list[str]]:
    tok, rules, texts = args
    return tok([apply_rules(t, rules) for t in texts])


def _check_texts(texts: Sequence[Any]) -> list[str]:
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            kind = "missing (NaN)" if isinstance(t, float) and t != t else f"a {type(t).__name__}"
            raise TypeError(f"tokenize: text {i} is {kind}, not a string: {t!r:.60}")
        out.append(t)
    return out


def tokenize_texts(texts: Sequence[str], tok: Callable[[list[str]], list[list[str]]] | None = None,
                   rules: list[Callable[[str], str]] | None = None, n_workers: int | None = None,
                   progress: bool = True, chunksize: int = _CHUNK) -> list[list[str]]:
    """Rules then ``tok`` on every text, order kept; chunks go to ``n_workers`` processes for big corpora.

    ``n_workers`` defaults to the CPU count (capped at 4); corpora of fewer than two chunks stay in this
    process (starting workers costs more than it saves). An empty text becomes ``["xxbos"]``.
    """
    texts = _check_texts(texts)
    tok = tok if tok is not None else WordTokenizer()
    rules = list(DEFAULT_RULES if rules is None else rules)
    if isinstance(tok, SubwordTokenizer) and tok.tok is None:
        tok.setup([apply_rules(t, rules) for t in texts])
    chunks = [texts[i:i + chunksize] for i in range(0, len(texts), chunksize)]
    n_workers = min(os.cpu_count() or 1, 4) if n_workers is None else n_workers
    bar = _bar(len(texts), progress, "tokenizing")
    out: list[list[str]] = []
    try:
        if n_workers > 1 and len(chunks) > 1:
            with ProcessPoolExecutor(n_workers) as ex:
                for res in ex.map(_process, [(tok, rules, c) for c in chunks]):
                    out.extend(res)
                    bar.update(len(res))
        else:
            for c in chunks:
                out.extend(_process((tok, rules, c)))
                bar.update(len(c))
    finally:
        bar.close()
    return out


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(total: int, show: bool, desc: str) -> Any:
    if not show or total < 10 * _CHUNK:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="doc", leave=False)


def read_text_file(path: str | os.PathLike[str], encoding: str = "utf-8") -> str:
    """The text of ``path``; a file that is not valid ``encoding`` raises ``ValueError`` naming it."""
    try:
        return Path(path).read_text(encoding=encoding)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not valid {encoding} text (byte {e.start}: {e.reason}); convert it or "
                         f"pass encoding=") from None


def _tok_config(tok: Any, rules: list[Callable[[str], str]]) -> dict[str, Any]:
    cfg = tok.config() if hasattr(tok, "config") else {"kind": type(tok).__qualname__}
    return {"tok": cfg, "rules": [f"{r.__module__}.{getattr(r, '__qualname__', repr(r))}" for r in rules]}


class TokenizedFolder:
    """A folder tokenized by ``tokenize_folder``: ``files`` (relative paths), ``tokens``, ``counter``."""

    def __init__(self, path: Path, files: list[str], tokens: list[list[str]], counter: Counter,
                 from_cache: bool) -> None:
        self.path, self.files, self.tokens, self.counter, self.from_cache = path, files, tokens, counter, from_cache

    def __repr__(self) -> str:
        return f"TokenizedFolder({self.path}, {len(self.files)} files, cached={self.from_cache})"


def _stamp(files: list[Path], root: Path) -> list[list[Any]]:
    return [[str(f.relative_to(root)), f.stat().st_size, f.stat().st_mtime_ns] for f in files]


def tokenize_folder(path: str | os.PathLike[str], extensions: Iterable[str] = (".txt",),
                    folders: Iterable[str] | None = None, output_dir: str | os.PathLike[str] | None = None,
                    tok: Any = None, rules: list[Callable[[str], str]] | None = None, n_workers: int | None = None,
                    encoding: str = "utf-8", progress: bool = True) -> TokenizedFolder:
    """Tokenize every text file under ``path`` into ``output_dir`` (default ``<path>_tok``), cached.

    The output holds one file of space-separated tokens per input, ``counter.json`` and ``stamp.json``
    (file sizes and times, rules and tokenizer); when the stamp matches, nothing is re-tokenized. The
    output folder is written to a temporary sibling and renamed into place, so a failure (a file that is
    not valid UTF-8 is named in the error) leaves no half-written cache.
    """
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"tokenize_folder: {root} is not a folder")
    out = Path(output_dir) if output_dir is not None else root.parent / f"{root.name}_tok"
    exts = {e.lower() for e in extensions}
    subs = [root / f for f in folders] if folders is not None else [root]
    files = sorted(f for s in subs for f in s.rglob("*") if f.is_file() and f.suffix.lower() in exts)
    if not files:
        raise ValueError(f"tokenize_folder: no {sorted(exts)} files under {', '.join(map(str, subs))}")
    tok = tok if tok is not None else WordTokenizer()
    rules = list(DEFAULT_RULES if rules is None else rules)
    stamp = {"files": _stamp(files, root), **_tok_config(tok, rules)}
    key = hashlib.sha256(json.dumps(stamp, sort_keys=True).encode()).hexdigest()
    rel = [str(f.relative_to(root)) for f in files]
    if (out / "stamp.json").exists():
        try:
            old = json.loads((out / "stamp.json").read_text())
        except (OSError, ValueError):
            old = {}
        if old.get("key") == key:
            tokens = [(out / r).read_text(encoding="utf-8").split(" ") for r in rel]
            counter = Counter(json.loads((out / "counter.json").read_text(encoding="utf-8")))
            return TokenizedFolder(out, rel, tokens, counter, from_cache=True)
    texts = [read_text_file(f, encoding) for f in files]
    tokens = tokenize_texts(texts, tok=tok, rules=rules, n_workers=n_workers, progress=progress)
    counter = Counter(t for doc in tokens for t in doc)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}."))
    try:
        for r, doc in zip(rel, tokens):
            (tmp / r).parent.mkdir(parents=True, exist_ok=True)
            (tmp / r).write_text(" ".join(doc), encoding="utf-8")
        (tmp / "counter.json").write_text(json.dumps(dict(counter)), encoding="utf-8")
        (tmp / "stamp.json").write_text(json.dumps({"key": key, **stamp}), encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return TokenizedFolder(out, rel, tokens, counter, from_cache=False)


class Tokenizer(Transform):
    """Raw text (``str``) or a text file (``Path``) -> list of tokens; decodes tokens back to text.

    Token lists pass through unchanged, so datasets built from an already tokenized corpus (what
    ``TextDataLoaders`` does, in parallel and once) and raw strings at inference (``predict``, ``test_dl``)
    use the same pipeline. ``Tokenizer.from_df`` / ``from_folder`` / ``from_texts`` tokenize a corpus.
    """

    order = 0

    def __init__(self, tok: Any = None, rules: list[Callable[[str], str]] | None = None, sep: str = " ",
                 encoding: str = "utf-8") -> None:
        super().__init__()
        if isinstance(tok, Tokenizer):
            raise TypeError("tok= takes a base tokenizer such as WordTokenizer() or SubwordTokenizer(...), not a "
                            "Tokenizer (it would tokenize the special tokens again); pass tok=WordTokenizer() "
                            "or the Tokenizer's own .tok")
        self.tok = tok if tok is not None else WordTokenizer()
        self.rules = list(DEFAULT_RULES if rules is None else rules)
        self.sep, self.encoding = sep, encoding
        self.counter: Counter | None = None

    def encodes(self, o: str) -> list:
        return self.tok([apply_rules(o, self.rules)])[0]

    def encodes(self, o: Path) -> list:  # noqa: F811 -- another type of the same transform
        return self.tok([apply_rules(read_text_file(o, self.encoding), self.rules)])[0]

    def decodes(self, o: list) -> TitledStr:
        return TitledStr(self.sep.join(o))

    def corpus(self, texts: Sequence[str], n_workers: int | None = None, progress: bool = True) -> list[list[str]]:
        """Tokenize many texts at once (parallel); updates ``counter``."""
        toks = tokenize_texts(texts, tok=self.tok, rules=self.rules, n_workers=n_workers, progress=progress)
        self.counter = Counter(t for d in toks for t in d)
        return toks

    @classmethod
    def from_texts(cls, texts: Sequence[str], tok: Any = None, rules: list | None = None,
                   n_workers: int | None = None) -> tuple[Tokenizer, list[list[str]]]:
        """A tokenizer and the tokenized ``texts``."""
        self = cls(tok, rules)
        return self, self.corpus(texts, n_workers=n_workers)

    @classmethod
    def from_df(cls, df: Any, text_cols: str | list[str] = "text", tok: Any = None, rules: list | None = None,
                mark_fields: bool | None = None, n_workers: int | None = None) -> tuple[Tokenizer, list[list[str]]]:
        """A tokenizer and the tokenized texts of ``df[text_cols]`` (several columns are joined with
        ``xxfld i`` markers, as in fastai)."""
        texts = _df_texts(df, text_cols, mark_fields)
        return cls.from_texts(texts, tok, rules, n_workers)

    @classmethod
    def from_folder(cls, path: str | os.PathLike[str], tok: Any = None, rules: list | None = None,
                    **kwargs: Any) -> tuple[Tokenizer, TokenizedFolder]:
        """A tokenizer and the cached tokenization of the folder (see ``tokenize_folder``)."""
        self = cls(tok, rules)
        res = tokenize_folder(path, tok=self.tok, rules=self.rules, **kwargs)
        self.counter = res.counter
        return self, res

    def get_config(self) -> dict:
        return {"sep": self.sep, "encoding": self.encoding}


def _df_texts(df: Any, text_cols: str | list[str], mark_fields: bool | None) -> list[str]:
    cols = [text_cols] if isinstance(text_cols, str) else list(text_cols)
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeyError(f"text column(s) {missing} not in the DataFrame (columns: {list(df.columns)})")
    if len(cols) == 1:
        return list(df[cols[0]])
    mark = True if mark_fields is None else mark_fields
    rows = zip(*(df[c].tolist() for c in cols))
    return [" ".join((f"xxfld {i + 1} " if mark else "") + str(v) for i, v in enumerate(r)) for r in rows]
