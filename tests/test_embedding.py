"""Embedding: the gather op (torch parity + gradcheck, repeated ids) and the Keras layer."""

import json

import numpy as np
import pytest
from helpers import HAS_TORCH, assert_close, check_op, torch

import chainrule as cr
import chainrule.functional as F
from chainrule.layers import Embedding
from chainrule.ops.embedding import scatter_add_rows

TF = torch.nn.functional if HAS_TORCH else None
IDS = np.array([[0, 3, 3, 1], [4, 3, 0, 0]])  # repeats: 3 three times, 0 three times


# ---------------------------------------------------------------- op


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ids", [IDS, IDS[0], np.array(2), np.zeros((2, 0), int)],
                         ids=["2d", "1d", "scalar", "empty"])
def test_embedding_op(ids, dtype):
    weight = np.random.default_rng(0).normal(size=(5, 3))
    check_op([], lambda w, i: F.embedding(i, w), lambda w, i: TF.embedding(i, w),
             inputs=[weight, ids], dtype=dtype,
             reference=lambda w, i: np.array([w[k] for k in i.ravel()]).reshape(*i.shape, 3))


def test_repeated_ids_accumulate_gradient():
    weight = cr.tensor(np.zeros((4, 2)), requires_grad=True)
    F.embedding([1, 1, 1, 3], weight).sum().backward()
    np.testing.assert_array_equal(weight.grad.data, [[0, 0], [3, 3], [0, 0], [1, 1]])


def test_scatter_add_rows_matches_add_at():
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 50, size=1000)
    rows = rng.normal(size=(1000, 7)).astype(np.float32)
    expected = np.zeros((60, 7), np.float32)
    np.add.at(expected, ids, rows)
    out = scatter_add_rows(rows, ids, 60)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


def test_ids_are_validated():
    weight = cr.ones(5, 2)
    with pytest.raises(IndexError, match=r"id 5 is out of range.*input_dim=5"):
        F.embedding([0, 5], weight)
    with pytest.raises(IndexError, match=r"id -1 is out of range"):
        F.embedding([-1, 2], weight)
    with pytest.raises(TypeError, match="integer ids"):
        F.embedding([0.5, 1.0], weight)
    np.testing.assert_array_equal(F.embedding(np.array([1.0, 4.0]), weight).data, np.ones((2, 2)))


# ---------------------------------------------------------------- layer


def test_embedding_layer_matches_torch(torch):
    cr.set_default_dtype(np.float64)
    layer = Embedding(input_dim=6, output_dim=4)
    ids = np.array([[1, 5, 5], [0, 1, 5]])
    y = layer(ids)
    assert y.shape == (2, 3, 4) and layer.embeddings.shape == (6, 4)
    ref = torch.nn.Embedding(6, 4, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.from_numpy(layer.embeddings.data))
    w = np.random.default_rng(2).normal(size=y.shape)
    (y * w).sum().backward()
    yt = ref(torch.from_numpy(ids))
    (yt * torch.from_numpy(w)).sum().backward()
    assert_close(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-12, what="forward")
    assert_close(layer.embeddings.grad.data, ref.weight.grad.numpy(), rtol=1e-12, atol=1e-12,
                 what="grad embeddings")


def test_embedding_layer_weights_and_state():
    cr.manual_seed(0)
    layer = Embedding(100, 8)
    assert not layer.built and layer.count_params() == 0  # builds on its first call
    layer(np.array([3, 7]))
    assert layer.count_params() == 800 and list(layer.state_dict()) == ["embeddings"]
    assert np.abs(layer.embeddings.data).max() <= 0.05  # Keras "uniform": U(-0.05, 0.05)
    assert layer.embeddings.dtype == np.float32
    assert Embedding(10, 3, input_length=4).built  # a known input shape builds at once


def test_out_of_range_ids_name_the_layer():
    layer = Embedding(10, 2, name="words")
    with pytest.raises(IndexError, match=r"`Embedding` layer 'words': id 12 .*input_dim=10"):
        layer(np.array([[1, 12]]))
    with pytest.raises(IndexError, match=r"'words': id -3"):
        layer(np.array([-3]))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="`input_dim` of `Embedding`"):
        Embedding(0, 3)
    with pytest.raises(ValueError, match="`output_dim` of `Embedding`"):
        Embedding(5, 2.5)


@pytest.mark.parametrize("kwargs", [
    {"input_dim": 20, "output_dim": 3},
    {"input_dim": 20, "output_dim": 3, "embeddings_initializer": "normal", "input_length": 4},
])
def test_get_config_round_trip(kwargs):
    layer = Embedding(**kwargs)
    config = layer.get_config()
    json.dumps(config)
    clone = Embedding.from_config(config)
    assert clone.get_config() == config
    ids = np.array([[1, 2, 3, 19]])
    layer(ids)
    clone(ids)
    clone.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(clone(ids).data, layer(ids).data)
