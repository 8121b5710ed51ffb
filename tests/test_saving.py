"""Saving and loading: round trips, exact resumption, atomic writes, and files that
are corrupt or hostile (each must raise ModelFormatError and execute nothing)."""

import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import initializers
from chainrule.io import ModelFormatError
from chainrule.layers import LAYER_REGISTRY, BatchNormalization, Dense, Dropout, Layer
from chainrule.models import Model, Sequential, load_model


def _problem(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    return x, (x[:, 0] - x[:, 2] > 0).astype(np.int64)


def _model(lazy=False):
    first = Dense(8, activation="relu") if lazy else Dense(8, activation="relu", input_dim=4)
    model = Sequential([first, BatchNormalization(), Dropout(0.2), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", "auc"])
    return model


@pytest.fixture
def saved(tmp_path):
    """A trained model and the path it was saved to."""
    cr.manual_seed(0)
    x, y = _problem()
    model = _model()
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    return model, path


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("lazy", [False, True])
def test_save_load_gives_identical_predictions(tmp_path, lazy):
    cr.manual_seed(0)
    x, y = _problem()
    model = _model(lazy)
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    path = tmp_path / "any.name"
    model.save(path)
    assert os.listdir(tmp_path) == ["any.name"]  # nothing appended, no temp files left
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {"config.json", "model.weights.safetensors",
                                      "optimizer.json", "optimizer.safetensors",
                                      "compile.json", "metadata.json"}
        config = json.loads(zf.read("config.json"))
    assert config["class_name"] == "Sequential"
    assert [layer["class_name"] for layer in config["config"]["layers"]] == [
        "Dense", "BatchNormalization", "Dropout", "Dense"]
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.metrics_names == ["loss", "accuracy", "auc"]
    assert type(loaded.loss) is cr.losses.BinaryCrossentropy
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert loaded.evaluate(x, y) == pytest.approx(model.evaluate(x, y))


def _train(epochs_before_save, total_epochs, tmp_path, reload_optimizer=True):
    cr.manual_seed(0)
    x, y = _problem()
    model = _model()
    history = model.fit(x, y, epochs=epochs_before_save, batch_size=8, verbose=0)
    losses = list(history.history["loss"])
    if epochs_before_save < total_epochs:
        model.save(tmp_path / "checkpoint.keras")
        del model
        model = load_model(tmp_path / "checkpoint.keras", compile=reload_optimizer)
        if not reload_optimizer:
            model.compile(optimizer="adam", loss="binary_crossentropy",
                          metrics=["accuracy", "auc"])
        history = model.fit(x, y, epochs=total_epochs, initial_epoch=epochs_before_save,
                            batch_size=8, verbose=0)
        losses += history.history["loss"]
    return model.state_dict(), losses


def test_train_save_load_train_equals_training_straight_through(tmp_path):
    # The same seed and the same draws in the same order: initial weights, then one
    # shuffle permutation and the dropout masks per epoch. Loading draws no random
    # numbers, so epochs 3-4 see the same shuffles and masks; the optimizer's moments
    # and step counts must come back exactly for the weights to agree.
    straight, straight_losses = _train(4, 4, tmp_path)
    resumed, resumed_losses = _train(2, 4, tmp_path)
    for key in straight:
        np.testing.assert_allclose(resumed[key], straight[key], atol=1e-6, rtol=0)
    np.testing.assert_allclose(resumed_losses, straight_losses, rtol=1e-6)
    # the control: a fresh optimizer after loading does not reproduce the run
    fresh, _ = _train(2, 4, tmp_path, reload_optimizer=False)
    assert max(np.abs(fresh[k] - straight[k]).max() for k in straight) > 1e-4


def test_loading_draws_no_random_numbers(saved):
    _, path = saved
    cr.manual_seed(3)
    expected = cr.backend.rng().random()
    cr.manual_seed(3)
    load_model(path)
    assert cr.backend.rng().random() == expected


def test_save_weights_and_load_weights_all_or_nothing(tmp_path, saved):
    model, _ = saved
    path = tmp_path / "weights.safetensors"
    model.save_weights(path)
    cr.manual_seed(1)
    other = _model()
    other.build((None, 4))
    other.load_weights(path)
    for key, value in other.state_dict().items():
        np.testing.assert_array_equal(value, model.state_dict()[key])
    different = Sequential([Dense(8, input_dim=4), Dense(2)])
    different.build((None, 4))
    before = different.state_dict()
    with pytest.raises(ModelFormatError, match="does not fit"):
        different.load_weights(path)
    for key, value in different.state_dict().items():
        np.testing.assert_array_equal(value, before[key])


class Scale(Layer):
    """A custom layer (not chainrule's, so not in the registry)."""

    def __init__(self, factor=2.0, **kwargs):
        self.factor = factor
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.add_weight("w", (input_shape[-1],), "ones")

    def forward(self, x):
        return x * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_custom_layers_load_only_when_named(tmp_path, monkeypatch):
    monkeypatch.setattr(LAYER_REGISTRY, "_objects", dict(LAYER_REGISTRY._objects))
    cr.manual_seed(0)
    model = Sequential([Dense(3, input_dim=4), Scale(3.0)])
    model.compile(optimizer="sgd", loss="mse")
    path = tmp_path / "custom.keras"
    model.save(path)
    with pytest.raises(ModelFormatError, match="unknown layer class 'Scale'"):
        load_model(path)
    x = np.ones((2, 4))
    np.testing.assert_array_equal(load_model(path, custom_objects={"Scale": Scale}).predict(x),
                                  model.predict(x))
    cr.models.register_layer(Scale)
    assert load_model(path).layers[1].factor == 3.0


def test_subclassed_models_save_weights_and_explain_full_save(tmp_path):
    class TwoLayer(Model):
        def __init__(self):
            super().__init__()
            self.hidden = Dense(4, activation="relu")
            self.out = Dense(1)

        def forward(self, x):
            return self.out(self.hidden(x))

    cr.manual_seed(0)
    model = TwoLayer()
    x = np.ones((2, 3))
    model.predict(x)
    with pytest.raises(NotImplementedError, match="get_config"):
        model.save(tmp_path / "m.keras")
    assert not os.listdir(tmp_path)
    model.save_weights(tmp_path / "m.safetensors")
    other = TwoLayer()
    other.predict(x)
    other.load_weights(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(other.predict(x), model.predict(x))


# ---------------------------------------------------------------- atomic writes


def test_a_save_that_fails_midway_leaves_the_previous_file(saved, monkeypatch):
    model, path = saved
    original_bytes = path.read_bytes()
    calls = []
    real = zipfile.ZipFile.writestr

    def failing(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == original_bytes
    assert os.listdir(path.parent) == [path.name]
    load_model(path)


# ---------------------------------------------------------------- hostile files


class Payload:
    """Unpickling this creates the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _rewrite(src, dst, **replace):
    """Copy the model archive at ``src`` to ``dst`` with some members replaced."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, replace.pop(name, None) or zin.read(name))
        for name, data in replace.items():
            zout.writestr(name, data)
    return dst


def _config(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json"))


def _safetensors(header: dict, data: bytes) -> bytes:
    head = json.dumps(header).encode()
    return struct.pack("<Q", len(head)) + head + data


def _hostile_files(path, tmp_path, marker):
    pickled = pickle.dumps(Payload(marker))
    config = _config(path)
    os_system = json.loads(json.dumps(config))
    os_system["config"]["layers"][0] = {"class_name": "os.system",
                                        "config": {"command": f"touch {marker}"}}
    builtins_eval = {**config, "class_name": "builtins.eval",
                     "config": {"source": f"open({str(marker)!r}, 'w')"}}
    huge = json.loads(json.dumps(config))
    huge["config"]["layers"][0]["config"].update(units=10**9, input_shape=[10**6])
    wide = json.loads(json.dumps(config))
    wide["config"]["layers"][0]["config"].update(units=50_000, input_shape=[50_000])
    bad_shape = json.loads(json.dumps(config))
    bad_shape["config"]["layers"][0]["config"]["units"] = 7
    valid = path.read_bytes()
    yield "pickle as weights", _rewrite(path, tmp_path / "a", **{
        "model.weights.safetensors": pickled})
    yield "pickle as config", _rewrite(path, tmp_path / "b", **{"config.json": pickled})
    yield "object dtype", _rewrite(path, tmp_path / "c", **{
        "model.weights.safetensors": _safetensors(
            {"0.kernel": {"dtype": "O", "shape": [1], "data_offsets": [0, 8]}}, bytes(8))})
    npy = tmp_path / "obj.npy"
    np.save(npy, np.array([Payload(marker)], dtype=object), allow_pickle=True)
    yield "npy object array", _rewrite(path, tmp_path / "d", **{
        "model.weights.safetensors": npy.read_bytes()})
    yield "os.system layer", _rewrite(path, tmp_path / "e", **{
        "config.json": json.dumps(os_system).encode()})
    yield "builtins.eval model", _rewrite(path, tmp_path / "f", **{
        "config.json": json.dumps(builtins_eval).encode()})
    yield "huge layer", _rewrite(path, tmp_path / "g", **{"config.json": json.dumps(huge).encode()})
    yield "more weights than stored", _rewrite(path, tmp_path / "g2", **{
        "config.json": json.dumps(wide).encode()})
    yield "wrong shape", _rewrite(path, tmp_path / "h", **{
        "config.json": json.dumps(bad_shape).encode()})
    yield "not json", _rewrite(path, tmp_path / "i", **{"compile.json": b"\xff{"})
    yield "hostile optimizer", _rewrite(path, tmp_path / "j", **{
        "optimizer.json": json.dumps({"name": "os.system", "hyperparameters": {}}).encode()})
    truncated = tmp_path / "k"
    truncated.write_bytes(valid[: len(valid) // 2])
    yield "truncated zip", truncated
    garbage = tmp_path / "l"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    yield "garbage", garbage
    pickle_file = tmp_path / "m"
    pickle_file.write_bytes(pickled)
    yield "a pickle file", pickle_file
    missing = tmp_path / "n"
    with zipfile.ZipFile(missing, "w") as zf:
        zf.writestr("config.json", json.dumps(config))
    yield "missing weights", missing
    bomb = tmp_path / "o"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", json.dumps(config))
        zf.writestr("model.weights.safetensors", bytes(30 << 20))
    yield "zip bomb", bomb


def test_hostile_files_raise_model_format_error_and_execute_nothing(saved, tmp_path):
    _, path = saved
    marker = tmp_path / "pwned"
    initialize = initializers.initialize
    cr.manual_seed(5)
    state = cr.backend.rng().bit_generator.state
    cases = list(_hostile_files(path, tmp_path, marker))
    for name, bad in cases:
        with pytest.raises(ModelFormatError):
            load_model(bad)
        assert not marker.exists(), name
    # the interpreter is healthy: nothing left patched, no random numbers drawn
    assert initializers.initialize is initialize
    assert cr.backend.rng().bit_generator.state == state
    with pytest.raises(ModelFormatError):  # load_weights checks the same way
        _model().load_weights(cases[0][1])
    x, _ = _problem()
    assert load_model(path).predict(x).shape == (64, 1)


def test_error_messages_name_the_problem(saved, tmp_path):
    _, path = saved
    marker = tmp_path / "pwned"
    messages = {}
    for name, bad in _hostile_files(path, tmp_path, marker):
        with pytest.raises(ModelFormatError) as info:
            load_model(bad)
        messages[name] = str(info.value)
    assert "'os.system'" in messages["os.system layer"]
    assert "'builtins.eval'" in messages["builtins.eval model"]
    assert "'O'" in messages["object dtype"]
    # a Dense of 10**6 x 10**9 builds from shapes: the weights budget refuses it
    assert "more weight values than model.weights.safetensors can hold" in \
        messages["huge layer"]
    assert "more weight values" in messages["more weights than stored"]
    assert "'0.kernel' has shape (4, 8), the model expects (4, 7)" in messages["wrong shape"]
    assert "missing member(s) ['model.weights.safetensors']" in messages["missing weights"]
    assert "zip bomb" in messages["zip bomb"]
    assert "not a chainrule model file" in messages["garbage"]


def test_random_corruption_never_escapes_as_another_error(saved, tmp_path):
    _, path = saved
    valid = path.read_bytes()
    rng = np.random.default_rng(0)
    outcomes = set()
    for i in range(40):
        data = bytearray(valid)
        for pos in rng.integers(0, len(data), size=3):
            data[pos] ^= int(rng.integers(1, 256))
        bad = tmp_path / f"corrupt{i}"
        bad.write_bytes(bytes(data))
        try:
            load_model(bad)
            outcomes.add("loaded")
        except ModelFormatError:
            outcomes.add("ModelFormatError")
    assert "ModelFormatError" in outcomes


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "nope.keras")


# ---------------------------------------------------------------- the generator's state


def test_restore_rng_continues_the_generator_from_where_the_model_was_saved(saved, tmp_path):
    model, _ = saved
    cr.manual_seed(7)
    cr.backend.rng().random(5)
    path = tmp_path / "m.keras"
    model.save(path)
    expected = cr.backend.rng().random(4)  # what the saving run draws next
    cr.manual_seed(99)
    state = cr.backend.get_rng_state()
    load_model(path)  # by default loading changes nothing global
    assert cr.backend.get_rng_state() == state
    load_model(path, restore_rng=True)
    np.testing.assert_array_equal(cr.backend.rng().random(4), expected)


def test_restore_rng_refuses_a_file_without_a_valid_state(saved, tmp_path):
    _, path = saved
    metadata = json.loads(zipfile.ZipFile(path).read("metadata.json"))
    for name, rng_state, message in (
            ("old", None, "holds no random-generator state"),
            ("bad", {"bit_generator": "PCG64", "state": {"state": "x", "inc": 1}},
             "metadata.json: set_rng_state: invalid PCG64 state"),
            ("alien", {"bit_generator": "os.system"}, "bit_generator one of")):
        bad = _rewrite(path, tmp_path / name, **{"metadata.json": json.dumps(
            {**metadata, "rng": rng_state}).encode()})
        state = cr.backend.get_rng_state()
        with pytest.raises(ModelFormatError, match=message):
            load_model(bad, restore_rng=True)
        assert cr.backend.get_rng_state() == state
        load_model(bad)  # the weights themselves load


def test_weights_with_nan_load_with_a_warning_naming_them(tmp_path):
    cr.manual_seed(0)
    model = Sequential([Dense(3, input_dim=2), Dense(1)])
    model.build((None, 2))
    model.layers[1].kernel.data[1, 0] = np.nan
    model.save(tmp_path / "nan.keras")
    with pytest.warns(cr.io.NonFiniteWeightsWarning, match=r"'1.kernel' \(1 NaN, 0 infinite"):
        loaded = load_model(tmp_path / "nan.keras")
    assert np.isnan(loaded.layers[1].kernel.data[1, 0])
