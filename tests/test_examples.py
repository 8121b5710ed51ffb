"""The tutorial walkthroughs print the tutorials' numbers: each one asserted here.

Every number quoted in docs/tutorials/ is checked in this file.
"""

import os
import stat

import numpy as np
import pytest

import chainrule as cr
from chainrule.demo import load_example

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def example(name: str):
    return load_example(f"{name}.py")


def assert_png(path) -> None:
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE, f"{path} is not a PNG file"


def assert_plots(result: dict, count: int) -> None:
    """``count`` PNG plots when matplotlib is installed, none (cleanly) otherwise."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert result["plots"] == {}
        return
    assert len(result["plots"]) == count
    for path in result["plots"].values():
        assert_png(path)


# ---------------------------------------------------------------- 1. two-layer network


@pytest.fixture(scope="module")
def two_layer(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_layer")
    return example("two_layer_network").main(out_dir=out, verbose=True)


def test_two_layer_predictions_approach_xor(two_layer):
    assert np.round(two_layer["predictions"], 3).tolist() == [0.010, 0.971, 0.974, 0.032]
    assert np.abs(np.subtract(two_layer["predictions"], [0, 1, 1, 0])).max() < 0.05
    assert round(two_layer["initial_loss"], 3) == 1.328
    assert f"{two_layer['final_loss']:.5f}" == "0.00261"


def test_two_layer_hand_gradients_equal_autograd(two_layer):
    assert two_layer["step0_gradient_difference"] <= 1e-12
    assert two_layer["tensors_difference"] <= 1e-10
    assert two_layer["sequential_difference"] <= 1e-10
    assert two_layer["loss_curve_difference"] <= 1e-10


def test_two_layer_plot_and_dtype_restored(two_layer):
    assert_plots(two_layer, 1)
    assert cr.get_default_dtype() == np.float32


def test_two_layer_gradients_at_a_random_point():
    """The tutorial's chain-rule formulas equal autograd anywhere, not just at step 0."""
    module = example("two_layer_network")
    X, y = cr.datasets.xor()
    rng = np.random.default_rng(7)
    w1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 1))
    nn = module.NeuralNetwork(X, y, w1, w2)
    nn.feedforward()
    d1, d2 = nn.gradients()
    t1 = cr.tensor(w1, dtype=np.float64, requires_grad=True)
    t2 = cr.tensor(w2, dtype=np.float64, requires_grad=True)
    module.sse_with_tensors(X, y, t1, t2)[0].backward()
    np.testing.assert_allclose(-t1.grad.data, d1, atol=1e-12)
    np.testing.assert_allclose(-t2.grad.data, d2, atol=1e-12)


# ---------------------------------------------------------------- 2. Celsius neuron


@pytest.fixture(scope="module")
def celsius(tmp_path_factory):
    return example("celsius_neuron").main(out_dir=tmp_path_factory.mktemp("celsius"))


def test_celsius_neuron_learns_the_formula(celsius):
    assert abs(celsius["weight"] - 1.8) < 0.01 and abs(celsius["bias"] - 32) < 0.1
    assert abs(celsius["chainrule_weight"] - 1.8) < 0.01
    assert abs(celsius["chainrule_bias"] - 32) < 0.1
    assert (round(celsius["initial_weight"], 3), round(celsius["initial_bias"], 3)) == \
        (0.126, -0.132)
    assert round(celsius["initial_loss"], 1) == 3315.1
    assert (f"{celsius['weight']:.4f}", f"{celsius['bias']:.4f}") == ("1.8000", "31.9893")
    assert f"{celsius['final_loss']:.2e}" == "1.15e-04"


def test_celsius_hand_gradients_equal_autograd(celsius):
    assert celsius["step0_gradient_difference"] <= 1e-10
    assert celsius["chainrule_difference"] <= 1e-8
    assert_plots(celsius, 1)


# ---------------------------------------------------------------- 3. backprop by hand


@pytest.fixture(scope="module")
def backprop(tmp_path_factory):
    return example("backprop_by_hand").main(out_dir=tmp_path_factory.mktemp("backprop"))


def test_backprop_reproduces_the_article(backprop):
    article = backprop["article"]
    assert article["initial_weights"] == [0.13436424411240122, 0.8474337369372327,
                                          0.763774618976614]
    assert article["forward_output"] == pytest.approx([0.6629970129852887,
                                                       0.7253160725279748], abs=1e-15)
    assert article["deltas"][0] == pytest.approx([-0.0005348048046610517], abs=1e-15)
    assert article["deltas"][1] == pytest.approx([-0.14619064683582808, 0.0771723774346327],
                                                 abs=1e-15)
    assert [f"{article['epoch_errors'][e]:.3f}" for e in (0, 1, 19)] == \
        ["6.350", "5.531", "1.132"]
    assert np.allclose(article["trained_weights"][0], [
        [-1.4688375095432327, 1.850887325439514, 1.0858178629550297],
        [0.37711098142462157, -0.0625909894552989, 0.2765123702642716]], atol=1e-12)
    assert np.allclose(article["trained_weights"][1], [
        [2.515394649397849, -0.3391927502445985, -0.9671565426390275],
        [-2.5584149848484263, 1.0036422106209202, 0.42383086467582715]], atol=1e-12)
    assert article["accuracy"] == 1.0
    assert article["chainrule_weights_difference"] <= 1e-12


@pytest.mark.parametrize("transfer,first,final", [("sigmoid", "6.880", "0.212"),
                                                  ("tanh", "8.424", "0.196"),
                                                  ("relu", "45.971", "0.600")])
def test_backprop_deltas_are_minus_autograd_gradients(backprop, transfer, first, final):
    r = backprop["transfers"][transfer]
    assert r["gradient_difference"] <= 1e-12
    assert r["weights_difference"] <= 1e-12
    assert r["accuracy"] == 1.0
    assert (f"{r['first_error']:.3f}", f"{r['final_error']:.3f}") == (first, final)


def test_backprop_plot(backprop):
    assert_plots(backprop, 1)


@pytest.mark.parametrize("transfer", ["sigmoid", "tanh", "relu"])
def test_backprop_sign_convention(transfer):
    """delta = −∂L/∂activation for L = ½ Σ (expected − output)², on any row."""
    module = example("backprop_by_hand")
    for seed in range(3):
        for row in module.DATASET[::3]:
            assert module.compare_one_row(transfer, seed, row) <= 1e-12


# ---------------------------------------------------------------- 4. computational graph


def test_computational_graph_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz: DOT text only
    r = example("computational_graph").main(out_dir=tmp_path, verbose=True)
    assert (r["p"], r["g"]) == (4.0, -12.0)
    assert (r["dg_dg"], r["dg_dz"], r["dg_dp"], r["dg_dx"], r["dg_dy"]) == (1, 4, -3, -3, -3)
    assert r["explain"][0] == "∂g/∂g = 1"
    assert any(line.startswith("∂g/∂z = ∂g/∂g · ∂g/∂z = 1 × 4 = 4") for line in r["explain"])
    assert any(line.startswith("∂g/∂x = ∂g/∂p · ∂p/∂x = -3 × 1 = -3")
               for line in r["explain"])
    assert any(line.startswith("∂g/∂y = ∂g/∂p · ∂p/∂y = -3 × 1 = -3")
               for line in r["explain"])
    assert r["svg_path"] is None
    assert r["dot_path"].read_text() == r["dot"]
    assert r["dot"].startswith("digraph") and "data -12 | grad 1" in r["dot"]


def test_computational_graph_renders_svg_when_dot_exists(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"  # stands in for Graphviz: writes the -o file
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\n'
                    'echo "<svg xmlns=\'http://www.w3.org/2000/svg\'></svg>" > "$2"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ.get("PATH", ""))
    r = example("computational_graph").main(out_dir=tmp_path / "out")
    assert r["svg_path"] == tmp_path / "out" / "computational_graph.svg"
    assert r["svg_path"].read_text().startswith("<svg")


# ---------------------------------------------------------------- 5. forward propagation


def test_forward_propagation_numbers():
    r = example("forward_propagation").main(verbose=True)
    assert r["relu_hidden"] == [3.0, 9.0] and r["relu_output"] == -3.0
    assert r["tanh_output"] == pytest.approx(2 * np.tanh(3) - np.tanh(9), abs=1e-15)
    assert round(r["tanh_output"], 3) == 0.990
    assert r["deep_hidden_0"] == [26.0, 0.0] and r["deep_hidden_1"] == [0.0, 52.0]
    assert r["deep_output"] == 364.0
    assert r["deep_output_without_relu"] == 104.0
    assert (r["dense_relu_output"], r["dense_deep_output"]) == (-3.0, 364.0)
    assert r["max_abs_difference"] <= 1e-12
    assert cr.get_default_dtype() == np.float32


# ---------------------------------------------------------------- 7. regularization


@pytest.fixture(scope="module")
def regularization(tmp_path_factory):
    pytest.importorskip("sklearn")
    return example("regularization").main(out_dir=tmp_path_factory.mktemp("reg"))


@pytest.mark.slow
def test_regularization_baseline_overfits(regularization):
    base = regularization["baseline"]
    assert base["train_accuracy"] == 1.0
    assert base["test_accuracy"] == pytest.approx(0.947, abs=0.01)
    assert base["gap"] >= 0.02
    history = base["history"]["val_loss"]
    assert min(history) == pytest.approx(0.193, abs=0.01)
    assert history[-1] == pytest.approx(0.216, abs=0.01)
    assert regularization["baseline_test_loss_rise"] > 0


@pytest.mark.slow
def test_regularization_remedies(regularization):
    r = regularization
    assert r["dropout"]["train_accuracy"] == pytest.approx(0.992, abs=0.01)
    assert r["dropout"]["test_accuracy"] == pytest.approx(0.940, abs=0.01)
    assert r["early_stopping"]["train_accuracy"] == pytest.approx(0.972, abs=0.01)
    assert r["early_stopping"]["test_accuracy"] == pytest.approx(0.921, abs=0.01)
    assert r["early_stopping"]["stopped_early"]
    assert (r["early_stopping"]["epochs_run"], r["early_stopping"]["best_epoch"]) == (19, 14)
    assert r["augmentation"]["train_accuracy"] == pytest.approx(0.989, abs=0.01)
    assert r["augmentation"]["train_accuracy"] < 1.0
    assert r["augmentation"]["test_accuracy"] == pytest.approx(0.940, abs=0.01)
    # Seed 0 since Sequential draws every layer's weights when added: dropout ends level
    # with the baseline (-0.0015); seeds 1-3 measured +0.035, +0.007, +0.044.
    assert r["test_loss_reduction"]["dropout"] == pytest.approx(-0.002, abs=0.01)
    assert r["test_loss_reduction"]["augmentation"] == pytest.approx(0.017, abs=0.01)
    assert r["test_loss_reduction"]["augmentation"] > 0


@pytest.mark.slow
def test_regularization_plots(regularization):
    assert_plots(regularization, 5)


# ---------------------------------------------------------------- plots without matplotlib


def test_examples_skip_plots_cleanly_without_matplotlib(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("No module named 'matplotlib' (simulated)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)
    for name in ("celsius_neuron", "backprop_by_hand"):
        r = example(name).main(out_dir=tmp_path)
        assert r["plots"] == {}
    assert not list(tmp_path.glob("*.png"))
