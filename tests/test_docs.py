"""Every ```python block in the guides under docs/ runs as written.

A block whose first line is ``# not run`` is skipped (long training runs that the
examples' own tests cover).
"""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


def _blocks():
    for page in sorted(DOCS.rglob("*.md")):
        for i, code in enumerate(BLOCK.findall(page.read_text())):
            if not code.lstrip().startswith("# not run"):
                yield pytest.param(code, id=f"{page.relative_to(DOCS)}#{i}")


@pytest.mark.parametrize("code", list(_blocks()))
def test_doc_snippet_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<doc>", "exec"), {"__name__": "__doc_snippet__"})
