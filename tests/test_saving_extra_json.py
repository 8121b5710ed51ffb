"""The hook for tools built on chainrule: extra JSON members in a model file
(``save_model(..., extra_json=...)``, ``load_extra_json``), read by the same checked
archive reader as the model itself."""

import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule.io import ModelFormatError
from chainrule.layers import Dense
from chainrule.models import Sequential, load_extra_json, load_model, save_model

EXTRA = {"numeric": [{"name": "Age", "mean": 38.9, "scale": 10.5}], "classes": [0, 1]}


@pytest.fixture
def model():
    cr.manual_seed(0)
    model = Sequential([Dense(3, activation="relu", input_dim=2), Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    model.build((None, 2))  # the lazy second layer too
    return model


def test_extra_members_round_trip_beside_an_unchanged_model(model, tmp_path):
    path = tmp_path / "m.chainrule"
    save_model(model, path, extra_json={"preprocessing.json": EXTRA, "notes-2.json": "hi"})
    assert load_extra_json(path, "preprocessing.json") == EXTRA
    assert load_extra_json(path, "notes-2.json") == "hi"
    x = np.ones((4, 2), np.float32)
    np.testing.assert_array_equal(load_model(path).predict(x), model.predict(x))
    with zipfile.ZipFile(path) as zf:
        assert zf.read("preprocessing.json").startswith(b"{")  # JSON, not a pickle


@pytest.mark.parametrize("name", ["config.json", "model.weights.safetensors",
                                  "optimizer.json", "metadata.json", "../up.json",
                                  "dir/x.json", "x.txt", "", ".json", 3])
def test_extra_member_names_are_checked(model, tmp_path, name):
    with pytest.raises(ValueError, match="extra_json member"):
        save_model(model, tmp_path / "m.chainrule", extra_json={name: {}})
    assert not (tmp_path / "m.chainrule").exists()


def test_a_missing_member_or_a_bad_file_is_a_model_format_error(model, tmp_path):
    path = tmp_path / "m.chainrule"
    save_model(model, path)
    with pytest.raises(ModelFormatError, match=r"missing member.*'preprocessing.json'"):
        load_extra_json(path, "preprocessing.json")
    with pytest.raises(ValueError, match="not an extra member name"):
        load_extra_json(path, "../config.json")
    bad = tmp_path / "bad.chainrule"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("preprocessing.json", "{not json")
    with pytest.raises(ModelFormatError, match="preprocessing.json is not valid JSON"):
        load_extra_json(bad, "preprocessing.json")
    (tmp_path / "text.chainrule").write_text("hello")
    with pytest.raises(ModelFormatError, match="not a chainrule model file"):
        load_extra_json(tmp_path / "text.chainrule", "preprocessing.json")


def test_extra_members_go_through_the_archive_readers_limits(model, tmp_path, monkeypatch):
    path = tmp_path / "m.chainrule"
    save_model(model, path, extra_json={"big.json": "x" * 5000})
    monkeypatch.setattr(cr.io.archive, "MAX_MEMBER_BYTES", 4000)  # above config.json's size
    with pytest.raises(ModelFormatError, match="'big.json' declares 5,002 bytes"):
        load_extra_json(path, "big.json")
