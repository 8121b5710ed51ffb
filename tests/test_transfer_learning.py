"""examples/transfer_learning.py: accuracy on 5-9 after transfer, frozen weights
bit-for-bit unchanged, and the demo entries of the MNIST walkthroughs."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.demo import registry
from chainrule.demo.runner import load_example

transfer = load_example("transfer_learning.py")
mnist_cnn = load_example("mnist_cnn.py")


@pytest.mark.slow
@pytest.mark.skipif(mnist_cnn.find_mnist() is None,
                    reason="MNIST files not in ../shared/datasets/mnist/")
def test_transfer_to_digits_5_to_9_reaches_96_percent():
    result = transfer.main(seed=0)
    assert result["transfer_accuracy_5_9"] >= 0.96, result["transfer_accuracy_5_9"]
    assert result["pretrain_accuracy_0_4"] >= 0.975
    assert result["frozen_weights_unchanged"] is True
    head = 1600 * 128 + 128 + 128 * 5 + 5
    assert result["trainable_params"] == head


def test_quick_transfer_on_8x8_digits():
    result = transfer.main(quick=True, seed=0)
    assert result["frozen_weights_unchanged"] is True
    assert result["transfer_accuracy_5_9"] >= 0.85
    assert result["frozen_seconds_per_epoch"] > 0 and result["full_seconds_per_epoch"] > 0


def test_freezing_keeps_features_and_trains_the_new_head():
    rng = np.random.default_rng(1)
    x = rng.random((64, 8, 8, 1), dtype=np.float32)
    y = rng.integers(0, 5, 64)
    cr.manual_seed(1)
    model = mnist_cnn.build_cnn(num_classes=5, padding="same")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    old_head = model.layers[-1]
    before = transfer.freeze_and_replace_head(model, 5, lr=1e-2)
    assert len(model.layers) == transfer.FEATURE_LAYERS + 3 and model.layers[-1] is not old_head
    assert all(not layer.trainable for layer in model.layers[:transfer.FEATURE_LAYERS])
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    head_start = model.layers[-1].kernel.data.copy()
    model.fit(x, y, batch_size=32, epochs=2, verbose=0)
    after = [p.data for layer in model.layers[:transfer.FEATURE_LAYERS]
             for p in layer.parameters()]
    assert len(before) == len(after) == 4
    assert all(np.array_equal(b, a) for b, a in zip(before, after))
    assert not np.array_equal(head_start, model.layers[-1].kernel.data)


def test_split_digits_relabels_each_half_from_zero():
    y = np.arange(10)
    x = y[:, None].astype(np.float32)
    low, high = transfer.split_digits((x, y, x, y), range(0, 5), range(5, 10))
    np.testing.assert_array_equal(low[1], np.arange(5))
    np.testing.assert_array_equal(high[1], np.arange(5))
    np.testing.assert_array_equal(high[0][:, 0], np.arange(5, 10))


def test_demo_entries_skip_without_mnist_only_in_full_runs(tmp_path):
    names = [w.name for w in registry.WALKTHROUGHS]
    assert "mnist_cnn" in names and "transfer_learning" in names
    entry = registry.get("transfer_learning")
    assert entry.requires(registry.DemoContext(out_dir=tmp_path, quick=True)) is None
    reason = entry.requires(registry.DemoContext(out_dir=tmp_path, quick=False))
    assert (reason is None) == (mnist_cnn.find_mnist() is not None)
