"""Masks as Keras carries them: ``Embedding(mask_zero=True)`` makes one, layers that keep
the time axis pass it on, and a layer whose ``forward`` takes ``mask=`` receives it, in
Sequential and functional models alike."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers as L


class MaskedSum(L.Layer):
    """Sum over the unmasked time steps (N, T, C) -> (N, C); records the masks it saw."""

    def __init__(self, **kwargs):
        self.seen = []
        super().__init__(**kwargs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def forward(self, x, mask=None):
        self.seen.append(None if mask is None else np.array(mask))
        if mask is None:
            return x.sum(axis=1)
        return (x * mask[:, :, None].astype(x.dtype)).sum(axis=1)


IDS = np.array([[4, 2, 0, 0], [1, 0, 0, 0], [5, 6, 7, 8]])


def test_embedding_mask_zero_makes_a_mask():
    emb = L.Embedding(10, 3, mask_zero=True)
    np.testing.assert_array_equal(emb.compute_mask(IDS), IDS != 0)
    assert L.Embedding(10, 3).compute_mask(IDS) is None
    assert L.Embedding.from_config(emb.get_config()).mask_zero


def test_sequential_hands_the_mask_through_mask_keeping_layers():
    cr.manual_seed(0)
    consumer = MaskedSum()
    model = cr.Sequential([L.Embedding(10, 3, mask_zero=True),
                           L.Dense(3), L.Dropout(0.5), consumer])
    out = model.predict(IDS)
    np.testing.assert_array_equal(consumer.seen[-1], IDS != 0)
    # the padded steps contribute nothing: only the unmasked ones are summed
    emb = model.layers[0].embeddings.numpy()
    dense = model.layers[1]
    rows = emb[IDS] @ dense.kernel.numpy() + dense.bias.numpy()
    np.testing.assert_allclose(out, (rows * (IDS != 0)[:, :, None]).sum(axis=1), rtol=1e-5)


def test_a_layer_without_masking_support_drops_the_mask():
    consumer = MaskedSum()
    model = cr.Sequential([L.Embedding(10, 3, mask_zero=True),
                           L.Conv1D(3, 1), consumer])
    model.predict(IDS)
    assert consumer.seen[-1] is None


def test_recurrent_layers_pass_the_mask_only_with_return_sequences():
    mask = IDS != 0
    seq = L.LSTM(2, return_sequences=True)
    last = L.LSTM(2)
    both = L.GRU(2, return_sequences=True, return_state=True)
    np.testing.assert_array_equal(seq.compute_mask(None, mask), mask)
    assert last.compute_mask(None, mask) is None
    out_mask, state_mask = both.compute_mask(None, mask)
    assert state_mask is None
    np.testing.assert_array_equal(out_mask, mask)


def test_an_explicit_mask_wins():
    consumer = MaskedSum()
    x = np.ones((2, 3, 1))
    mine = np.array([[True, False, False], [True, True, True]])
    np.testing.assert_array_equal(consumer(x, mask=mine).numpy(), [[1.0], [3.0]])


@pytest.mark.parametrize("mask_zero", [True, False])
def test_sequential_without_embedding_mask_passes_none(mask_zero):
    consumer = MaskedSum()
    model = cr.Sequential([L.Embedding(10, 3, mask_zero=mask_zero), consumer])
    model.predict(IDS)
    assert (consumer.seen[-1] is not None) == mask_zero


def test_functional_model_hands_masks_to_consumers():
    consumer = MaskedSum()
    ids = cr.Input(shape=(None,), dtype="int64")
    h = L.Dense(3)(L.Embedding(10, 3, mask_zero=True)(ids))
    model = cr.Model(ids, consumer(h))
    model.predict(IDS)
    np.testing.assert_array_equal(consumer.seen[-1], IDS != 0)


def test_masks_merge_and_cross_nested_models():
    consumer = MaskedSum()
    a_ids, b_ids = cr.Input(shape=(4,), dtype="int64"), cr.Input(shape=(4,), dtype="int64")
    a = L.Embedding(10, 3, mask_zero=True)(a_ids)
    b = L.Embedding(10, 3)(b_ids)  # no mask: the sum keeps a's
    inner = cr.Sequential([L.Dense(3), L.Dropout(0.1)])
    model = cr.Model([a_ids, b_ids], consumer(inner(L.add([a, b]))))
    model.predict([IDS, np.ones_like(IDS)])
    np.testing.assert_array_equal(consumer.seen[-1], IDS != 0)


def test_masked_steps_do_not_change_a_consumers_output():
    """Perturbing what sits at masked positions changes nothing downstream of a layer
    that honours the mask."""
    cr.set_default_dtype(np.float64)
    ids = cr.Input(shape=(4,), dtype="int64")
    model = cr.Model(ids, L.Dense(2)(MaskedSum()(L.Embedding(10, 3, mask_zero=True)(ids))))
    padded = IDS.copy()
    emb = model.layers[1]
    before = model.predict(padded)
    emb.embeddings.data[0] += 5.0  # the padding id's row: only masked positions use it
    np.testing.assert_allclose(model.predict(padded), before, rtol=1e-12)
