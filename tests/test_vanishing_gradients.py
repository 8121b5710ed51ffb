"""The vanishing-gradient walkthrough: its EXPECTED bars (set before measuring) hold
for the walkthrough's run and, at initialisation, for seeds 0, 1 and 2."""

import pytest
from tutorial_helpers import assert_expected, assert_plots

from chainrule.tutorials import vanishing_gradients as vg
from chainrule.tutorials.expected import at_least, at_most, mismatches


@pytest.mark.slow
def test_vanishing_gradients_full_run(tmp_path):
    result = vg.main(out_dir=tmp_path, verbose=True)
    assert_expected(vg, result)
    assert_plots(result, 2)


def test_vanishing_gradients_quick_run(tmp_path):
    result = vg.main(out_dir=tmp_path, quick=True)
    assert_expected(vg, result, quick=True)
    assert len(result["sigmoid"]["norms_at_init"]) == vg.DEPTH


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_first_to_last_ratio_at_initialisation_for_each_seed(seed):
    ratios = vg.init_ratios(seed)
    bars = (at_most("sigmoid", 1e-3), *(at_least(c, 1e-2) for c in vg.HEALTHY),
            *(at_most(c, 1e2) for c in vg.HEALTHY))
    assert mismatches(bars, ratios) == [], ratios
