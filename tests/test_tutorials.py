"""The tutorial walkthroughs (chainrule.tutorials): each reproduces its tutorial's
numbers, held in the module's EXPECTED table (the numbers' one home), and the
machinery around them: the registry, the expectation tables, the scripts."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tutorial_helpers import assert_expected, assert_plots, pretend_missing

import chainrule as cr
from chainrule import tutorials
from chainrule.tutorials import (
    backprop_by_hand,
    celsius_neuron,
    computational_graph,
    forward_propagation,
    regularization,
    two_layer_network,
)
from chainrule.tutorials.expected import at_least, equal, mismatches, near, printed
from chainrule.tutorials.extras import MissingExtra

ROOT = Path(__file__).resolve().parents[1]

# ---------------------------------------------------------------- the registry


def test_the_seventeen_walkthroughs_in_order():
    assert tutorials.NAMES == (
        "two_layer_network", "celsius_neuron", "backprop_by_hand", "computational_graph",
        "forward_propagation", "churn", "churn_functional", "regularization",
        "vanishing_gradients", "mnist_cnn", "transfer_learning", "word_embeddings",
        "char_transformer", "rbm", "dbn", "autoencoder", "gan")


@pytest.mark.parametrize("name", tutorials.NAMES)
def test_each_walkthrough_is_a_module_with_main_and_its_expectations(name):
    module = tutorials.load(name)
    assert module.__name__ == f"chainrule.tutorials.{name}"
    assert Path(module.__file__).parent == Path(tutorials.__file__).parent
    assert callable(module.main) and module.EXPECTED and module.KEY_NUMBERS
    assert (ROOT / "examples" / f"{name}.py").is_file()


def test_load_checks_the_name():
    with pytest.raises(KeyError, match="No walkthrough named 'os'"):
        tutorials.load("os")
    with pytest.raises(KeyError):
        tutorials.load("registry")  # a module of the package, not a walkthrough


def test_expectations_compare_as_printed():
    result = {"a": {"b": [0.5, 2.0]}, "loss": 0.0026149, "n": 7}
    assert printed("loss", "0.00261").holds(result)
    assert not printed("loss", "0.00262").holds(result)
    assert printed("a.b", "[0.5, 2.0]").holds(result) and printed("a.b", "[0.5, 2.0]").quote
    assert near("a.b.1", 2.1, 0.2).holds(result) and not near("a.b.1", 2.1, 0.05).holds(result)
    assert equal("n", 7).holds(result) and not equal("n", 7.5).holds(result)
    assert at_least("n", 7).holds(result) and not at_least("n", 8).holds(result)
    assert mismatches((at_least("n", 8),), result) == ["n ≥ 8: got 7"]
    assert printed("x", "1.15e-04").tol == pytest.approx(5e-7)


# ---------------------------------------------------------------- 1. two-layer network


@pytest.fixture(scope="module")
def two_layer(tmp_path_factory):
    out = tmp_path_factory.mktemp("two_layer")
    return two_layer_network.main(out_dir=out, verbose=True)


def test_two_layer_network_reproduces_the_tutorial(two_layer):
    assert_expected(two_layer_network, two_layer)
    assert_plots(two_layer, 1)
    assert cr.get_default_dtype() == np.float32  # restored


def test_two_layer_gradients_at_a_random_point():
    """The tutorial's chain-rule formulas equal autograd anywhere, not just at step 0."""
    X, y = cr.datasets.xor()
    rng = np.random.default_rng(7)
    w1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 1))
    nn = two_layer_network.NeuralNetwork(X, y, w1, w2)
    nn.feedforward()
    d1, d2 = nn.gradients()
    t1 = cr.tensor(w1, dtype=np.float64, requires_grad=True)
    t2 = cr.tensor(w2, dtype=np.float64, requires_grad=True)
    two_layer_network.sse_with_tensors(X, y, t1, t2)[0].backward()
    np.testing.assert_allclose(-t1.grad.data, d1, atol=1e-12)
    np.testing.assert_allclose(-t2.grad.data, d2, atol=1e-12)


def test_the_class_as_written_differentiates_at_random_points():
    """Part C: only the weights are tensors; loss.backward() of the class's own NumPy
    forward pass equals its hand-written chain rule to 1e-12 (float64), anywhere."""
    X, y = cr.datasets.xor()
    previous = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    try:
        for seed in range(3):
            rng = np.random.default_rng(seed)
            nn, W1, W2 = two_layer_network.as_written(X, y, rng.normal(size=(3, 4)),
                                                      rng.normal(size=(4, 1)))
            d1, d2 = nn.gradients()
            assert isinstance(d1, cr.Tensor)  # np.dot on tensors stayed a tensor
            np.testing.assert_allclose(W1.grad.data, -d1.data, rtol=0, atol=1e-12)
            np.testing.assert_allclose(W2.grad.data, -d2.data, rtol=0, atol=1e-12)
    finally:
        cr.set_default_dtype(previous)


def test_two_layer_reports_both_gradients_side_by_side(two_layer):
    grads = two_layer["as_written_gradients"]
    assert np.asarray(grads["autograd"][0]).shape == (3, 4)
    np.testing.assert_allclose(grads["autograd"][1], grads["by_hand"][1], atol=1e-12)


# ---------------------------------------------------------------- 2. Celsius neuron


def test_celsius_neuron_learns_the_formula(tmp_path):
    result = celsius_neuron.main(out_dir=tmp_path)
    assert_expected(celsius_neuron, result)
    assert_plots(result, 1)


# ---------------------------------------------------------------- 3. backprop by hand


def test_backprop_by_hand_reproduces_the_article(tmp_path):
    result = backprop_by_hand.main(out_dir=tmp_path)
    assert_expected(backprop_by_hand, result)
    assert_plots(result, 1)


@pytest.mark.parametrize("transfer", ["sigmoid", "tanh", "relu"])
def test_backprop_sign_convention(transfer):
    """delta = −∂L/∂activation for L = ½ Σ (expected − output)², on any row."""
    for seed in range(3):
        for row in backprop_by_hand.DATASET[::3]:
            assert backprop_by_hand.compare_one_row(transfer, seed, row) <= 1e-12


# ---------------------------------------------------------------- 4. computational graph


def test_computational_graph_numbers_and_explanation(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no Graphviz: drawn with matplotlib
    r = computational_graph.main(out_dir=tmp_path, verbose=True)
    assert_expected(computational_graph, r)
    assert r["explain"][0] == "∂g/∂g = 1"
    for start in ("∂g/∂z = ∂g/∂g · ∂g/∂z = 1 × 4 = 4", "∂g/∂x = ∂g/∂p · ∂p/∂x = -3 × 1 = -3",
                  "∂g/∂y = ∂g/∂p · ∂p/∂y = -3 × 1 = -3"):
        assert any(line.startswith(start) for line in r["explain"]), start
    assert r["svg_path"] is None and r["dot_path"].read_text() == r["dot"]
    assert r["dot"].startswith("digraph") and "data -12 | grad 1" in r["dot"]
    assert_plots(r, 1)  # the graph as a picture, never as DOT source


def test_computational_graph_renders_svg_when_dot_exists(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"  # stands in for Graphviz: writes the -o file
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\n'
                    'echo "<svg xmlns=\'http://www.w3.org/2000/svg\'></svg>" > "$2"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ.get("PATH", ""))
    r = computational_graph.main(out_dir=tmp_path / "out")
    assert r["svg_path"] == tmp_path / "out" / "computational_graph.svg"
    assert r["svg_path"].read_text().startswith("<svg") and r["plots"] == {}


# ---------------------------------------------------------------- 5. forward propagation


def test_forward_propagation_numbers():
    r = forward_propagation.main(verbose=True)
    assert_expected(forward_propagation, r)
    assert cr.get_default_dtype() == np.float32


# ---------------------------------------------------------------- 7. regularization


@pytest.mark.slow
def test_regularization_reproduces_its_guide(tmp_path):
    result = regularization.main(out_dir=tmp_path)
    assert_expected(regularization, result)
    assert_plots(result, 5)


def test_regularization_quick(tmp_path):
    assert_expected(regularization, regularization.main(quick=True), quick=True)


# ---------------------------------------------------------------- without the extras


def test_plots_are_skipped_cleanly_without_matplotlib(tmp_path, monkeypatch):
    pretend_missing(monkeypatch, "matplotlib")
    for module in (celsius_neuron, backprop_by_hand, computational_graph):
        assert module.main(out_dir=tmp_path)["plots"] == {}
    assert not list(tmp_path.glob("*.png"))


@pytest.mark.parametrize("name", ["churn", "churn_functional", "regularization", "rbm",
                                  "mnist_cnn"])
def test_a_walkthrough_without_scikit_learn_names_the_extra(name, monkeypatch):
    pretend_missing(monkeypatch, "sklearn")
    with pytest.raises(MissingExtra, match=r'scikit-learn .*pip install "chainrule\[examples\]"'):
        tutorials.load(name).main(quick=True)


# ---------------------------------------------------------------- the example scripts


def test_an_example_script_runs_its_walkthrough(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "forward_propagation.py"),
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "output = 364" in done.stdout


def test_script_options_follow_main():
    assert tutorials.script_parser("mnist_cnn").parse_args(["--augment"]).augment
    churn = tutorials.script_parser("churn").parse_args(["--epochs", "3", "--seed", "2"])
    assert (churn.epochs, churn.seed, churn.quick) == (3, 2, False)
    assert tutorials.script_parser("autoencoder").parse_args(
        ["--conv-epochs", "10"]).conv_epochs == 10
    assert "--epochs" not in tutorials.script_parser("dbn").format_help()
