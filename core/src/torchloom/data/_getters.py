"""Item getters and labellers: files from folders, labels from paths, regexes or DataFrame columns."""
from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from torchloom._transform import ItemTransform

__all__ = ["exportable", "Getter", "get_files", "get_image_files", "get_text_files", "parent_label", "RegexLabeller", "ColReader",
           "ItemGetter", "AttrGetter", "image_extensions"]

image_extensions = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pbm"}


def _norm_exts(extensions: Iterable[str] | str | None) -> set[str] | None:
    if extensions is None:
        return None
    if isinstance(extensions, str):
        extensions = [extensions]
    return {e.lower() if e.startswith(".") else "." + e.lower() for e in extensions}


def get_files(path: str | os.PathLike, extensions: Iterable[str] | str | None = None, recurse: bool = True,
              folders: Iterable[str] | str | None = None, followlinks: bool = True) -> list[Path]:
    """Files under ``path`` (sorted), optionally only with ``extensions`` and only in top-level ``folders``.

    Hidden files and folders (starting with ``.``) are skipped.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"get_files: {path} does not exist")
    if not path.is_dir():
        raise NotADirectoryError(f"get_files: {path} is not a folder")
    exts = _norm_exts(extensions)
    folders = [folders] if isinstance(folders, str) else list(folders or [])
    res: list[Path] = []
    if recurse:
        for i, (p, dirs, files) in enumerate(os.walk(path, followlinks=followlinks)):
            if i == 0 and folders:
                dirs[:] = [d for d in dirs if d in folders]
            else:
                dirs[:] = [d for d in dirs if not d.startswith(".")]
            res += [Path(p) / f for f in files if not f.startswith(".") and (exts is None or
                                                                             Path(f).suffix.lower() in exts)]
    else:
        res = [f for f in path.iterdir() if f.is_file() and not f.name.startswith(".")
               and (exts is None or f.suffix.lower() in exts)]
    return sorted(res)


def get_image_files(path: str | os.PathLike, recurse: bool = True, folders: Iterable[str] | str | None = None
                    ) -> list[Path]:
    """Image files under ``path`` (by extension)."""
    return get_files(path, extensions=image_extensions, recurse=recurse, folders=folders)


def get_text_files(path: str | os.PathLike, recurse: bool = True, folders: Iterable[str] | str | None = None
                   ) -> list[Path]:
    """``.txt`` files under ``path``."""
    return get_files(path, extensions=[".txt"], recurse=recurse, folders=folders)


def exportable(f: Any) -> Any:
    """Mark a module-level getter function as safe to rebuild by name from an exported learner's spec."""
    f.__torchloom_exportable__ = True
    return f


def _resolve_exportable(target: str) -> Any:
    from torchloom._targets import GETTER, import_target

    return import_target(target, GETTER, field="getter func")


class Getter(ItemTransform):
    """Runs a getter function on the whole item (a tuple or DataFrame row is not split up).

    Exportable when the function is module-level and marked ``@exportable`` (``parent_label`` is).
    """

    def __init__(self, func: Any) -> None:
        super().__init__()
        self.func = _resolve_exportable(func) if isinstance(func, str) else func
        if not callable(self.func):
            raise TypeError(f"a getter must be callable, got {func!r}")
        self.name = getattr(self.func, "__name__", type(self.func).__name__)

    def __call__(self, o: Any, split_idx: int | None = None, **kwargs: Any) -> Any:
        return self.func(o)  # the getter's result is kept as is (a list of labels stays a list)

    def encodes(self, o: Any) -> Any:
        return self.func(o)

    def get_config(self) -> dict:
        f = self.func
        qual = getattr(f, "__qualname__", "")
        if not getattr(f, "__torchloom_exportable__", False) or "<" in qual:
            raise TypeError(f"getter {self.name!r} cannot be exported: use a module-level function marked "
                            "@torchloom.data._getters.exportable, or ColReader/RegexLabeller/ItemGetter")
        return {"func": f"{f.__module__}:{qual}"}


@exportable
def parent_label(o: str | os.PathLike) -> str:
    """The name of the folder holding ``o`` (``train/cat/1.jpg`` -> ``cat``)."""
    return Path(o).parent.name


class RegexLabeller(ItemTransform):
    """The first group of ``pat`` matched against the item (its file name when ``match`` is false on a path)."""

    def __init__(self, pat: str, match: bool = False) -> None:
        super().__init__()
        self.pat_str, self.match = pat, match
        self.pat = re.compile(pat)
        self.matcher = self.pat.match if match else self.pat.search

    def encodes(self, o: Any) -> str:
        s = str(o.as_posix() if isinstance(o, Path) else o)
        res = self.matcher(s)
        if res is None:
            raise ValueError(f"RegexLabeller: pattern {self.pat_str!r} does not match {s!r}")
        return res.group(1) if res.groups() else res.group(0)

    def get_config(self) -> dict:
        return {"pat": self.pat_str, "match": self.match}

    def __repr__(self) -> str:
        return f"RegexLabeller({self.pat_str!r})"


class ColReader(ItemTransform):
    """Read column(s) ``cols`` of a DataFrame row (duck-typed: anything indexable by column name).

    ``pref``/``suff`` are added to string values (e.g. a folder and an extension); ``label_delim`` splits a
    string into a list of labels.
    """

    def __init__(self, cols: str | int | list, pref: str | os.PathLike = "", suff: str = "",
                 label_delim: str | None = None) -> None:
        super().__init__()
        self.cols = list(cols) if isinstance(cols, (list, tuple)) else [cols]
        self.pref = str(pref) + os.path.sep if isinstance(pref, Path) else pref
        self.suff, self.label_delim = suff, label_delim

    def _do_one(self, r: Any, c: str | int) -> Any:
        try:
            o = r[c] if not isinstance(c, int) or not hasattr(r, "iloc") else r.iloc[c]
        except (KeyError, IndexError):
            cols = list(getattr(r, "index", getattr(r, "keys", lambda: [])()))
            raise KeyError(f"ColReader: column {c!r} not found in the row; columns are {cols}") from None
        if len(self.pref) == 0 and len(self.suff) == 0 and self.label_delim is None:
            return o
        if self.label_delim is None:
            return f"{self.pref}{o}{self.suff}"
        return o.split(self.label_delim) if len(o) > 0 else []

    def encodes(self, o: Any) -> Any:
        if len(self.cols) == 1:
            return self._do_one(o, self.cols[0])
        return [self._do_one(o, c) for c in self.cols]

    def get_config(self) -> dict:
        return {"cols": self.cols, "pref": self.pref, "suff": self.suff, "label_delim": self.label_delim}

    def __repr__(self) -> str:
        return f"ColReader({self.cols!r})"


class ItemGetter(ItemTransform):
    """``o[i]``: pick one element of each item."""

    def __init__(self, i: Any) -> None:
        super().__init__()
        self.i = i

    def encodes(self, o: Any) -> Any:
        return o[self.i]

    def get_config(self) -> dict:
        return {"i": self.i}


class AttrGetter(ItemTransform):
    """``getattr(o, nm)`` (``default`` when missing)."""

    _missing: Any = object()

    def __init__(self, nm: str, default: Any = _missing) -> None:
        super().__init__()
        self.nm, self.default = nm, default

    def encodes(self, o: Any) -> Any:
        if self.default is AttrGetter._missing:
            return getattr(o, self.nm)
        return getattr(o, self.nm, self.default)

    def get_config(self) -> dict:
        if self.default is AttrGetter._missing:
            return {"nm": self.nm}
        return {"nm": self.nm, "default": self.default}

