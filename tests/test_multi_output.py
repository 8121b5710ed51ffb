"""compile / fit / evaluate / predict for functional models: per-output ``loss``,
``loss_weights`` and ``metrics`` as lists or dicts, Keras' History keys, dict and list
inputs and targets, validation_split, shuffling, sample and class weights, and the
explicit-logits path per output."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers


def two_headed(seed: int = 0):
    """Inputs "num" (4,) and "cat" ids; outputs "flag" (sigmoid) and "kind" (softmax, 3)."""
    cr.manual_seed(seed)
    num = cr.Input(shape=(4,), name="num")
    cat = cr.Input(shape=(1,), name="cat", dtype="int64")
    emb = layers.Flatten()(layers.Embedding(5, 2)(cat))
    h = layers.Dense(8, activation="relu")(layers.concatenate([num, emb]))
    flag = layers.Dense(1, activation="sigmoid", name="flag")(h)
    kind = layers.Dense(3, activation="softmax", name="kind")(h)
    return cr.Model([num, cat], [flag, kind])


def data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    num = rng.standard_normal((n, 4)).astype(np.float32)
    cat = rng.integers(0, 5, size=(n, 1))
    flag = (num[:, 0] > 0).astype(np.float32)[:, None]
    kind = (cat[:, 0] % 3).astype(np.int64)
    return {"num": num, "cat": cat}, {"flag": flag, "kind": kind}


def test_history_keys_follow_keras():
    model = two_headed()
    model.compile(optimizer="adam", loss=["binary_crossentropy",
                                          "sparse_categorical_crossentropy"],
                  metrics={"flag": ["accuracy"], "kind": ["accuracy"]})
    x, y = data()
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    assert sorted(history.history) == sorted([
        "loss", "flag_loss", "kind_loss", "flag_accuracy", "kind_accuracy",
        "val_loss", "val_flag_loss", "val_kind_loss", "val_flag_accuracy",
        "val_kind_accuracy"])
    assert model.metrics_names == ["loss", "flag_loss", "kind_loss", "flag_accuracy",
                                   "kind_accuracy"]


def test_total_loss_is_the_weighted_sum():
    x, y = data()
    for loss_weights in ([1.0, 0.2], {"kind": 0.2}):
        model = two_headed()
        model.compile(optimizer="sgd", loss={"flag": "binary_crossentropy",
                                             "kind": "sparse_categorical_crossentropy"},
                      loss_weights=loss_weights)
        logs = model.evaluate(x, y, batch_size=64, return_dict=True)
        assert logs["loss"] == pytest.approx(logs["flag_loss"] + 0.2 * logs["kind_loss"],
                                             rel=1e-6)
        flag, kind = model.predict(x)
        bce = cr.losses.get("binary_crossentropy")(y["flag"], flag).item()
        scce = cr.losses.get("sparse_categorical_crossentropy")(y["kind"], kind).item()
        assert logs["flag_loss"] == pytest.approx(bce, rel=1e-5)
        assert logs["kind_loss"] == pytest.approx(scce, rel=1e-5)


def test_evaluate_returns_the_logs_in_order():
    model = two_headed()
    model.compile(optimizer="adam", loss=["binary_crossentropy",
                                          "sparse_categorical_crossentropy"],
                  metrics=[["accuracy"], ["accuracy"]])
    x, y = data()
    values = model.evaluate(x, y)
    assert values == list(model.evaluate(x, y, return_dict=True).values())
    assert len(values) == len(model.metrics_names) == 5


def test_list_and_dict_data_train_the_same():
    x, y = data()
    histories = []
    for as_list in (False, True):
        model = two_headed()
        model.compile(optimizer="adam", loss=["binary_crossentropy",
                                              "sparse_categorical_crossentropy"])
        cr.manual_seed(1)
        xs = [x["num"], x["cat"]] if as_list else x
        ys = [y["flag"], y["kind"]] if as_list else y
        histories.append(model.fit(xs, ys, epochs=3, batch_size=8, verbose=0).history)
    assert histories[0] == histories[1]


def test_training_reduces_both_losses():
    model = two_headed()
    model.compile(optimizer=cr.optim.Adam(lr=0.02), loss=["binary_crossentropy",
                                                          "sparse_categorical_crossentropy"],
                  metrics={"flag": "accuracy", "kind": "accuracy"})
    x, y = data(256)
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0).history
    assert history["flag_loss"][-1] < 0.5 * history["flag_loss"][0]
    assert history["kind_loss"][-1] < 0.5 * history["kind_loss"][0]
    assert history["kind_accuracy"][-1] > 0.9


def test_one_loss_serves_every_output_and_a_none_skips_one():
    model = two_headed()
    model.compile(optimizer="adam", loss="mse")
    x, y = data()
    logs = model.evaluate(x, {"flag": y["flag"], "kind": np.eye(3)[y["kind"]]},
                          return_dict=True)
    assert set(logs) == {"loss", "flag_loss", "kind_loss"}
    model.compile(optimizer="adam", loss={"kind": "sparse_categorical_crossentropy"})
    logs = model.evaluate(x, {"kind": y["kind"]}, return_dict=True)
    assert set(logs) == {"loss", "kind_loss"} and logs["loss"] == logs["kind_loss"]
    model.fit(x, {"kind": y["kind"]}, epochs=1, verbose=0)


def test_per_output_logits_path_matches_probabilities():
    """Each output's cross-entropy is computed from its logits (the stable fused op)
    and equals the clipped formula on probabilities where neither saturates."""
    model = two_headed()
    model.compile(optimizer="sgd", loss=["binary_crossentropy",
                                         "sparse_categorical_crossentropy"])
    assert model._fused_outputs() == [True, True]
    assert model.output_activations == ["sigmoid", "softmax"]
    x, y = data()
    with cr.no_grad():
        fused = model.compute_loss([x["num"], x["cat"]], [y["flag"], y["kind"]]).item()
    flag, kind = model.predict(x, batch_size=64)
    expected = (cr.losses.BinaryCrossentropy()(y["flag"], flag).item()
                + cr.losses.SparseCategoricalCrossentropy()(y["kind"], kind).item())
    assert fused == pytest.approx(expected, rel=1e-5)


def test_logits_mode_of_a_graph_output_feeding_another_layer():
    """An output that another layer also reads: that layer gets the probabilities,
    the loss the logits."""
    cr.set_default_dtype(np.float64)
    x = cr.Input(shape=(3,))
    first = layers.Dense(2, activation="softmax", name="first")(x)
    second = layers.Dense(1, name="second")(first)
    model = cr.Model(x, [first, second])
    data_x = np.random.default_rng(0).standard_normal((4, 3))
    logits, downstream = model(data_x, logits=True)
    probs, downstream_plain = model(data_x)
    np.testing.assert_allclose(cr.softmax(logits, axis=-1).numpy(), probs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(downstream.numpy(), downstream_plain.numpy(), rtol=1e-12)


def test_sample_weight_applies_to_every_output():
    model = two_headed()
    model.compile(optimizer="sgd", loss=["binary_crossentropy",
                                         "sparse_categorical_crossentropy"])
    x, y = data()
    weights = np.zeros(64)
    weights[:10] = 1.0
    first = {k: v[:10] for k, v in x.items()}, {k: v[:10] for k, v in y.items()}
    weighted = model.evaluate(x, y, sample_weight=weights, batch_size=64, return_dict=True)
    plain = model.evaluate(*first, batch_size=64, return_dict=True)
    # mean over the batch of the weighted losses: the 10 kept samples, scaled by 10/64
    assert weighted["flag_loss"] == pytest.approx(plain["flag_loss"] * 10 / 64, rel=1e-5)


def test_class_weight_is_for_one_output():
    model = two_headed()
    model.compile(optimizer="sgd", loss=["binary_crossentropy",
                                         "sparse_categorical_crossentropy"])
    x, y = data()
    with pytest.raises(ValueError, match="class_weight is for models with one output"):
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)
    num = cr.Input(shape=(4,), name="num")
    single = cr.Model(num, layers.Dense(1, activation="sigmoid", name="only")(num))
    single.compile(optimizer="sgd", loss="binary_crossentropy")
    single.fit({"num": x["num"]}, {"only": y["flag"]}, class_weight={0: 1.0, 1: 3.0},
               epochs=1, verbose=0)


def test_validation_data_as_dicts_and_shuffling_is_seeded():
    x, y = data()
    runs = []
    for _ in range(2):
        model = two_headed()
        model.compile(optimizer="adam", loss=["binary_crossentropy",
                                              "sparse_categorical_crossentropy"])
        cr.manual_seed(3)
        runs.append(model.fit(x, y, epochs=2, batch_size=8, shuffle=True, verbose=0,
                              validation_data=(x, y)).history)
    assert runs[0] == runs[1] and "val_kind_loss" in runs[0]


def test_compile_errors_name_the_outputs():
    model = two_headed()
    with pytest.raises(ValueError, match=r"key\(s\) \['nope'\].*\['flag', 'kind'\]"):
        model.compile(optimizer="adam", loss={"nope": "mse"})
    with pytest.raises(ValueError, match="lists 3 entries for a model with 2 outputs"):
        model.compile(optimizer="adam", loss=["mse", "mse", "mse"])
    with pytest.raises(ValueError, match="one entry per output"):
        model.compile(optimizer="adam", loss="mse", metrics="accuracy")


def test_data_errors_name_the_inputs():
    model = two_headed()
    model.compile(optimizer="adam", loss=["binary_crossentropy",
                                          "sparse_categorical_crossentropy"])
    x, y = data()
    with pytest.raises(ValueError, match=r"key\(s\) \['other'\]"):
        model.fit({**x, "other": x["num"]}, y, verbose=0)
    with pytest.raises(ValueError, match=r"2 inputs \['num', 'cat'\]"):
        model.fit(x["num"], y, verbose=0)
    with pytest.raises(ValueError, match="2 outputs"):
        model.fit(x, y["flag"], verbose=0)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit({"num": x["num"], "cat": x["cat"][:10]}, y, verbose=0)
    with pytest.raises(ValueError, match="data loaders yielding lists or dicts"):
        model.fit(iter([([x["num"], x["cat"]], [y["flag"], y["kind"]])]), verbose=0)


def test_integer_inputs_stay_integers():
    model = two_headed()
    model.compile(optimizer="adam", loss=["binary_crossentropy",
                                          "sparse_categorical_crossentropy"])
    x, y = data()
    seen = []
    original = model.forward

    def spy(inputs, *args, **kwargs):
        seen.append([np.asarray(i).dtype for i in inputs])
        return original(inputs, *args, **kwargs)

    model.forward = spy
    model.fit(x, y, epochs=1, batch_size=64, verbose=0)
    assert seen[0][0] == np.float32 and seen[0][1].kind == "i"
