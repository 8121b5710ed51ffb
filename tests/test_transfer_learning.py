"""chainrule.tutorials.transfer_learning: accuracy on 5-9 after transfer, frozen
weights bit-for-bit unchanged."""

import numpy as np
import pytest
from tutorial_helpers import assert_expected

import chainrule as cr
from chainrule.tutorials import mnist_cnn
from chainrule.tutorials import transfer_learning as transfer


@pytest.mark.slow
def test_transfer_to_digits_5_to_9_on_mnist():
    result = transfer.main(seed=0)
    assert_expected(transfer, result)
    assert result["trainable_params"] == 1600 * 128 + 128 + 128 * 5 + 5  # the new head only


def test_quick_transfer_on_8x8_digits():
    result = transfer.main(quick=True, seed=0)
    assert_expected(transfer, result, quick=True)
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

