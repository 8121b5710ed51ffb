"""Regularizers: each adds exactly its penalty to the training loss (hand-computed values,
and torch's ``weight_decay`` where the two are equivalent), on every layer that takes
them; ``model.losses``; saved and restored by registered name only."""

import json
import zipfile

import numpy as np
import pytest

import chainrule as cr
from chainrule import layers, regularizers
from chainrule.layers import Dense

KERNEL = np.array([[1.0, -2.0], [3.0, -4.0], [0.5, 0.0]])  # sum |w| = 10.5, sum w^2 = 30.25
BIAS = np.array([0.5, -1.5])  # sum |b| = 2, sum b^2 = 2.5


@pytest.fixture(autouse=True)
def float64():
    cr.set_default_dtype(np.float64)


def fixed_dense(**kwargs) -> Dense:
    layer = Dense(2, input_dim=3, **kwargs)
    layer.set_weights([KERNEL, BIAS])
    return layer


@pytest.mark.parametrize("regularizer,expected", [
    (regularizers.L1(0.1), 0.1 * 10.5),
    (regularizers.L2(0.1), 0.1 * 30.25),
    (regularizers.L1L2(l1=0.1, l2=0.01), 0.1 * 10.5 + 0.01 * 30.25),
    (regularizers.L1L2(), 0.0),
    (regularizers.l1(), 0.01 * 10.5),  # Keras' defaults: 0.01
    (regularizers.l2(), 0.01 * 30.25),
    (regularizers.get("l1_l2"), 0.01 * 10.5 + 0.01 * 30.25),  # the name's defaults
])
def test_each_penalty_is_the_hand_computed_value(regularizer, expected):
    assert float(regularizer(KERNEL).data) == pytest.approx(expected, rel=1e-15, abs=1e-15)
    layer = fixed_dense(kernel_regularizer=regularizer)
    assert [float(p.data) for p in layer.losses] == pytest.approx([expected], abs=1e-15)


def test_kernel_bias_and_activity_penalties_add_up():
    layer = fixed_dense(kernel_regularizer=regularizers.L1(0.1),
                        bias_regularizer=regularizers.L2(0.2),
                        activity_regularizer=regularizers.L2(0.05))
    x = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    y = x @ KERNEL + BIAS
    layer(x)
    expected = [0.1 * 10.5, 0.2 * 2.5, 0.05 * np.sum(y ** 2) / 2]  # activity: mean over batch
    np.testing.assert_allclose([float(p.data) for p in layer.losses], expected, rtol=1e-14)


def test_keras_docstring_example_gives_5_25():
    """keras.regularizers.Regularizer's example: kernel 0.25, activity (after dividing by
    the batch size of 5) 5.0."""
    layer = Dense(5, input_dim=5, kernel_initializer="ones",
                  kernel_regularizer=regularizers.L1(0.01),
                  activity_regularizer=regularizers.L2(0.01))
    layer(np.ones((5, 5)) * 2.0)
    assert sum(float(p.data) for p in layer.losses) == pytest.approx(5.25, rel=1e-14)


def test_activity_penalty_is_the_mean_over_the_batch_and_follows_the_last_call():
    layer = fixed_dense(activity_regularizer=regularizers.L1(1.0))
    x = np.array([[1.0, 2.0, 3.0]])
    layer(np.repeat(x, 4, axis=0))
    one = float(layer.losses[0].data)
    assert one == pytest.approx(np.abs(x @ KERNEL + BIAS).sum(), rel=1e-14)
    layer(x)  # a new outermost call replaces the previous penalty
    assert len(layer.losses) == 1 and float(layer.losses[0].data) == pytest.approx(one)


def test_an_activity_penalty_on_the_last_layer_sees_the_activation_not_the_logits():
    """compile's fused cross-entropy runs the last layer with logits=True; the penalty is
    still on the probabilities, as Keras computes it."""
    model = cr.Sequential([cr.Input(shape=(3,)), Dense(2, activation="softmax",
                                                       activity_regularizer="l1")])
    model.layers[0].set_weights([KERNEL, BIAS])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x, y = np.array([[1.0, 2.0, 3.0]]), np.array([[0.0, 1.0]])
    total = float(model.compute_loss(x, y).data)
    p = model.predict(x)
    assert total == pytest.approx(-np.log(p[0, 1]) + 0.01 * np.abs(p).sum(), rel=1e-12)


def test_a_shared_layer_keeps_the_penalty_of_each_call():
    shared = Dense(2, input_dim=3, activity_regularizer=regularizers.L1(1.0))
    a, b = cr.Input(shape=(3,)), cr.Input(shape=(3,))
    model = cr.Model([a, b], layers.add([shared(a), shared(b)]))
    shared.set_weights([KERNEL, BIAS])
    xa, xb = np.ones((2, 3)), -np.ones((2, 3))
    model([xa, xb])
    expected = [np.abs(x @ KERNEL + BIAS).sum() / 2 for x in (xa, xb)]
    np.testing.assert_allclose([float(p.data) for p in model.losses], expected, rtol=1e-14)


def dense_model(**kwargs):
    model = cr.Sequential([fixed_dense(**kwargs)])
    model.compile(optimizer=cr.optim.SGD(lr=0.0), loss="mse")
    return model


def test_fit_reports_and_evaluate_and_compute_loss_include_the_penalties():
    model = dense_model(kernel_regularizer=regularizers.L2(0.1))
    x = np.array([[1.0, 0.0, 2.0], [0.0, 1.0, -1.0]])
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    expected = np.mean((x @ KERNEL + BIAS - y) ** 2) + 0.1 * 30.25
    assert float(model.compute_loss(x, y).data) == pytest.approx(expected, rel=1e-14)
    assert model.evaluate(x, y) == pytest.approx(expected, rel=1e-14)
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0)  # lr 0: weights stay
    assert history.history["loss"] == pytest.approx([expected], rel=1e-14)


def test_a_frozen_weight_adds_no_penalty_as_in_keras():
    layer = fixed_dense(kernel_regularizer="l2")
    layer.trainable = False
    assert layer.losses == []


@pytest.mark.parametrize("make,weight,argument", [
    (lambda **k: layers.Conv2D(3, 2, input_shape=(5, 5, 2), **k), "kernel",
     "kernel_regularizer"),
    (lambda **k: layers.Conv1D(3, 2, input_shape=(6, 2), **k), "bias", "bias_regularizer"),
    (lambda **k: layers.Conv2DTranspose(3, 2, input_shape=(4, 4, 2), **k), "kernel",
     "kernel_regularizer"),
    (lambda **k: layers.SimpleRNN(3, input_shape=(4, 2), **k), "kernel",
     "kernel_regularizer"),
    (lambda **k: layers.LSTM(3, input_shape=(4, 2), **k), "recurrent_kernel",
     "recurrent_regularizer"),
    (lambda **k: layers.GRU(3, input_shape=(4, 2), **k), "bias", "bias_regularizer"),
    (lambda **k: layers.Embedding(7, 3, input_length=4, **k), "embeddings",
     "embeddings_regularizer"),
])
def test_every_layer_family_takes_its_regularizers(make, weight, argument):
    cr.manual_seed(0)
    layer = make(**{argument: regularizers.L1L2(l1=0.3, l2=0.7)})
    w = getattr(layer, weight).numpy()
    (penalty,) = layer.losses
    assert float(penalty.data) == pytest.approx(0.3 * np.abs(w).sum() + 0.7 * np.sum(w ** 2),
                                                rel=1e-14)
    assert layer.get_config()[argument] == {"class_name": "L1L2",
                                            "config": {"l1": 0.3, "l2": 0.7}}


def test_the_penalty_gradient_reaches_the_weight():
    layer = fixed_dense(kernel_regularizer=regularizers.L2(0.5))
    layer.losses[0].backward()
    np.testing.assert_allclose(layer.kernel.grad.numpy(), 2 * 0.5 * KERNEL, rtol=1e-15)


def train_both(torch, make_cr_optimizer, make_torch_optimizer, l2: float, steps: int = 5):
    """A Dense(2) regression trained by chainrule with L2(l2) on kernel and bias, and by
    torch with the same start and ``weight_decay``; returns both final weights."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    model = dense_model(kernel_regularizer=regularizers.L2(l2),
                        bias_regularizer=regularizers.L2(l2))
    model.compile(optimizer=make_cr_optimizer(), loss="mse")
    model.fit(x, y, batch_size=8, epochs=steps, shuffle=False, verbose=0)
    linear = torch.nn.Linear(3, 2, dtype=torch.float64)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(KERNEL.T))
        linear.bias.copy_(torch.tensor(BIAS))
    opt = make_torch_optimizer(linear.parameters())
    for _ in range(steps):
        opt.zero_grad()
        torch.nn.functional.mse_loss(linear(torch.tensor(x)), torch.tensor(y)).backward()
        opt.step()
    kernel, bias = model.layers[0].get_weights()
    return (kernel, bias), (linear.weight.detach().numpy().T, linear.bias.detach().numpy())


@pytest.mark.parametrize("name", ["sgd", "sgd_momentum", "adam"])
def test_l2_equals_torch_weight_decay_twice_the_factor(torch, name):
    """d/dw l2 * sum(w^2) = 2 l2 w: L2(l2) is torch's weight_decay = 2 l2 for SGD (with
    or without momentum) and for Adam's coupled decay."""
    l2, lr = 0.05, 0.1
    makers = {
        "sgd": (lambda: cr.optim.SGD(lr=lr),
                lambda p: torch.optim.SGD(p, lr=lr, weight_decay=2 * l2)),
        "sgd_momentum": (lambda: cr.optim.SGD(lr=lr, momentum=0.9),
                         lambda p: torch.optim.SGD(p, lr=lr, momentum=0.9,
                                                   weight_decay=2 * l2)),
        "adam": (lambda: cr.optim.Adam(lr=lr),
                 lambda p: torch.optim.Adam(p, lr=lr, weight_decay=2 * l2)),
    }
    ours, theirs = train_both(torch, *makers[name], l2=l2)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_regularizers_by_name_class_config_and_function():
    assert isinstance(regularizers.get("l2"), regularizers.L2)
    assert regularizers.get("L1").l1 == 0.01
    assert regularizers.get(regularizers.L2).l2 == 0.01
    assert regularizers.get({"class_name": "L2", "config": {"l2": 0.3}}).l2 == 0.3
    fn = lambda w: 0.0 * w.sum()  # noqa: E731
    assert regularizers.get(fn) is fn and regularizers.get(None) is None
    assert regularizers.l1_l2 is regularizers.L1L2  # Keras' lower-case names
    with pytest.raises(ValueError, match=r"^Unknown regularizer 'l3'; choose one of "
                                         r"\['l1', 'l1_l2', 'l2'\]"):
        regularizers.get("l3")


@pytest.mark.parametrize("value", [-0.1, float("nan"), "0.1", True])
def test_bad_factors_are_named(value):
    with pytest.raises(ValueError, match=r"Invalid value for argument `l2` of `L2`: expected "
                                         r"a finite number >= 0"):
        regularizers.L2(value)


def test_saved_and_loaded_by_registered_name(tmp_path):
    cr.manual_seed(0)
    model = cr.Sequential([
        layers.Embedding(10, 4, input_length=3, embeddings_regularizer="l2"),
        layers.LSTM(3, recurrent_regularizer=regularizers.L1(0.2),
                    activity_regularizer=regularizers.L1L2(l1=0.1, l2=0.2)),
        Dense(2, kernel_regularizer=regularizers.L1L2(l1=1e-3, l2=1e-4),
              bias_regularizer=regularizers.L2(0.3))])
    model.compile(optimizer="adam", loss="mse")
    x = np.array([[1, 2, 3], [4, 5, 0]])
    model(x)
    expected = [float(p.data) for p in model.losses]
    assert len(expected) == 5  # embeddings, recurrent kernel, dense kernel, bias; activity
    model.save(tmp_path / "m.zip")
    loaded = cr.models.load_model(tmp_path / "m.zip")
    loaded(x)
    assert [float(p.data) for p in loaded.losses] == pytest.approx(expected, rel=1e-14)
    for mine, theirs in zip(model.layers, loaded.layers):
        assert theirs.get_config() == mine.get_config()


def renamed(spec, old: str, new: str):
    """``spec`` (JSON data) with every ``"class_name": old`` made ``new``."""
    if isinstance(spec, dict):
        return {k: new if k == "class_name" and v == old else renamed(v, old, new)
                for k, v in spec.items()}
    if isinstance(spec, list):
        return [renamed(v, old, new) for v in spec]
    return spec


def test_an_unknown_regularizer_is_refused_on_load(tmp_path):
    config = renamed(fixed_dense(kernel_regularizer="l2").get_config(), "L2", "os.system")
    with pytest.raises(ValueError, match=r"Unknown regularizer 'os.system'"):
        Dense.from_config(config)
    model = cr.Sequential([fixed_dense(kernel_regularizer="l2")])
    model.compile(optimizer="sgd", loss="mse")
    model.save(tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as z:
        members = {name: z.read(name) for name in z.namelist()}
    members["config.json"] = json.dumps(
        renamed(json.loads(members["config.json"]), "L2", "Evil")).encode()
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(cr.io.ModelFormatError, match="Unknown regularizer 'Evil'"):
        cr.models.load_model(tmp_path / "bad.zip")
