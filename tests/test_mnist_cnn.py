"""chainrule.tutorials.mnist_cnn: the CNN's accuracy on real MNIST (shipped with the
package), the MLP baseline, the augmentation flag, and augmentation being the
identity in ``predict``."""

import numpy as np
import pytest
from tutorial_helpers import assert_expected, assert_plots

import chainrule as cr
from chainrule.tutorials import mnist_cnn


@pytest.mark.slow
def test_cnn_on_the_8k_2k_mnist_split(tmp_path):
    result = mnist_cnn.main(out_dir=tmp_path, seed=0)
    assert_expected(mnist_cnn, result)
    assert result["dataset"].startswith("MNIST")
    assert result["loss"][-1] < result["loss"][0]
    cm = np.array(result["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 2000
    assert 2000 - np.trace(cm) == result["errors"]
    assert_plots(result, 3)


def test_quick_run_on_8x8_digits_with_baseline_and_plots(tmp_path):
    result = mnist_cnn.main(out_dir=tmp_path, quick=True, seed=0)
    assert_expected(mnist_cnn, result, quick=True)
    assert np.sum(result["confusion_matrix"]) == 360
    assert_plots(result, 3)


def test_the_split_is_8000_and_2000_images():
    x_train, y_train, x_test, y_test = mnist_cnn.load_split()
    assert x_train.shape == (8000, 28, 28, 1) and x_test.shape == (2000, 28, 28, 1)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() == 1
    assert y_train.dtype == np.int64 and set(np.unique(y_test)) == set(range(10))


def test_augment_puts_random_translation_first():
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
