"""Save/load of functional graphs (many inputs and outputs, shared layers, nested models,
masks, custom layers) in the safe format, and hostile graph configs refused with
``ModelFormatError``: dangling references, cycles, huge lists, unknown classes."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from test_functional_api import siamese, ticket_classifier, toy_resnet

import chainrule as cr
from chainrule import layers
from chainrule.io import ModelFormatError


def _round_trip(model, tmp_path, data, compile_args=None):
    if compile_args:
        model.compile(**compile_args)
    model.save(tmp_path / "graph.keras")
    loaded = cr.models.load_model(tmp_path / "graph.keras")
    expected, got = model.predict(data), loaded.predict(data)
    for e, g in zip(*(v if isinstance(v, list) else [v] for v in (expected, got))):
        # the same weights; float32 BLAS sums may differ in the last bit with the
        # arrays' memory alignment, so not bit for bit
        np.testing.assert_allclose(g, e, rtol=1e-6, atol=1e-7)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert loaded.count_params() == model.count_params()
    return loaded


def test_ticket_classifier_round_trips_with_its_compile_settings(tmp_path):
    cr.manual_seed(0)
    model = ticket_classifier()
    rng = np.random.default_rng(0)
    data = [rng.integers(10000, size=(4, 6)), rng.integers(10000, size=(4, 9)),
            rng.integers(2, size=(4, 12)).astype(np.float32)]
    loaded = _round_trip(model, tmp_path, data, {
        "optimizer": "rmsprop",
        "loss": [cr.losses.BinaryCrossentropy(from_logits=True),
                 cr.losses.CategoricalCrossentropy(from_logits=True)],
        "loss_weights": [1.0, 0.2], "metrics": {"department": ["accuracy"]}})
    assert loaded.output_names == ["priority", "department"]
    assert loaded.loss_weights == [1.0, 0.2]
    assert loaded.metrics_names == ["loss", "priority_loss", "department_loss",
                                    "department_accuracy"]


def test_toy_resnet_round_trips(tmp_path):
    cr.manual_seed(0)
    _round_trip(toy_resnet(), tmp_path, np.random.default_rng(0).random((2, 32, 32, 3)))


def test_shared_layers_stay_shared(tmp_path):
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    loaded = _round_trip(siamese(), tmp_path, [rng.integers(1000, size=(3, 5)),
                                               rng.integers(1000, size=(3, 5))])
    embedding = next(x for x in loaded.layers if isinstance(x, layers.Embedding))
    assert len(embedding._inbound_nodes) == 2
    assert loaded.count_params() == 128_000 + 4 * (128 + 32 + 1) * 32 + 65


def test_nested_models_round_trip(tmp_path):
    cr.manual_seed(0)
    inner_in = cr.Input(shape=(4,), name="inner_in")
    inner = cr.Model(inner_in, layers.Dense(3, name="inner_dense")(inner_in), name="inner")
    stack = cr.Sequential([layers.Dense(2, activation="tanh")], name="stack")
    x = cr.Input(shape=(4,), name="outer_in")
    model = cr.Model(x, [stack(inner(x)), inner(x)], name="outer")
    loaded = _round_trip(model, tmp_path, np.random.default_rng(0).random((5, 4)))
    assert type(loaded.get_layer("inner")) is cr.Model
    assert isinstance(loaded.get_layer("stack"), cr.Sequential)
    assert sorted(loaded.state_dict()) == sorted(model.state_dict())


def test_dict_structures_and_masks_round_trip(tmp_path):
    cr.manual_seed(0)
    ids = cr.Input(shape=(None,), dtype="int64", name="ids")
    extra = cr.Input(shape=(3,), name="extra")
    seq = layers.Embedding(20, 4, mask_zero=True)(ids)
    summary = layers.LSTM(5)(seq)
    out = layers.Dense(2, name="head")(layers.concatenate([summary, extra]))
    model = cr.Model({"ids": ids, "extra": extra}, {"head": out, "summary": summary})
    data = {"ids": np.array([[1, 2, 0], [3, 0, 0]]), "extra": np.ones((2, 3))}
    model.save(tmp_path / "dict.keras")
    loaded = cr.models.load_model(tmp_path / "dict.keras")
    for key in ("head", "summary"):
        np.testing.assert_array_equal(loaded.predict(data)[key], model.predict(data)[key])
    assert loaded.get_layer(index=2).mask_zero


def test_custom_layer_needs_registration(tmp_path):
    class Scale(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            self.factor = factor
            super().__init__(**kwargs)

        def compute_output_shape(self, input_shape):
            return input_shape

        def forward(self, x):
            return x * self.factor

        def get_config(self):
            return {**super().get_config(), "factor": self.factor}

    x = cr.Input(shape=(2,))
    model = cr.Model(x, Scale(3.0)(x))
    model.save(tmp_path / "custom.keras")
    with pytest.raises(ModelFormatError, match="unknown layer class 'Scale'"):
        cr.models.load_model(tmp_path / "custom.keras")
    loaded = cr.models.load_model(tmp_path / "custom.keras", custom_objects={"Scale": Scale})
    np.testing.assert_array_equal(loaded.predict(np.ones((1, 2))), [[3.0, 3.0]])


# ---------------------------------------------------------------- hostile configs


def _small_config():
    x = cr.Input(shape=(3,), name="x")
    h = layers.Dense(2, name="h")(x)
    model = cr.Model(x, layers.Dense(1, name="y")(h), name="small")
    return model, model.get_config()


def _write(tmp_path, model, config) -> str:
    model.save(tmp_path / "ok.keras")
    path = tmp_path / "bad.keras"
    with zipfile.ZipFile(tmp_path / "ok.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                full = json.loads(data)
                full["config"] = config
                data = json.dumps(full).encode()
            dst.writestr(item.filename, data)
    return path


def _entry(config, name):
    return next(e for e in config["layers"] if e["name"] == name)


@pytest.mark.parametrize("corrupt,match", [
    (lambda c: _entry(c, "y")["inbound_nodes"][0]["args"][0].update(
        keras_history=["ghost", 0, 0]), "dangling reference"),
    (lambda c: _entry(c, "y")["inbound_nodes"][0]["args"][0].update(
        keras_history=["h", 5, 0]), "never made"),
    (lambda c: _entry(c, "h")["inbound_nodes"][0]["args"][0].update(
        keras_history=["y", 0, 0]), "never made"),  # h <- y <- h: a cycle
    (lambda c: _entry(c, "h")["inbound_nodes"][0]["args"][0].update(
        keras_history=["h", 0, 0]), "never made"),  # a layer reading its own output
    (lambda c: _entry(c, "y")["inbound_nodes"][0]["args"][0].update(
        keras_history=["h", 0, 7]), "has 1 output"),
    (lambda c: _entry(c, "y")["inbound_nodes"][0]["args"][0].update(
        keras_history=["h", -1, 0]), "tensor reference must be"),
    (lambda c: _entry(c, "y")["inbound_nodes"][0]["args"][0].update(
        keras_history="h"), "tensor reference must be"),
    (lambda c: c.update(output_layers={"keras_history": ["nowhere", 0, 0]}), "does not exist"),
    (lambda c: c.update(input_layers=[]), "must name between 1"),
    (lambda c: c["layers"].append(dict(c["layers"][1])), "appears twice"),
    (lambda c: c["layers"].extend([{"name": f"l{i}", "class_name": "Dense",
                                    "config": {"units": 1, "name": f"l{i}"}}
                                   for i in range(10_001)]), "at most 10000"),
    (lambda c: _entry(c, "y")["inbound_nodes"][0].update(
        args=[[{"keras_history": ["h", 0, 0]}] * 1001]), "between 1 and 1000"),
    (lambda c: _entry(c, "y")["inbound_nodes"][0].update(args=[[[[[[[1]]]]]]]),
     "nested deeper"),
    (lambda c: _entry(c, "y").update(class_name="os.system"), "unknown layer class"),
    (lambda c: _entry(c, "x")["inbound_nodes"].append({"args": [1]}), "cannot have inbound"),
    (lambda c: _entry(c, "y").update(inbound_nodes="many"), "must be a list of objects"),
    (lambda c: _entry(c, "y")["config"].update(name="renamed"), "builds a layer named"),
])
def test_hostile_graph_configs_are_refused(tmp_path, corrupt, match):
    model, config = _small_config()
    corrupt(config)
    with pytest.raises(ModelFormatError, match=match):
        cr.models.load_model(_write(tmp_path, model, config))


def test_a_huge_unit_count_in_a_graph_is_refused_before_allocating(tmp_path):
    model, config = _small_config()
    _entry(config, "h")["config"]["units"] = 10**9
    with pytest.raises(ModelFormatError, match="more weight values"):
        cr.models.load_model(_write(tmp_path, model, config))


def test_layers_listed_out_of_order_still_load(tmp_path):
    """Node order comes from the references, not from the list's order."""
    model, config = _small_config()
    config["layers"].reverse()
    loaded = cr.models.load_model(_write(tmp_path, model, config))
    x = np.ones((2, 3))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
