"""examples/mnist_cnn.py: the CNN's accuracy on real MNIST, the MLP baseline, the
augmentation flag, and augmentation being the identity in ``predict``."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.demo.runner import load_example
from chainrule.utils import plotting_available

mnist_cnn = load_example("mnist_cnn.py")
needs_mnist = pytest.mark.skipif(mnist_cnn.find_mnist() is None,
                                 reason="MNIST files not in ../shared/datasets/mnist/")


@pytest.mark.slow
@needs_mnist
def test_cnn_reaches_97_5_percent_on_the_8k_2k_split():
    result = mnist_cnn.main(seed=0, baseline=False)
    assert result["dataset"].startswith("MNIST")
    assert result["test_accuracy"] >= 0.975, result["test_accuracy"]
    assert result["loss"][-1] < result["loss"][0]
    cm = np.array(result["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 2000
    assert 2000 - np.trace(cm) == result["errors"]


def test_quick_run_on_8x8_digits_with_baseline_and_plots(tmp_path):
    result = mnist_cnn.main(out_dir=tmp_path, quick=True, seed=0)
    assert result["test_accuracy"] >= 0.9
    assert 0.8 <= result["mlp_test_accuracy"] <= 1.0
    assert np.sum(result["confusion_matrix"]) == 360
    if plotting_available():
        grid = result["plots"]["misclassified digits"]
        assert grid.is_file() and grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_augment_flag_puts_random_translation_first():
    assert mnist_cnn.parse_args(["--augment"]).augment
    assert not mnist_cnn.parse_args([]).augment
    first = mnist_cnn.build_cnn(augment=True).layers[0]
    assert isinstance(first, cr.layers.RandomTranslation)
    assert (first.height_factor, first.width_factor) == (0.1, 0.1)
    assert not isinstance(mnist_cnn.build_cnn().layers[0], cr.layers.RandomTranslation)


def test_augmentation_is_identity_in_predict():
    """predict with RandomTranslation first equals predict on the same layers without it,
    while in training the layer does move the images."""
    rng = np.random.default_rng(0)
    x = rng.random((40, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 10, 40)
    cr.manual_seed(0)
    model = mnist_cnn.build_cnn(augment=True, padding="same")
    model.fit(x, y, batch_size=20, epochs=1, verbose=0)
    augment, *rest = model.layers
    without = cr.models.Sequential(rest)
    np.testing.assert_array_equal(model.predict(x), without.predict(x))
    augment.train()
    assert not np.array_equal(augment(cr.tensor(x)).numpy(), x)


def test_misclassified_grid_is_none_without_errors(tmp_path):
    images = np.zeros((3, 8, 8, 1), np.float32)
    labels = np.array([1, 2, 3])
    assert mnist_cnn.plot_misclassified(images, labels, labels, tmp_path / "g.png") is None


def test_format_confusion_has_a_row_per_class():
    text = mnist_cnn.format_confusion(np.eye(3, dtype=np.int64) * 12)
    assert text.splitlines()[0].startswith("true\\pred") and len(text.splitlines()) == 4
