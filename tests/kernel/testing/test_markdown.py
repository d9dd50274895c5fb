"""``torchloom.testing.run_markdown``: README blocks run in order; failures name the file and line."""
from __future__ import annotations

import pytest

from torchloom.testing import MarkdownExampleError, code_blocks, run_markdown

DOC = """# Title

```python
x = 2
```

Some text.

```bash
echo not python
```

* a list item with an indented block:

  ```python
  y = x * 3
  ```

<!-- torchloom: no-run because it needs a GPU -->
```python
raise RuntimeError("never runs")
```

~~~python
open("out.txt", "w").write(str(y))
~~~
"""


def test_blocks_are_found_with_lines_languages_and_skips():
    blocks = code_blocks(DOC, lang=None)
    assert [b.lang for b in blocks] == ["python", "bash", "python", "python", "python"]
    py = code_blocks(DOC)
    assert [b.line for b in py] == [4, 16, 21, 25]
    assert py[1].code == "y = x * 3\n"  # list indentation removed
    assert py[2].skip == "because it needs a GPU" and py[0].skip is None


def test_blocks_share_one_namespace_and_run_in_cwd(tmp_path):
    ns = run_markdown(DOC, cwd=tmp_path)
    assert ns["y"] == 6 and (tmp_path / "out.txt").read_text() == "6"


def test_a_failing_block_names_file_and_line(tmp_path):
    md = tmp_path / "README.md"
    md.write_text("intro\n\n```python\nimport math\n```\n\n```python\nlearn = Learner(dls, model)\n```\n")
    with pytest.raises(MarkdownExampleError, match=r"README\.md, line 8 failed: NameError: name 'Learner'"):
        run_markdown(md)
    ns = run_markdown(md, namespace={"Learner": lambda d, m: (d, m), "dls": 1, "model": 2})
    assert ns["learn"] == (1, 2)


def test_nothing_to_run_is_an_error_not_a_pass(tmp_path):
    with pytest.raises(ValueError, match="no runnable 'python' code block"):
        run_markdown("```bash\nls\n```\n")
    with pytest.raises(ValueError, match="must say why"):
        code_blocks("<!-- torchloom: no-run -->\n```python\npass\n```\n")
    with pytest.raises(ValueError, match="never closed"):
        code_blocks("```python\npass\n")
    with pytest.raises(FileNotFoundError, match="missing.md"):
        run_markdown(tmp_path / "missing.md")
