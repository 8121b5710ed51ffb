"""The Functional API: ``cr.Input``, layers called on symbolic tensors, ``cr.Model(inputs,
outputs)``; the Keras guide's models with only the imports changed give Keras' parameter
counts and output shapes; shared layers, residual connections, nested models, feature
extraction, and errors that name the layer."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers
from chainrule.layers.node import KerasTensor


def ticket_classifier():
    """keras.io/guides/functional_api, "Models with multiple inputs and outputs"."""
    num_tags, num_words, num_departments = 12, 10000, 4
    title_input = cr.Input(shape=(None,), name="title")
    body_input = cr.Input(shape=(None,), name="body")
    tags_input = cr.Input(shape=(num_tags,), name="tags")
    title_features = layers.Embedding(num_words, 64)(title_input)
    body_features = layers.Embedding(num_words, 64)(body_input)
    title_features = layers.LSTM(128)(title_features)
    body_features = layers.LSTM(32)(body_features)
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    return cr.Model(inputs=[title_input, body_input, tags_input],
                    outputs=[priority_pred, department_pred])


def toy_resnet():
    """keras.io/guides/functional_api, "A toy ResNet model" (for CIFAR10)."""
    inputs = cr.Input(shape=(32, 32, 3), name="img")
    x = layers.Conv2D(32, 3, activation="relu")(inputs)
    x = layers.Conv2D(64, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(block_2_output)
    x = layers.Conv2D(64, 3, activation="relu", padding="same")(x)
    block_3_output = layers.add([x, block_2_output])
    x = layers.Conv2D(64, 3, activation="relu")(block_3_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(10)(x)
    return cr.Model(inputs, outputs, name="toy_resnet")


def siamese():
    """Shared-layer encoders (the guide's shared Embedding, with a shared LSTM on top):
    one encoder reads two texts, a Dense scores the pair."""
    shared_embedding = layers.Embedding(1000, 128)
    shared_lstm = layers.LSTM(32)
    text_input_a = cr.Input(shape=(None,), dtype="int32")
    text_input_b = cr.Input(shape=(None,), dtype="int32")
    encoded_a = shared_lstm(shared_embedding(text_input_a))
    encoded_b = shared_lstm(shared_embedding(text_input_b))
    merged = layers.concatenate([encoded_a, encoded_b])
    return cr.Model([text_input_a, text_input_b], layers.Dense(1, activation="sigmoid")(merged))


def test_input_is_a_symbolic_tensor():
    x = cr.Input(shape=(784,))
    assert isinstance(x, KerasTensor)
    assert x.shape == (None, 784) and x.dtype == np.float32
    assert cr.Input(shape=(None,), dtype="int32").dtype == np.int32
    assert cr.layers.Input is cr.Input is cr.models.Input
    assert cr.Model is cr.models.Model and cr.Sequential is cr.models.Sequential
    with pytest.raises(TypeError, match="symbolic"):
        x + 1
    with pytest.raises(TypeError, match="symbolic"):
        np.asarray(x)


def test_mnist_model_from_the_guide():
    inputs = cr.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    model = cr.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    assert model.count_params() == 55_050
    assert model.name == "mnist_model"
    assert model.predict(np.zeros((3, 784))).shape == (3, 10)


def test_ticket_classifier_matches_keras():
    model = ticket_classifier()
    assert model.count_params() == 1_392_097  # Keras' summary: Total params: 1,392,097
    counts = {layer.name: layer.count_params() for layer in model.layers}
    assert sorted(counts.values()) == sorted([0, 0, 0, 640_000, 640_000, 98_816, 12_416, 0,
                                              173, 692])
    assert [t.shape for t in model.outputs] == [(None, 1), (None, 4)]
    assert model.output_names == ["priority", "department"]
    assert model.input_names == ["title", "body", "tags"]
    rng = np.random.default_rng(0)
    priority, department = model.predict({"title": rng.integers(10000, size=(5, 10)),
                                          "body": rng.integers(10000, size=(5, 20)),
                                          "tags": rng.integers(2, size=(5, 12))})
    assert priority.shape == (5, 1) and department.shape == (5, 4)


def test_toy_resnet_matches_keras():
    model = toy_resnet()
    assert model.count_params() == 223_242  # the guide's summary: Total params: 223,242
    shapes = {layer.name: layer.output.shape for layer in model.layers}
    assert shapes["img"] == (None, 32, 32, 3)
    assert list(shapes.values())[-1] == (None, 10)
    assert sum(isinstance(layer, layers.Add) for layer in model.layers) == 2
    assert model.predict(np.zeros((2, 32, 32, 3), np.float32)).shape == (2, 10)


def test_shared_layers_count_their_weights_once():
    model = siamese()
    lstm = 4 * (128 + 32 + 1) * 32
    assert model.count_params() == 128_000 + lstm + 65
    embedding = next(layer for layer in model.layers if isinstance(layer, layers.Embedding))
    assert len(embedding._inbound_nodes) == 2
    assert len(model.parameters()) == 1 + 3 + 2
    a = np.random.default_rng(0).integers(1000, size=(4, 7))
    b = np.random.default_rng(1).integers(1000, size=(4, 7))
    # the same encoder reads both texts: swapping them gives the swapped features
    both = model.predict([a, b])
    assert both.shape == (4, 1)
    with pytest.raises(AttributeError, match="called 2 times"):
        _ = embedding.output
    assert embedding.get_output_at(1).shape == (None, None, 128)


def test_shared_layer_gradients_accumulate_from_both_uses():
    cr.set_default_dtype(np.float64)
    dense = layers.Dense(3)
    a, b = cr.Input(shape=(4,)), cr.Input(shape=(4,))
    model = cr.Model([a, b], layers.add([dense(a), dense(b)]))
    xa, xb = np.random.default_rng(0).standard_normal((2, 5, 4))
    model([xa, xb]).sum().backward()
    np.testing.assert_allclose(dense.kernel.grad.numpy(),
                               (xa.sum(0) + xb.sum(0))[:, None] * np.ones((1, 3)), rtol=1e-12)


def test_residual_connection_computes_what_it_says():
    cr.set_default_dtype(np.float64)
    inputs = cr.Input(shape=(5,))
    hidden = layers.Dense(5, activation="tanh")
    model = cr.Model(inputs, layers.add([inputs, hidden(inputs)]))
    x = np.random.default_rng(0).standard_normal((3, 5))
    expected = x + np.tanh(x @ hidden.kernel.numpy() + hidden.bias.numpy())
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-12)


def test_models_nest_as_layers():
    encoder_input = cr.Input(shape=(8,), name="original")
    encoder = cr.Model(encoder_input, layers.Dense(3, name="code")(encoder_input),
                       name="encoder")
    decoder = cr.Sequential([layers.Dense(8, activation="sigmoid")], name="decoder")
    x = cr.Input(shape=(8,), name="img")
    autoencoder = cr.Model(x, decoder(encoder(x)), name="autoencoder")
    assert [layer.name for layer in autoencoder.layers] == ["img", "encoder", "decoder"]
    assert autoencoder.count_params() == encoder.count_params() + decoder.count_params() \
        == 27 + 32
    assert autoencoder.output.shape == (None, 8)
    data = np.random.default_rng(0).random((4, 8))
    np.testing.assert_allclose(autoencoder.predict(data),
                               decoder.predict(encoder.predict(data)), rtol=1e-6)
    assert sorted(autoencoder.state_dict()) == ["decoder.0.bias", "decoder.0.kernel",
                                                "encoder.code.bias", "encoder.code.kernel"]


def test_ensemble_of_models_from_the_guide():
    def get_model():
        inputs = cr.Input(shape=(128,))
        return cr.Model(inputs, layers.Dense(1)(inputs))

    model1, model2, model3 = get_model(), get_model(), get_model()
    inputs = cr.Input(shape=(128,))
    outputs = layers.average([model1(inputs), model2(inputs), model3(inputs)])
    ensemble = cr.Model(inputs=inputs, outputs=outputs)
    x = np.random.default_rng(0).random((2, 128)).astype(np.float32)
    expected = (model1.predict(x) + model2.predict(x) + model3.predict(x)) / 3
    np.testing.assert_allclose(ensemble.predict(x), expected, rtol=1e-5)
    assert ensemble.count_params() == 3 * 129


def test_feature_extraction_shares_weights_with_the_base():
    base = toy_resnet()
    pooling = next(layer.name for layer in base.layers
                   if isinstance(layer, layers.GlobalAveragePooling2D))
    features = cr.Model(inputs=base.input, outputs=base.get_layer(pooling).output)
    assert features.output.shape == (None, 64)
    conv = base.layers[1]
    assert features.get_layer(conv.name) is conv
    assert features.count_params() == 223_242 - 16_640 - 2_570
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    before = features.predict(x)
    conv.kernel.data = conv.kernel.data * 2  # a change in the base shows in the extractor
    assert not np.allclose(features.predict(x), before)


def test_get_layer_by_name_and_index():
    model = ticket_classifier()
    assert model.get_layer("priority").units == 1
    assert model.get_layer(index=0).name == "title"
    assert model.get_layer(index=-1).name == "department"
    with pytest.raises(ValueError, match="No such layer: 'nope'"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="out of range"):
        model.get_layer(index=20)


def test_layer_input_and_output():
    inputs = cr.Input(shape=(3,), name="x")
    dense = layers.Dense(2, name="d")
    out = dense(inputs)
    assert dense.input is inputs and dense.output is out
    fresh = layers.Dense(2)
    with pytest.raises(AttributeError, match="never been called"):
        _ = fresh.output
    model = cr.Model(inputs, out)
    assert model.input is inputs and model.output is out
    assert model.inputs == [inputs] and model.outputs == [out]


def test_dict_inputs_and_outputs():
    a, b = cr.Input(shape=(2,), name="a"), cr.Input(shape=(3,), name="b")
    merged = layers.concatenate([a, b])
    model = cr.Model({"left": a, "right": b},
                     {"sum": layers.Dense(1, name="s")(merged), "all": merged})
    assert model.input_names == ["left", "right"] and model.output_names == ["sum", "all"]
    out = model({"right": np.ones((4, 3)), "left": np.zeros((4, 2))})
    assert set(out) == {"sum", "all"} and out["all"].shape == (4, 5)
    np.testing.assert_array_equal(out["all"].numpy()[:, 2:], 1)
    predicted = model.predict({"left": np.zeros((4, 2)), "right": np.ones((4, 3))})
    assert isinstance(predicted, dict) and predicted["sum"].shape == (4, 1)


def test_disconnected_graph_names_the_missing_input():
    a, b = cr.Input(shape=(3,), name="a"), cr.Input(shape=(3,), name="b")
    out = layers.Dense(1, name="head")(layers.add([a, b], name="joined"))
    with pytest.raises(ValueError, match=r"Graph disconnected.*'joined'.*Input 'b'"):
        cr.Model(a, out)


def test_input_not_reachable_from_the_outputs():
    a, b = cr.Input(shape=(3,), name="a"), cr.Input(shape=(3,), name="unused")
    with pytest.raises(ValueError, match=r"\['unused'\] are not connected"):
        cr.Model([a, b], layers.Dense(1)(a))


def test_mismatched_shapes_raise_when_drawing():
    a, b = cr.Input(shape=(3,)), cr.Input(shape=(4,))
    with pytest.raises(ValueError, match=r"`Add` layer 'add\w*'.*\(None, 3\), \(None, 4\)"):
        layers.add([a, b])
    dense = layers.Dense(2, name="fixed", input_dim=5)
    with pytest.raises(ValueError, match=r"`Dense` expected inputs with 5 features.*'fixed'"):
        dense(cr.Input(shape=(7,)))


def test_data_of_the_wrong_shape_names_the_input():
    x = cr.Input(shape=(3,), name="features")
    model = cr.Model(x, layers.Dense(1)(x))
    with pytest.raises(ValueError, match=r"Input 'features'.*\(None, 3\).*\(2, 4\)"):
        model.predict(np.zeros((2, 4)))


def test_duplicate_layer_names_are_refused():
    x = cr.Input(shape=(3,))
    h = layers.Dense(2, name="same")(x)
    with pytest.raises(ValueError, match="'same' is used more than once"):
        cr.Model(x, layers.Dense(2, name="same")(h))


def test_outputs_must_be_symbolic():
    with pytest.raises(TypeError, match="symbolic tensor"):
        cr.Model(cr.Input(shape=(2,)), np.zeros(2))
    with pytest.raises(ValueError, match="inputs must come from cr.Input"):
        x = cr.Input(shape=(2,))
        h = layers.Dense(2)(x)
        cr.Model(h, layers.Dense(1)(h))


def test_gradients_flow_through_a_graph_like_through_the_layers():
    cr.set_default_dtype(np.float64)
    cr.manual_seed(0)
    x = cr.Input(shape=(4,))
    d1, d2 = layers.Dense(3, activation="tanh"), layers.Dense(2)
    model = cr.Model(x, d2(d1(x)))
    data = np.random.default_rng(0).standard_normal((5, 4))
    model(data).sum().backward()
    graph_grads = [p.grad.numpy().copy() for p in model.parameters()]
    for p in model.parameters():
        p.grad = None
    d2(d1(data)).sum().backward()
    for g, p in zip(graph_grads, model.parameters()):
        np.testing.assert_array_equal(g, p.grad.numpy())


def test_a_sequential_is_callable_on_symbolic_tensors():
    seq = cr.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    x = cr.Input(shape=(6,))
    out = seq(x)
    assert out.shape == (None, 2) and seq.count_params() == 28 + 10
    model = cr.Model(x, out)
    assert model.predict(np.ones((3, 6))).shape == (3, 2)


def test_summary_has_keras_connected_to_column():
    lines = []
    toy_resnet().summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in lines[2]
    add_row = next(i for i, line in enumerate(lines) if "(Add)" in line)
    assert lines[add_row].rstrip().endswith("[0][0]") and "conv2d" in lines[add_row]
    assert lines[add_row + 1].strip().startswith("max_pooling2d")
    assert "Total params: 223,242" in text
    assert " img (InputLayer)" in text and "(None, 32, 32, 3)" in text


def test_a_subclassed_model_still_needs_forward():
    class Empty(cr.Model):
        pass

    with pytest.raises(NotImplementedError, match="must define forward"):
        Empty()(np.zeros((1, 2)))


def test_call_arguments_are_checked_when_drawing():
    with pytest.raises(TypeError, match=r"Dense 'typo' cannot be called.*'logitz'"):
        layers.Dense(2, name="typo")(cr.Input(shape=(3,)), logitz=True)


def test_symbolic_initial_state_is_a_graph_input():
    """Keras' encoder-decoder pattern: an LSTM's states start another LSTM."""
    cr.set_default_dtype(np.float64)
    enc_in, dec_in = cr.Input(shape=(None, 3)), cr.Input(shape=(None, 2))
    _, h, c = layers.LSTM(4, return_state=True)(enc_in)
    decoder = layers.LSTM(4, return_sequences=True)
    model = cr.Model([enc_in, dec_in], decoder(dec_in, initial_state=[h, c]))
    rng = np.random.default_rng(0)
    xe, xd = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 2))
    encoder = model.layers[2]
    _, h0, c0 = encoder(xe)
    np.testing.assert_allclose(model([xe, xd]).numpy(),
                               decoder(xd, initial_state=[h0, c0]).numpy(), rtol=1e-12)
    assert model.output.shape == (None, None, 4)
