"""``load_model`` builds from shapes alone (issue 10, point 3): no layer's ``forward``
and no op runs while a Sequential, a functional graph, a nested model or one of
chainrule's registered models is rebuilt, whatever its input shape; only a subclassed
model that cannot say its shapes is built on a zero batch, and that batch is bounded."""

from __future__ import annotations

import contextlib
import json
import zipfile
from collections.abc import Iterator

import numpy as np
import pytest
from zero_batch_model import CUSTOM_OBJECTS, ZeroBatchNet

import chainrule as cr
from chainrule import layers as L
from chainrule.autograd import Function
from chainrule.generative import GAN
from chainrule.io import ModelFormatError
from chainrule.layers.base import LAYER_REGISTRY, Layer
from chainrule.models import Model, Sequential, load_model
from chainrule.module import Module
from chainrule.unsupervised import DBN, Autoencoder


class DataRan(AssertionError):
    """Raised by the patched ops and forwards of :func:`no_data_runs`."""


def _subclasses(cls: type) -> Iterator[type]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@contextlib.contextmanager
def no_data_runs(ran: list[str] | None = None) -> Iterator[None]:
    """Inside: every op (``Function.apply``) and every Module class's own ``forward``
    raise :class:`DataRan` (recording what ran in ``ran``), so any data run fails."""
    ran = [] if ran is None else ran

    def refuse(what: str):
        ran.append(what)
        raise DataRan(f"{what} ran")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Function, "apply", classmethod(
            lambda cls, *a, **k: refuse(f"op {cls.__name__}")))
        for cls in set(_subclasses(Module)):
            if "forward" in vars(cls):
                patch.setattr(cls, "forward",
                              lambda self, *a, **k: refuse(f"{type(self).__name__}.forward"))
        yield


def _round_trip(model, tmp_path, name: str = "m.keras", **kwargs):
    """``model`` saved, then loaded under :func:`no_data_runs`."""
    path = tmp_path / name
    model.save(path)
    with no_data_runs():
        return load_model(path, **kwargs)


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


# ---------------------------------------------------------------- a zoo of models


def _dense_stack():
    return Sequential([cr.Input((6,)), L.Dense(8, activation="relu"),
                       L.BatchNormalization(), L.Dropout(0.2), L.LayerNormalization(),
                       L.GaussianNoise(0.1), L.Activation("tanh"), L.Reshape((2, 4)),
                       L.Flatten(), L.Dense(1, activation="sigmoid")]), _rng().normal(size=(3, 6))


def _lazy_conv2d_stack():
    model = Sequential([L.RandomFlip(), L.RandomTranslation(0.1, 0.1), L.ZeroPadding2D(1),
                        L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(2),
                        L.UpSampling2D(2), L.Cropping2D(1), L.Conv2DTranspose(3, 3, strides=2),
                        L.AveragePooling2D(2), L.GlobalMaxPooling2D(), L.Dense(2)])
    model.build((None, 16, 16, 3))
    return model, _rng().normal(size=(2, 16, 16, 3))


def _conv1d_graph():
    x = cr.Input((12, 4))
    h = L.AveragePooling1D(2)(L.Cropping1D(1)(L.UpSampling1D(2)(L.MaxPooling1D(2)(
        L.ZeroPadding1D(1)(L.Conv1D(4, 3)(x))))))
    pooled = L.Concatenate()([L.GlobalAveragePooling1D()(h), L.GlobalMaxPooling1D()(h),
                              L.GlobalAveragePooling2D()(L.Reshape((2, 6, 4))(x))])
    return Model(x, L.Dense(1)(pooled)), _rng().normal(size=(2, 12, 4))


def _sequence_graph():
    tokens = cr.Input((7,), dtype="int64")
    h = L.Embedding(20, 6, mask_zero=True)(tokens)
    h = L.GRU(5, return_sequences=True)(L.SimpleRNN(5, return_sequences=True)(h))
    h = L.TimeDistributed(L.Dense(6))(L.Bidirectional(L.LSTM(4, return_sequences=True))(h))
    h = L.MultiHeadAttention(2, 3)(h, h)
    out = L.Dense(2, activation="softmax")(L.LSTM(3)(h))
    return Model(tokens, out), _rng().integers(1, 20, size=(2, 7))


def _merge_graph():
    a, b = cr.Input((4,), name="a"), cr.Input((4,), name="b")
    merged = [L.Add()([a, b]), L.Subtract()([a, b]), L.Multiply()([a, b]),
              L.Average()([a, b]), L.Maximum()([a, b]), L.Minimum()([a, b]),
              L.Dot(axes=1)([a, b])]
    out = L.Dense(3)(L.Concatenate()(merged))
    return Model([a, b], out), [_rng().normal(size=(2, 4)), _rng().normal(size=(2, 4)) + 1]


def _nested():
    inner_graph_in = cr.Input((3,))
    inner_graph = Model(inner_graph_in, L.Dense(2)(inner_graph_in), name="inner_graph")
    inner_stack = Sequential([L.Dense(3, activation="relu")])  # lazy, built by the outer
    x = cr.Input((5,))
    outer = Model(x, inner_graph(inner_stack(x)), name="outer")
    stacked = Sequential([L.Dense(5, input_dim=4), outer, Sequential([L.Dense(1)])])
    return stacked, _rng().normal(size=(2, 4))


def _autoencoder():
    model = Autoencoder(Sequential([L.GaussianNoise(0.1), L.Dense(3, activation="relu")]),
                        Sequential([L.Dense(6, activation="sigmoid")]))
    model.build((None, 6))
    return model, _rng().random((2, 6))


def _dbn_model():
    dbn = DBN([6, 4, 3])
    dbn.pretrain(_rng().random((8, 6)), epochs_per_layer=1)
    return dbn.to_model(2), _rng().random((2, 6))


def _gan_generator():
    gan = GAN(Sequential([L.Dense(8, activation="relu"), L.Dense(4)]),
              Sequential([L.Dense(8, activation="relu"), L.Dense(1)]), latent_dim=3)
    gan.generator.build((None, 3))
    return gan.generator, _rng().normal(size=(2, 3))


def _gan_discriminator():
    gan = GAN(Sequential([L.Dense(4, input_dim=3)]),
              Sequential([L.Dense(8, activation="relu"), L.Dense(1)]), latent_dim=3)
    gan.discriminator.build((None, 4))
    return gan.discriminator, _rng().normal(size=(2, 4))


ZOO = {"Sequential (dense, normalisation, reshaping)": _dense_stack,
       "lazy Sequential (2-D conv, pooling, augmentation)": _lazy_conv2d_stack,
       "functional (1-D conv, pooling, concatenate)": _conv1d_graph,
       "functional (embedding, recurrent, wrappers, attention)": _sequence_graph,
       "functional (two inputs, every merge layer)": _merge_graph,
       "nested (graph in Sequential in graph, lazy inner)": _nested,
       "Autoencoder": _autoencoder, "DBN.to_model": _dbn_model,
       "GAN generator": _gan_generator, "GAN discriminator": _gan_discriminator}


def _class_names(config) -> set[str]:
    if isinstance(config, dict):
        names = {config["class_name"]} if isinstance(config.get("class_name"), str) else set()
        return names.union(*(_class_names(v) for v in config.values()))
    if isinstance(config, list):
        return set().union(*(_class_names(v) for v in config))
    return set()


@pytest.mark.parametrize("make", ZOO.values(), ids=ZOO.keys())
def test_load_model_runs_no_forward_and_no_op(make, tmp_path):
    cr.manual_seed(0)
    model, x = make()
    loaded = _round_trip(model, tmp_path)
    assert type(loaded) is type(model)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


def test_the_zoo_holds_every_registered_chainrule_layer_and_model(tmp_path):
    saved = set()
    for make in ZOO.values():
        cr.manual_seed(0)
        model, _ = make()
        model.save(tmp_path / "m.keras")
        saved |= _class_names(json.loads(zipfile.ZipFile(tmp_path / "m.keras").read(
            "config.json")))
    builtin = {name for name in LAYER_REGISTRY.names()
               if LAYER_REGISTRY.find(name).__module__.startswith("chainrule.")}
    assert builtin - saved == set()


def test_every_builtin_layer_and_model_says_its_output_shape():
    """No chainrule layer or registered model falls back to running zeros for its
    shapes (``Model`` itself computes a graph's through the graph)."""
    fallbacks = [name for name in LAYER_REGISTRY.names()
                 if (cls := LAYER_REGISTRY.find(name)).__module__.startswith("chainrule.")
                 and cls is not Model and cls.compute_output_shape in (
                     Layer.compute_output_shape, Model.compute_output_shape)]
    assert fallbacks == []


def test_the_patch_catches_a_model_that_runs_data(tmp_path):
    cr.manual_seed(0)
    model = ZeroBatchNet(Sequential([L.Dense(2)]))
    model.build((None, 3))
    model.save(tmp_path / "z.keras")
    ran: list[str] = []
    with pytest.raises(ModelFormatError, match="DataRan"), no_data_runs(ran):
        load_model(tmp_path / "z.keras", custom_objects=CUSTOM_OBJECTS)
    assert ran


def test_building_an_autoencoder_runs_no_data():
    model = Autoencoder(Sequential([L.Dense(3)]), Sequential([L.Dense(5)]))
    with no_data_runs():
        model.build((None, 5))
    assert model.compute_output_shape((None, 5)) == (None, 5)
    assert model.encoder.layers[0].kernel.shape == (5, 3)
    assert model.decoder.layers[0].kernel.shape == (3, 5)


def test_building_a_gan_runs_no_data_and_builds_both_networks():
    gan = GAN(Sequential([L.Dense(8, activation="relu"), L.Dense(4)]),
              Sequential([L.Dense(6, activation="relu"), L.Dense(1)]), latent_dim=3)
    with no_data_runs():
        gan.build((None, 3))
    assert gan.generator.layers[1].kernel.shape == (8, 4)
    assert gan.discriminator.layers[0].kernel.shape == (4, 6)


# ---------------------------------------------------------------- large models load


@pytest.mark.parametrize("layers,input_shape", [
    ([L.Conv2D(64, 3, padding="same", activation="relu"), L.MaxPooling2D(2),
      L.Conv2D(64, 3, padding="same", activation="relu"), L.GlobalAveragePooling2D(),
      L.Dense(10, activation="softmax")], (None, 224, 224, 3)),
    ([L.Conv2D(8, 3), L.GlobalMaxPooling2D(), L.Dense(1)], (None, 2048, 2048, 1)),
    ([L.LSTM(16), L.Dense(1)], (None, 1_000_000, 8)),
    ([L.UpSampling2D((64, 64)), L.Conv2D(8, 3), L.GlobalAveragePooling2D()],
     (None, 32, 32, 1)),
    ([L.ZeroPadding2D(((1000, 1000), (1000, 1000))), L.Conv2D(4, 3),
      L.GlobalAveragePooling2D()], (None, 8, 8, 1)),
    ([L.MultiHeadAttention(8, 4)], (None, 4096, 16)),
    ([L.Embedding(10, 4), L.LSTM(4)], (None, 10_000)),
], ids=["224x224x3 CNN, 64 filters", "Conv2D on 2048x2048x1", "LSTM over 10**6 steps",
        "upsampled 4,096 times", "padded by 1,000", "attention over 4,096 steps",
        "Embedding + LSTM over 10,000 steps"])
def test_large_models_saved_by_chainrule_load_from_shapes(tmp_path, layers, input_shape):
    """Inputs far beyond what a zero batch may cost: building from shapes costs only
    the weights (the hostile-file table times these loads)."""
    cr.manual_seed(0)
    model = Sequential(layers)
    model.build(input_shape)
    loaded = _round_trip(model, tmp_path)
    assert loaded._build_input_shape == input_shape
    for (name, ours), (_, theirs) in zip(loaded.state_dict().items(),
                                         model.state_dict().items()):
        np.testing.assert_array_equal(ours, theirs, err_msg=name)


# ---------------------------------------------------------------- the zero-batch path


def _zero_batch_file(tmp_path, layers: list[tuple[str, dict]], input_shape: list):
    """A ZeroBatchNet file around a Sequential of ``layers`` (class name, config) with
    ``input_shape`` as its build_config (its weights member: a small model's)."""
    cr.manual_seed(0)
    small = ZeroBatchNet(Sequential([L.Dense(2)]))
    small.build((None, 3))
    small.save(tmp_path / "small.keras")
    config = {"format": "chainrule.model", "class_name": "ZeroBatchNet", "config": {
        "name": "z", "body": {"class_name": "Sequential", "config": {"name": "s", "layers": [
            {"class_name": name, "config": config} for name, config in layers]}}},
        "build_config": {"input_shape": input_shape, "input_dtype": "float32"}}
    path = tmp_path / "zero_batch.keras"
    with zipfile.ZipFile(tmp_path / "small.keras") as src, zipfile.ZipFile(path, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, json.dumps(config) if name == "config.json" else src.read(name))
    return path


def test_a_subclassed_model_without_a_shape_rule_loads_on_a_zero_batch(tmp_path):
    cr.manual_seed(0)
    model = ZeroBatchNet(Sequential([L.Conv2D(4, 3), L.Flatten(), L.Dense(2)]))
    model.build((None, 8, 8, 1))
    model.save(tmp_path / "z.keras")
    loaded = load_model(tmp_path / "z.keras", custom_objects=CUSTOM_OBJECTS)
    x = _rng().normal(size=(2, 8, 8, 1))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize("layers,input_shape,message", [
    ([("UpSampling2D", {"size": [64, 64]}), ("Conv2D", {"filters": 8, "kernel_size": [3, 3]})],
     [None, 32, 32, 1], "grown 4,096 times: up to 301,989,888 values per sample"),
    ([("Conv2DTranspose", {"filters": 8, "kernel_size": 3, "strides": [16, 16]})],
     [None, 64, 64, 1], "grown 256 times"),
    ([("ZeroPadding2D", {"padding": [[1000, 1000], [1000, 1000]]}),
      ("Conv2D", {"filters": 4, "kernel_size": [3, 3]})], [None, 8, 8, 1],
     "up to 2,308,610,304 values per sample"),
    ([("MultiHeadAttention", {"num_heads": 8, "key_dim": 4})], [None, 4096, 16],
     "up to 134,217,728 values per sample"),
    ([("Embedding", {"input_dim": 10, "output_dim": 4}), ("LSTM", {"units": 4})],
     [None, 10_000], "a recurrent layer over 10,000 time steps"),
    ([("Dense", {"units": 100_000})], [None, 4], "a layer of width 100,000"),
    ([("Conv2D", {"filters": 8, "kernel_size": 3})], [None, 2048, 2048, 1],
     "kernels of 9 values: up to 301,989,888 values per sample"),  # 3 means 3 x 3
    ([("UpSampling2D", {"size": 8}), ("Dense", {"units": 512})], [None, 64, 64, 1],
     "grown 64 times: up to 134,217,728 values per sample"),
])
def test_what_a_zero_batch_may_cost_is_bounded_before_it_runs(tmp_path, layers,
                                                              input_shape, message):
    path, ran = _zero_batch_file(tmp_path, layers, input_shape), []
    with pytest.raises(ModelFormatError, match=(
            r"config.json: ZeroBatchNet cannot be built from shapes alone, so building it "
            r"runs a batch of zeros of shape \(None, .*the architecture asks of it .*")
            + message), no_data_runs(ran):
        load_model(path, custom_objects=CUSTOM_OBJECTS)
    assert ran == []  # refused before the batch ran


def test_a_custom_layer_without_a_shape_rule_is_bounded_too(tmp_path):
    class Double(L.Layer):  # no compute_output_shape: runs on zeros for its shapes
        def forward(self, x):
            return cr.concat([x, x], axis=-1)

    model = Sequential([cr.Input((4,)), Double(), L.Dense(1)])
    model.save(tmp_path / "d.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "d.keras").read("config.json"))
    assert load_model(tmp_path / "d.keras", custom_objects={"Double": Double}) is not None
    config["config"]["input_layer"]["config"]["batch_shape"] = [None, 64, 64, 64]
    config["config"]["layers"][1]["config"]["units"] = 100_000
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(tmp_path / "d.keras") as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            dst.writestr(name, json.dumps(config) if name == "config.json" else src.read(name))
    with pytest.raises(ModelFormatError, match="Double cannot be built from shapes alone"):
        load_model(bad, custom_objects={"Double": Double})


def test_a_shape_rule_that_leaves_parts_unbuilt_falls_back_on_the_zero_batch(tmp_path):
    class Head(ZeroBatchNet):  # says its shape, but builds nothing on the way
        def compute_output_shape(self, input_shape):
            return (None, 2)

    cr.manual_seed(0)
    model = Head(Sequential([L.Dense(2)]))
    model.build((None, 3))
    assert model.body.layers[0].kernel.shape == (3, 2)
    model.save(tmp_path / "h.keras")
    loaded = load_model(tmp_path / "h.keras", custom_objects={"Head": Head})
    np.testing.assert_array_equal(loaded.body.layers[0].kernel.data,
                                  model.body.layers[0].kernel.data)
