"""RBM: free energy, the CD-1 / PCD-1 updates against direct NumPy formulas,
learning on real digits, pseudo-likelihood as scikit-learn defines it, save/load."""

import itertools

import numpy as np
import pytest
from tutorial_helpers import assert_expected, assert_plots

import chainrule as cr
from chainrule.io import ModelFormatError
from chainrule.tutorials import rbm as rbm_walkthrough
from chainrule.unsupervised import RBM
from chainrule.unsupervised.rbm import cd_k_reference


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def tiny_rbm(n_visible=5, n_hidden=3, seed=0):
    cr.set_default_dtype(np.float64)
    rng = np.random.default_rng(seed)
    rbm = RBM(n_visible, n_hidden)
    rbm.W = rng.normal(0, 0.5, (n_visible, n_hidden))
    rbm.visible_bias = rng.normal(0, 0.5, n_visible)
    rbm.hidden_bias = rng.normal(0, 0.5, n_hidden)
    v = (rng.random((4, n_visible)) < 0.5).astype(np.float64)
    return rbm, v


def binary_digits():
    from sklearn.datasets import load_digits

    return (load_digits().data / 16 > 0.5).astype(np.float32)


def test_free_energy_matches_formula_and_brute_force():
    rbm, v = tiny_rbm()
    W, b, c = rbm.W, rbm.visible_bias, rbm.hidden_bias
    formula = -v @ b - np.log1p(np.exp(v @ W + c)).sum(axis=1)
    # F(v) = -log sum_h exp(-E(v, h)), E(v, h) = -v W h - b v - c h, over all 2^3 h
    hs = np.array(list(itertools.product([0, 1], repeat=3)), dtype=np.float64)
    energies = -(v @ W @ hs.T) - (v @ b)[:, None] - (hs @ c)[None, :]
    brute = -np.log(np.exp(-energies).sum(axis=1))
    np.testing.assert_allclose(rbm.free_energy(v), formula, rtol=1e-12)
    np.testing.assert_allclose(rbm.free_energy(v), brute, rtol=1e-12)


def cd1_expected(rbm, v0, u_hidden, u_visible, lr):
    """One CD-1 update by the textbook formula, with the given uniform draws."""
    W, b, c = rbm.W.copy(), rbm.visible_bias.copy(), rbm.hidden_bias.copy()
    ph0 = sigmoid(v0 @ W + c)
    h0 = (u_hidden < ph0).astype(float)
    v1 = (u_visible < sigmoid(h0 @ W.T + b)).astype(float)
    ph1 = sigmoid(v1 @ W + c)
    n = len(v0)
    return (W + lr / n * (v0.T @ ph0 - v1.T @ ph1), b + lr / n * (v0 - v1).sum(0),
            c + lr / n * (ph0 - ph1).sum(0))


def test_cd1_update_matches_formula_with_fixed_draws():
    rbm, v = tiny_rbm()
    B = len(v)
    cr.manual_seed(7)
    draws = np.random.default_rng(7)  # the same stream fit draws from, in fit's order
    u_hidden = draws.random((1, 1, B, 3))[0, 0]
    u_visible = draws.random((1, 1, B, 5))[0, 0]
    expected = cd1_expected(rbm, v, u_hidden, u_visible, lr=0.3)
    rbm.fit(v, epochs=1, batch_size=B, lr=0.3, k=1, shuffle=False)
    for got, want in zip((rbm.W, rbm.visible_bias, rbm.hidden_bias), expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_persistent_cd_update_uses_and_advances_the_chains():
    rbm, v = tiny_rbm()
    B = len(v)
    W, b, c = rbm.W.copy(), rbm.visible_bias.copy(), rbm.hidden_bias.copy()
    cr.manual_seed(3)
    draws = np.random.default_rng(3)
    u_hidden = draws.random((1, 1, B, 3))[0, 0]
    u_visible = draws.random((1, 1, B, 5))[0, 0]
    rbm.fit(v, epochs=1, batch_size=B, lr=0.2, persistent=True, shuffle=False)
    chains = np.zeros((B, 3))  # PCD chains start at h = 0
    v1 = (u_visible < sigmoid(chains @ W.T + b)).astype(float)
    ph1 = sigmoid(v1 @ W + c)
    ph0 = sigmoid(v @ W + c)
    np.testing.assert_allclose(rbm.W, W + 0.2 / B * (v.T @ ph0 - v1.T @ ph1), rtol=1e-12)
    np.testing.assert_allclose(rbm.visible_bias, b + 0.2 / B * (v - v1).sum(0), rtol=1e-12)
    np.testing.assert_array_equal(rbm._chains, (u_hidden < ph1).astype(float))


def test_cd_k_runs_k_gibbs_steps():
    rbm1, v = tiny_rbm()
    rbm3, _ = tiny_rbm()
    cr.manual_seed(1)
    rbm1.fit(v, epochs=3, batch_size=2, lr=0.1, k=1)
    cr.manual_seed(1)
    rbm3.fit(v, epochs=3, batch_size=2, lr=0.1, k=3)
    assert np.all(np.isfinite(rbm3.W))
    assert not np.allclose(rbm1.W, rbm3.W)


@pytest.mark.parametrize("persistent", [False, True])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("n_visible,n_hidden,batch", [(5, 3, 4), (12, 7, 6), (2, 9, 1)])
def test_cd_k_update_equals_the_textbook_reference(n_visible, n_hidden, batch, k, persistent):
    rbm, _ = tiny_rbm(n_visible, n_hidden, seed=n_visible)
    rng = np.random.default_rng(batch)
    batches = (rng.random((3, batch, n_visible)) < 0.5).astype(np.float64)
    chains = (rng.random((batch, n_hidden)) < 0.5).astype(np.float64) if persistent else None
    rbm._chains = None if chains is None else chains.copy()
    W, bv, bh = rbm.W.copy(), rbm.visible_bias.copy(), rbm.hidden_bias.copy()
    cr.manual_seed(11)
    rbm._train_batches(batches, 0.3, k, persistent)
    draws = np.random.default_rng(11)  # the stream _train_batches draws from, in its order
    u_hidden = draws.random((3, k, batch, n_hidden))
    u_visible = draws.random((3, k, batch, n_visible))
    for i in range(3):
        W, bv, bh, chains = cd_k_reference(W, bv, bh, batches[i], 0.3, u_hidden[i],
                                           u_visible[i], chains)
    for got, want in zip((rbm.W, rbm.visible_bias, rbm.hidden_bias), (W, bv, bh)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    if persistent:
        np.testing.assert_array_equal(rbm._chains, chains)


def test_training_lowers_reconstruction_error_and_raises_pseudo_likelihood():
    X = binary_digits()
    train, test = X[:1400], X[1400:]
    cr.manual_seed(0)
    rbm = RBM(64, 32)
    before = float(np.mean((rbm.reconstruct(test) - test) ** 2))
    cr.manual_seed(1)
    pl_before = rbm.pseudo_likelihood(test).mean()
    rbm.fit(train, epochs=8, batch_size=10, lr=0.05)
    errors = rbm.history["reconstruction_error"]
    after = float(np.mean((rbm.reconstruct(test) - test) ** 2))
    cr.manual_seed(1)
    pl_after = rbm.pseudo_likelihood(test).mean()
    assert len(errors) == 8 and errors[-1] < errors[0]
    assert after < 0.5 * before, (before, after)
    assert pl_after > pl_before + 5, (pl_before, pl_after)
    assert rbm.W.dtype == np.float32


def test_pseudo_likelihood_is_sklearns_estimator():
    """Same flipped bits -> same values as scikit-learn's score_samples formula."""
    sk = pytest.importorskip("sklearn.neural_network")
    rbm, v = tiny_rbm(n_visible=6, n_hidden=4)
    model = sk.BernoulliRBM(n_components=4)
    model.components_ = rbm.W.T.copy()
    model.intercept_visible_ = rbm.visible_bias.copy()
    model.intercept_hidden_ = rbm.hidden_bias.copy()
    cr.manual_seed(11)
    got = rbm.pseudo_likelihood(v)
    cols = np.random.default_rng(11).integers(0, 6, len(v))
    flipped = v.copy()
    flipped[np.arange(len(v)), cols] = 1 - flipped[np.arange(len(v)), cols]
    fe, fe_ = model._free_energy(v), model._free_energy(flipped)
    np.testing.assert_allclose(got, -6 * np.logaddexp(0, -(fe_ - fe)), rtol=1e-12)


def test_transform_reconstruct_sample_shapes_and_ranges():
    rbm, v = tiny_rbm()
    assert rbm.transform(v).shape == (4, 3)
    assert rbm.reconstruct(v).shape == (4, 5)
    cr.manual_seed(0)
    s = rbm.sample(6, gibbs_steps=5)
    assert s.shape == (6, 5) and s.min() >= 0 and s.max() <= 1


def test_errors_name_the_rbm_and_the_shapes():
    rbm = RBM(5, 3)
    with pytest.raises(ValueError, match=r"RBM.*\(N, 5\).*\(4, 6\)"):
        rbm.transform(np.zeros((4, 6)))
    with pytest.raises(ValueError, match="n_hidden"):
        RBM(5, 0)
    with pytest.raises(ValueError, match="k >= 1"):
        rbm.fit(np.zeros((4, 5)), k=0)


def test_save_load_round_trip_and_bad_files(tmp_path):
    cr.manual_seed(0)
    rbm = RBM(6, 4)
    rbm.fit(binary_digits()[:50, :6], epochs=1)
    path = tmp_path / "rbm.crbm"
    rbm.save(path)
    loaded = RBM.load(path)
    for name in ("W", "visible_bias", "hidden_bias"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(rbm, name))
    (tmp_path / "junk").write_bytes(b"not a zip")
    with pytest.raises(ModelFormatError):
        RBM.load(tmp_path / "junk")
    from chainrule.unsupervised import DBN
    from chainrule.unsupervised._format import save_arrays

    save_arrays(tmp_path / "bad_shape", "RBM", {"n_visible": 6, "n_hidden": 4},
                {"W": np.zeros((4, 6)), "visible_bias": np.zeros(6), "hidden_bias": np.zeros(4)})
    with pytest.raises(ModelFormatError, match=r"'W' of shape \(6, 4\); found shape \(4, 6\)"):
        RBM.load(tmp_path / "bad_shape")
    save_arrays(tmp_path / "bad_config", "RBM", {"n_visible": "6", "n_hidden": 4}, {})
    with pytest.raises(ModelFormatError, match="n_visible"):
        RBM.load(tmp_path / "bad_config")
    DBN([6, 4]).save(tmp_path / "dbn")
    with pytest.raises(ModelFormatError, match="expected a saved RBM"):
        RBM.load(tmp_path / "dbn")


def test_walkthrough_quick_beats_sklearn(tmp_path):
    pytest.importorskip("sklearn")
    result = rbm_walkthrough.main(out_dir=tmp_path, quick=True)
    assert_expected(rbm_walkthrough, result, quick=True)
    assert_plots(result, 2)


@pytest.mark.slow
def test_walkthrough_on_mnist():
    """MNIST, 5 epochs (the 20-epoch run is in docs/unsupervised.md; the speed against
    scikit-learn is measured by benchmarks/bench_rbm.py)."""
    pytest.importorskip("sklearn")
    assert_expected(rbm_walkthrough, rbm_walkthrough.main())


def test_training_one_epoch_at_a_time_equals_one_call():
    """The walkthrough fits epoch by epoch (for its progress bar): the same draws."""
    X = binary_digits()[:200]
    cr.manual_seed(4)
    once = RBM(64, 16).fit(X, epochs=3, batch_size=10, lr=0.05)
    settings = {"n_hidden": 16, "epochs": 3, "batch_size": 10, "lr": 0.05}
    by_epoch, _ = rbm_walkthrough.train_chainrule(X, settings, seed=4)
    np.testing.assert_array_equal(once.W, by_epoch.W)
    assert once.history["reconstruction_error"] == by_epoch.history["reconstruction_error"]


def test_loading_checks_the_stored_arrays_first_and_draws_nothing(tmp_path):
    from chainrule.unsupervised import DBN

    cr.manual_seed(0)
    RBM(6, 4).save(tmp_path / "rbm.zip")
    DBN([6, 4, 3]).save(tmp_path / "dbn.zip")
    cr.manual_seed(5)
    state = cr.backend.get_rng_state()
    rbm, dbn = RBM.load(tmp_path / "rbm.zip"), DBN.load(tmp_path / "dbn.zip")
    assert cr.backend.get_rng_state() == state
    assert (rbm.n_visible, rbm.n_hidden) == (6, 4) and dbn.layer_sizes == [6, 4, 3]
    assert rbm.W.dtype == cr.get_default_dtype() and dbn.rbms[1].W.shape == (4, 3)
