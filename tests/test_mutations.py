"""The mutation checks of ``tools/mutation_check.py`` (issue 16): with torch unimportable,
each deliberate bug fails at least one test, and the unmutated tree passes them all.

Running the mutations takes about half a minute, so those tests are marked slow; that
every mutation still applies to the current code is checked on every run.
"""

import importlib.util
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("mutation_check",
                                               ROOT / "tools" / "mutation_check.py")
harness = sys.modules["mutation_check"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(harness)

def test_every_mutation_still_applies_to_the_code(tmp_path):
    for mutation in harness.MUTATIONS:
        target = tmp_path / mutation.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((ROOT / mutation.path).read_text())
        harness.apply(mutation, tmp_path)
        assert mutation.new in target.read_text()
        for test in mutation.tests:
            assert (ROOT / test).is_file(), f"{mutation.name}: {test} does not exist"


def test_a_mutation_whose_old_text_is_gone_is_an_error(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    stale = harness.Mutation("stale", "a.py", "x = 2", "x = 3", ("tests/test_ops.py",))
    with pytest.raises(harness.MutationNotApplied, match="'stale'.*re-target"):
        harness.apply(stale, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("mutation", harness.MUTATIONS, ids=lambda m: m.name)
def test_mutation_fails_a_test_without_torch(mutation):
    outcome = harness.check(mutation, mutation.tests)
    assert outcome.caught, f"{mutation.name}: every test in {mutation.tests} still passes"


@pytest.mark.slow
def test_unmutated_tree_passes_the_same_tests_without_torch():
    files = tuple(sorted({t for m in harness.MUTATIONS for t in m.tests}))
    outcome = harness.check(None, files)
    assert not outcome.caught, f"fails without any mutation: {outcome.first_failure}"
