"""Run the code blocks of a Markdown file (a README) as a test, so a documented example cannot break
unnoticed.

* ``code_blocks(path)`` -- the fenced blocks of one language, with their line numbers.
* ``run_markdown(path, namespace=...)`` -- execute every Python block in order in one namespace
  (later blocks may use names from earlier ones), inside a scratch working directory; an error
  names the file and the line of the failing block. A plugin's whole README test is::

      from torchloom.testing import run_markdown

      def test_readme_examples_run(tmp_path):
          run_markdown(README, cwd=tmp_path)

A block that cannot run in a test (it needs a package built in an earlier shell step, say) is
marked on the line before its fence with ``<!-- torchloom: no-run because ... -->``; the reason is
required and the block is reported as skipped, not silently ignored.
"""
from __future__ import annotations

import contextlib
import os
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["CodeBlock", "MarkdownExampleError", "code_blocks", "run_markdown"]

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")
_NO_RUN = re.compile(r"<!--\s*torchloom:\s*no-run\b(?P<reason>.*?)-->")


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block: its language (first word of the info string), code, first code line (1-based)
    and, when marked ``no-run``, the reason it is not executed."""

    source: str
    line: int
    lang: str
    code: str
    skip: str | None = None


class MarkdownExampleError(AssertionError):
    """A Markdown code block raised; the message names the file and the block's line."""


def _read(source: str | os.PathLike) -> tuple[str, str]:
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source
                                           and source.endswith((".md", ".markdown"))):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"run_markdown: no Markdown file at {path}")
        return str(path), path.read_text(encoding="utf-8")
    return "<markdown>", str(source)


def code_blocks(source: str | os.PathLike, lang: str | None = "python") -> list[CodeBlock]:
    """The fenced code blocks of ``source`` (a path, or Markdown text) in ``lang`` (None: every block)."""
    name, text = _read(source)
    lines = text.splitlines()
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent = m.group("fence"), m.group("indent")
        block_lang = (m.group("info").split() or [""])[0].lower()
        prev = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        marker = _NO_RUN.search(prev)
        skip = None
        if marker:
            skip = marker.group("reason").strip()
            if not skip:
                raise ValueError(f"{name}:{i}: a 'torchloom: no-run' marker must say why the block cannot run")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence))
                                      and set(lines[j].strip()) == {fence[0]}):
            body.append(lines[j][len(indent):] if lines[j].startswith(indent) else lines[j].lstrip())
            j += 1
        if j == len(lines):
            raise ValueError(f"{name}:{i + 1}: code fence {fence!r} is never closed")
        if lang is None or block_lang == lang:
            blocks.append(CodeBlock(name, i + 2, block_lang, textwrap.dedent("\n".join(body)) + "\n", skip))
        i = j + 1
    return blocks


def run_markdown(source: str | os.PathLike, namespace: dict[str, Any] | None = None,
                 cwd: str | os.PathLike | None = None, lang: str = "python") -> dict[str, Any]:
    """Execute the ``lang`` blocks of ``source`` in order in one namespace; returns the namespace.

    ``namespace`` pre-defines names the text leaves to the reader (``dls``, ``model``); ``cwd`` is
    where files the examples write go (default: the current directory). Raises
    ``MarkdownExampleError`` naming the file and line of the first block that fails, and
    ``ValueError`` when there is no runnable block at all (a test that runs nothing must not pass).
    """
    blocks = code_blocks(source, lang)
    runnable = [b for b in blocks if b.skip is None]
    if not runnable:
        name = blocks[0].source if blocks else _read(source)[0]
        raise ValueError(f"run_markdown: {name} has no runnable {lang!r} code block")
    ns: dict[str, Any] = {"__name__": "__markdown__"}
    ns.update(namespace or {})
    with contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext():
        for b in runnable:
            try:
                exec(compile(b.code, f"{b.source}:{b.line}", "exec"), ns)
            except Exception as e:
                raise MarkdownExampleError(f"the {lang} block at {b.source}, line {b.line} failed: "
                                           f"{type(e).__name__}: {e}\n{textwrap.indent(b.code, '    ')}") from e
    return ns
