"""The README's reader example runs: its hook registers a reader and the class reads a CSV cell."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[3] / "README.md"


def test_readme_reader_example_registers_and_reads():
    text = README.read_text()
    section = text[text.index("### Readers for portable exports"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    ns: dict = {}
    exec(compile(code, "README-reader", "exec"), ns)
    calls = []
    ns["register_transforms"](lambda name, target, **manifest: calls.append((name, target, manifest)))
    assert calls[0][0] == "row_reader" and calls[0][2]["reader"] is True
    reader_cls = ns["RowReader"]

    class Dls:
        row_sep = ";"

    assert reader_cls.describe(object()) is None
    reader = reader_cls(reader_cls.describe(Dls()))
    np.testing.assert_array_equal(reader("1.5;-2"), np.array([1.5, -2.0], dtype=np.float32))
