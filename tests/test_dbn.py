"""DBN: greedy layer-wise pretraining, exact weight transfer to a Sequential,
fine-tuning with few labels, save/load."""

import numpy as np
import pytest
from tutorial_helpers import assert_expected, assert_plots

import chainrule as cr
from chainrule.io import ModelFormatError
from chainrule.layers import Dense
from chainrule.models import Sequential
from chainrule.tutorials import dbn as dbn_walkthrough
from chainrule.unsupervised import DBN, RBM


def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.data / 16).astype(np.float32), d.target


def test_pretrain_trains_each_rbm_on_the_hidden_probabilities_below():
    X, _ = digits()
    X = X[:200]
    cr.manual_seed(5)
    dbn = DBN([64, 16, 8]).pretrain(X, epochs_per_layer=2, batch_size=10, lr=0.1)
    cr.manual_seed(5)
    first, second = RBM(64, 16), RBM(16, 8)  # the same draws as DBN's constructor
    first.fit(X, epochs=2, batch_size=10, lr=0.1)
    second.fit(first.transform(X), epochs=2, batch_size=10, lr=0.1)
    for got, want in zip(dbn.rbms, (first, second)):
        np.testing.assert_array_equal(got.W, want.W)
        np.testing.assert_array_equal(got.hidden_bias, want.hidden_bias)
    np.testing.assert_allclose(dbn.transform(X), second.transform(first.transform(X)))


def test_to_model_copies_the_rbm_weights_exactly():
    X, _ = digits()
    cr.manual_seed(0)
    dbn = DBN([64, 32, 16]).pretrain(X[:300], epochs_per_layer=1)
    model = dbn.to_model(10)
    assert isinstance(model, Sequential) and len(model.layers) == 3
    for layer, rbm in zip(model.layers, dbn.rbms):
        assert isinstance(layer, Dense) and layer.activation_name == "sigmoid"
        np.testing.assert_array_equal(layer.kernel.numpy(), rbm.W)
        np.testing.assert_array_equal(layer.bias.numpy(), rbm.hidden_bias)
        assert not np.shares_memory(layer.kernel.data, rbm.W)  # fine-tuning leaves the RBM
    head = model.layers[-1]
    assert head.units == 10 and head.activation_name == "softmax"
    np.testing.assert_allclose(model.predict(X[:5]).sum(axis=1), 1, rtol=1e-5)
    # the hidden layers compute exactly the DBN's feature map
    features = Sequential(model.layers[:2]).predict(X[:50])
    np.testing.assert_allclose(features, dbn.transform(X[:50]), rtol=1e-5, atol=1e-6)


def test_to_model_fine_tunes_with_fit():
    X, y = digits()
    cr.manual_seed(0)
    dbn = DBN([64, 32]).pretrain(X[:500], epochs_per_layer=5, lr=0.1)
    model = dbn.to_model(10, activation="sigmoid")
    model.compile(optimizer=cr.optim.Adam(lr=3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(X[:500], y[:500], epochs=10, batch_size=32, verbose=0)
    # The loss roughly halves: last/first measured 0.47-0.52 over seeds 0-4, whether the
    # softmax head draws its weights when added (Sequential builds every layer once the
    # input shape is known) or at the first batch (before); accuracy 0.83-0.91.
    assert history.history["loss"][-1] < 0.6 * history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8
    assert not np.array_equal(model.layers[0].kernel.numpy(), dbn.rbms[0].W)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="layer_sizes"):
        DBN([784])
    with pytest.raises(ValueError, match="epochs_per_layer"):
        DBN([4, 3, 2]).pretrain(np.zeros((5, 4)), epochs_per_layer=[1, 2, 3])


def test_save_load_round_trip(tmp_path):
    cr.manual_seed(0)
    dbn = DBN([6, 4, 3])
    dbn.save(tmp_path / "dbn.zip")
    loaded = DBN.load(tmp_path / "dbn.zip")
    assert loaded.layer_sizes == [6, 4, 3]
    for a, b in zip(dbn.rbms, loaded.rbms):
        np.testing.assert_array_equal(a.W, b.W)
    RBM(6, 4).save(tmp_path / "rbm.zip")
    with pytest.raises(ModelFormatError, match="expected a saved DBN"):
        DBN.load(tmp_path / "rbm.zip")


def test_walkthrough_quick_pretraining_helps(tmp_path):
    result = dbn_walkthrough.main(out_dir=tmp_path, quick=True)
    assert_expected(dbn_walkthrough, result, quick=True)
    assert_plots(result, 1)


@pytest.mark.slow
def test_walkthrough_on_mnist():
    """8,000 images pretrain, 1,000 labels fine-tune."""
    assert_expected(dbn_walkthrough, dbn_walkthrough.main())
