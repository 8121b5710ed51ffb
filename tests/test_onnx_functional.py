"""ONNX export of Functional API models (issue 12): several inputs and outputs with
their names, every merge layer, a nested Sequential, and a Transformer encoder block;
onnxruntime's outputs equal ``model.predict`` to 1e-5 at batch sizes 1 and 7."""

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
if not hasattr(cr, "Input"):
    pytest.skip("the Functional API (cr.Input) is not in this tree", allow_module_level=True)

from onnx_helpers import check_export, randomize  # noqa: E402

from chainrule import layers as L  # noqa: E402
from chainrule.models import Model, Sequential  # noqa: E402
from chainrule.onnx import OnnxExportError  # noqa: E402


def floats(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_two_inputs_two_outputs_and_every_merge_layer(tmp_path):
    cr.manual_seed(0)
    a, b = cr.Input((6,), name="a"), cr.Input((6,), name="b")
    ha = L.Dense(4, activation="relu")(a)
    hb = L.Dense(4, activation="tanh")(b)
    merged = L.Concatenate()([
        L.Add()([ha, hb, ha]), L.Subtract()([ha, hb]), L.Multiply()([ha, hb, hb]),
        L.Average()([ha, hb, ha]), L.Maximum()([ha, hb]), L.Minimum()([ha, hb, hb])])
    similarity = L.Dot(axes=1, normalize=True)([ha, hb])
    probs = L.Dense(3, activation="softmax", name="probs")(merged)
    score = L.Dense(1, name="score")(L.Concatenate()([merged, similarity]))
    model = Model([a, b], [probs, score])
    randomize(model)
    x = [floats(7, 6), floats(7, 6, seed=1)]
    proto_path = tmp_path / "two.onnx"
    check_export(model, x, tmp_path, "functional_merge")
    proto = cr.onnx.export(model, proto_path)
    assert [i.name for i in proto.graph.input] == ["a", "b"]
    assert [o.name for o in proto.graph.output] == ["probs", "score"]


def test_dot_over_sequences_and_a_nested_sequential(tmp_path):
    cr.manual_seed(0)
    inp = cr.Input((5, 3), name="sequence")
    encoder = Sequential([L.Dense(4, activation="relu"), L.LSTM(4, return_sequences=True)])
    h = encoder(inp)
    attention = L.Dot(axes=(2, 2))([h, h])  # (N, 5, 5)
    pooled = L.Dot(axes=(2, 1))([attention, h])  # (N, 5, 4)
    out = L.Dense(2, name="logits")(L.Flatten()(pooled))
    model = Model(inp, out)
    randomize(model)
    check_export(model, floats(7, 5, 3), tmp_path, "functional_dot_nested")


def test_transformer_encoder_block(tmp_path):
    """Token ids -> embedding -> self-attention + residual + LayerNormalization ->
    feed-forward + residual + LayerNormalization -> mean over steps -> classes."""
    if not hasattr(L, "MultiHeadAttention"):
        pytest.skip("MultiHeadAttention is not in this tree")
    cr.manual_seed(0)
    ids = cr.Input((10,), dtype="int64", name="tokens")
    x = L.Embedding(50, 16)(ids)
    attended = L.MultiHeadAttention(num_heads=4, key_dim=4)(x, x, use_causal_mask=True)
    x = L.LayerNormalization()(L.Add()([x, attended]))
    ff = L.Dense(16)(L.Dense(32, activation="gelu")(x))
    x = L.LayerNormalization()(L.Add()([x, ff]))
    out = L.Dense(5, activation="softmax", name="classes")(L.GlobalAveragePooling1D()(x))
    model = Model(ids, out)
    randomize(model, scale=0.3)
    tokens = np.random.default_rng(0).integers(0, 50, (7, 10)).astype(np.int64)
    check_export(model, tokens, tmp_path, "transformer")


def test_masks_are_refused_naming_the_layer(tmp_path):
    ids = cr.Input((6,), dtype="int64")
    h = L.LSTM(3)(L.Embedding(10, 4, mask_zero=True, name="masked_embedding")(ids))
    model = Model(ids, L.Dense(1)(h))
    with pytest.raises(OnnxExportError, match=r"'masked_embedding' \(Embedding\).*mask_zero"):
        cr.onnx.export(model, tmp_path / "m.onnx")


def test_encoder_states_start_the_decoder(tmp_path):
    """seq2seq: the encoder LSTM's final [h, c] (return_state) are the decoder's
    initial_state; the encoder's states are outputs too."""
    cr.manual_seed(0)
    source, target = cr.Input((6, 3), name="source"), cr.Input((4, 2), name="target")
    _, h, c = L.LSTM(5, return_state=True)(source)
    decoded = L.LSTM(5, return_sequences=True)(target, initial_state=[h, c])
    gru_out = L.GRU(5, go_backwards=True)(target, initial_state=h)
    out = L.Dense(3, name="next")(decoded)
    model = Model([source, target], [out, L.Add(name="both")([h, gru_out])])
    randomize(model)
    check_export(model, [floats(7, 6, 3), floats(7, 4, 2, seed=1)], tmp_path, "seq2seq")
