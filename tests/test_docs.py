"""Every ```python block in the guides under docs/ runs as written, and the guides
quote the walkthroughs' expected numbers as their EXPECTED tables hold them.

A block whose first line is ``# not run`` is skipped (long training runs that the
walkthroughs' own tests cover); one whose first line is ``# needs: onnx, onnxruntime``
is skipped when one of those optional packages is not installed.
"""

import importlib.util
import pathlib
import re

import pytest

from chainrule import tutorials
from chainrule.tutorials.expected import expected_for

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)
NEEDS = re.compile(r"# needs: (.*)")


def _blocks():
    for page in sorted(DOCS.rglob("*.md")):
        for i, code in enumerate(BLOCK.findall(page.read_text())):
            if not code.lstrip().startswith("# not run"):
                yield pytest.param(code, id=f"{page.relative_to(DOCS)}#{i}")


@pytest.mark.parametrize("code", list(_blocks()))
def test_doc_snippet_runs(code, tmp_path, monkeypatch):
    needs = NEEDS.match(code.lstrip())
    missing = [m.strip() for m in needs[1].split(",")
               if importlib.util.find_spec(m.strip()) is None] if needs else []
    if missing:
        pytest.skip(f"needs {missing}, which are not installed")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "<doc>", "exec"), {"__name__": "__doc_snippet__"})


@pytest.mark.parametrize("walkthrough", tutorials.WALKTHROUGHS, ids=tutorials.NAMES)
def test_each_guide_quotes_its_walkthroughs_expected_numbers(walkthrough):
    module = tutorials.load(walkthrough.name)
    table = [*expected_for(module, False), *expected_for(module, True)]
    for extra in ("SEED_EXPECTED", "SEED_BAR", "BAR"):  # over seeds; bars not (yet) met
        table += getattr(module, extra, ())
    page = (DOCS / walkthrough.guide).read_text()
    missing = [f"{e.key}: {e.quote!r}" for e in table if e.quote and e.quote not in page]
    assert not missing, f"{walkthrough.guide} does not quote {missing}"


def test_the_tutorials_index_lists_every_walkthrough():
    index = (DOCS / "tutorials" / "README.md").read_text()
    for w in tutorials.WALKTHROUGHS:
        assert f"| `{w.name}` |" in index, w.name
        assert (DOCS / w.guide).is_file(), w.guide
