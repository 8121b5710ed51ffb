"""chainrule.tutorials.churn_functional: the churn classifier as a two-input Functional
model (standardised numeric columns + an Embedding of Geography), against the one-hot
Sequential of the churn walkthrough over its seeds."""

import csv
import io

import numpy as np
import pytest
from tutorial_helpers import assert_expected, assert_plots

import chainrule as cr
from chainrule.data.datasets import read_bundled
from chainrule.layers import Concatenate, Embedding
from chainrule.tutorials import churn, churn_functional
from chainrule.tutorials.expected import mismatches

pytest.importorskip("sklearn")


def test_geography_ids_follow_the_csv():
    X, _, _ = cr.datasets.load_churn()
    rows = csv.DictReader(io.StringIO(read_bundled("Churn_Modelling.csv").decode("utf-8")))
    countries = [r["Geography"] for r in rows]
    ids = churn_functional.geography_ids(X)
    assert ids.shape == (len(countries), 1) and ids.dtype == np.int64
    assert [churn_functional.GEOGRAPHIES[i] for i in ids[:, 0]] == countries


def test_two_inputs_merged_by_concatenate():
    cr.manual_seed(0)
    model = churn_functional.two_input_model()
    assert model.input_names == ["numeric", "geography"]
    assert isinstance(model.get_layer("country_embedding"), Embedding)
    assert isinstance(model.get_layer("features"), Concatenate)
    assert model.get_layer("features").output.shape == (None, 11)  # 9 numeric + 2
    # the one-hot Sequential's 121 weights, less its 12 for the two dummies, plus a
    # 3 x 2 embedding and a first layer that reads 2 country numbers: 127
    assert model.count_params() == 127
    lines = []
    model.summary(print_fn=lines.append)
    assert any("country_vector[0][0]" in line for line in lines)


def test_one_epoch_reports_every_number(tmp_path):
    result = churn_functional.main(out_dir=tmp_path, seed=0, epochs=1)
    cm = result["confusion_matrix"]
    assert cm.shape == (2, 2) and cm.sum() == 2000  # churn's 20% test split
    assert result["accuracy"] == pytest.approx(np.trace(cm) / 2000)
    assert np.shape(result["country_vectors"]) == (3, 2)
    assert_plots(result, 2)


def test_quick_run():
    assert_expected(churn_functional, churn_functional.main(quick=True), quick=True)


@pytest.mark.slow
def test_fifty_epochs_seed_0():
    assert_expected(churn_functional, churn_functional.main(seed=0))


@pytest.fixture(scope="module")
def over_seeds():
    """Both models, the full recipe, on churn's seeds 0-6 (about 4 minutes of CPU)."""
    return churn_functional.compare_over_seeds(churn.SEEDS)


@pytest.mark.slow
def test_over_seeds_0_to_6_as_measured(over_seeds):
    assert [r["seed"] for r in over_seeds["rows"]] == list(churn.SEEDS)
    assert not mismatches(churn_functional.SEED_EXPECTED, over_seeds), over_seeds


@pytest.mark.slow
def test_over_seeds_0_to_6_at_least_as_accurate_as_the_sequential(over_seeds):
    assert not mismatches(churn_functional.SEED_BAR, over_seeds), over_seeds
