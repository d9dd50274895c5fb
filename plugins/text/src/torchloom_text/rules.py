"""fastai's text rules and special tokens, as compiled regular expressions.

The rules run on the raw text before it is split into tokens, in the order of ``DEFAULT_RULES``; each
keeps fastai's behaviour (same regexes, same special tokens) so vocabularies and models trained with
either library see the same token stream.
"""
from __future__ import annotations

import html
import re
from collections.abc import Callable

__all__ = ["UNK", "PAD", "BOS", "EOS", "FLD", "TK_REP", "TK_WREP", "TK_UP", "TK_MAJ", "SPECIAL_TOKENS",
           "fix_html", "replace_rep", "replace_wrep", "spec_add_spaces", "rm_useless_spaces", "replace_all_caps",
           "replace_maj", "replace_case", "lowercase", "DEFAULT_RULES", "apply_rules", "decode_spec_tokens"]

UNK, PAD, BOS, EOS, FLD, TK_REP, TK_WREP, TK_UP, TK_MAJ = \
    "xxunk xxpad xxbos xxeos xxfld xxrep xxwrep xxup xxmaj".split()
SPECIAL_TOKENS = [UNK, PAD, BOS, EOS, FLD, TK_REP, TK_WREP, TK_UP, TK_MAJ]

_HTML = [("#39;", "'"), ("amp;", "&"), ("#146;", "'"), ("nbsp;", " "), ("#36;", "$"), ("\\n", "\n"),
         ("quot;", "'"), ("<br />", "\n"), ('\\"', '"'), ("<unk>", UNK), (" @.@ ", "."), (" @-@ ", "-"),
         ("...", " …")]


def fix_html(t: str) -> str:
    """Undo the HTML escapes and markup of scraped text (``<br />``, ``&amp;``, ``#39;``...)."""
    for a, b in _HTML:
        if a in t:
            t = t.replace(a, b)
    return html.unescape(t) if "&" in t else t


_re_rep = re.compile(r"(\S)(\1{2,})")


def _rep(m: re.Match) -> str:
    c, cc = m.groups()
    return f" {TK_REP} {len(cc) + 1} {c} "


def replace_rep(t: str) -> str:
    """``cccc`` -> ``xxrep 4 c``: a character repeated 3+ times becomes one token and a count."""
    return _re_rep.sub(_rep, t)


_re_wrep = re.compile(r"(?:\s|^)(\w+)\s+((?:\1\s+)+)\1(\s|\W|$)")


def _wrep(m: re.Match) -> str:
    c, cc, e = m.groups()
    return f" {TK_WREP} {len(cc.split()) + 2} {c} {e}"


def replace_wrep(t: str) -> str:
    """``word word word`` -> ``xxwrep 3 word``: a word repeated 3+ times."""
    return _re_wrep.sub(_wrep, t)


_re_spec = re.compile(r"([/#\\])")


def spec_add_spaces(t: str) -> str:
    """Put spaces around ``/``, ``#`` and ``\\`` so they become tokens of their own."""
    return _re_spec.sub(r" \1 ", t)


_re_space = re.compile(" {2,}")


def rm_useless_spaces(t: str) -> str:
    """Collapse runs of spaces."""
    return _re_space.sub(" ", t)


_re_all_caps = re.compile(r"(\s|^)([A-Z]+[^a-z\s]*)(?=(\s|$))")
_re_maj = re.compile(r"(\s|^)([A-Z][^A-Z\s]*)(?=(\s|$))")


def _all_caps(m: re.Match) -> str:
    tok = f"{TK_UP} " if len(m.group(2)) > 1 else ""
    return f"{m.group(1)}{tok}{m.group(2).lower()}"


def _maj(m: re.Match) -> str:
    tok = f"{TK_MAJ} " if len(m.group(2)) > 1 else ""
    return f"{m.group(1)}{tok}{m.group(2).lower()}"


def replace_all_caps(t: str) -> str:
    """``HELLO`` -> ``xxup hello`` (a single capital letter is only lowercased)."""
    return _re_all_caps.sub(_all_caps, t)


def replace_maj(t: str) -> str:
    """``Hello`` -> ``xxmaj hello``: capitalised words keep the information once lowercased."""
    return _re_maj.sub(_maj, t)


# both case rules in one pass: a whitespace-delimited chunk that starts with a capital
_re_case = re.compile(r"(\s|^)([A-Z]\S*)(?=\s|$)")
_re_caps_full = re.compile(r"[A-Z]+[^a-z\s]*")
_re_maj_full = re.compile(r"[A-Z][^A-Z\s]*")


def _case(m: re.Match) -> str:
    w = m.group(2)
    if _re_caps_full.fullmatch(w):
        return f"{m.group(1)}{TK_UP} {w.lower()}" if len(w) > 1 else m.group(1) + w.lower()
    if _re_maj_full.fullmatch(w):
        return f"{m.group(1)}{TK_MAJ} {w.lower()}"
    return m.group(0)


def replace_case(t: str) -> str:
    """``replace_all_caps`` then ``replace_maj`` in one regex pass (same result, half the work)."""
    return _re_case.sub(_case, t)


def lowercase(t: str, add_bos: bool = True, add_eos: bool = False) -> str:
    """Lowercase and strip, starting the text with ``xxbos`` (and ending with ``xxeos`` if asked)."""
    return (f"{BOS} " if add_bos else "") + t.lower().strip() + (f" {EOS}" if add_eos else "")


DEFAULT_RULES: list[Callable[[str], str]] = [fix_html, replace_rep, replace_wrep, spec_add_spaces,
                                             rm_useless_spaces, replace_case, lowercase]


def apply_rules(t: str, rules: list[Callable[[str], str]]) -> str:
    for r in rules:
        t = r(t)
    return t


def decode_spec_tokens(tokens: list[str], join: bool = True) -> str | list[str]:
    """Undo the case and repetition rules (``xxmaj hello`` -> ``Hello``, ``xxrep 3 !`` -> ``!!!``); drops
    ``xxbos``/``xxeos``. Returns the words joined by spaces (``join=False``: the list)."""
    out: list[str] = []
    rule: str | None = None
    arg: int | None = None
    for t in tokens:
        if t in (TK_MAJ, TK_UP, TK_REP, TK_WREP):
            rule, arg = t, None
        elif rule is None:
            if t not in (BOS, EOS, PAD):
                out.append(t)
        elif rule == TK_MAJ:
            out.append(t[:1].upper() + t[1:].lower())
            rule = None
        elif rule == TK_UP:
            out.append(t.upper())
            rule = None
        elif arg is None:
            try:
                arg = int(t)
            except ValueError:
                rule = None
                out.append(t)
        else:
            out.extend([t * arg] if rule == TK_REP else [t] * arg)
            rule, arg = None, None
    return " ".join(out) if join else out
