"""Model and Sequential: structure, summary, compile/fit/evaluate/predict semantics
(Keras'), inputs, errors, transfer learning, and PyTorch-style training."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.layers import BatchNormalization, Dense, Dropout
from chainrule.models import Model, Sequential


def _problem(n=80, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def _classifier(seed=0, **compile_args):
    cr.manual_seed(seed)
    model = Sequential([Dense(8, activation="relu", input_dim=4), Dense(1, activation="sigmoid")])
    model.compile(**{"optimizer": "adam", "loss": "binary_crossentropy",
                     "metrics": ["accuracy"], **compile_args})
    return model


# ---------------------------------------------------------------- structure


def test_sequential_add_pop_layers_and_state_dict_keys():
    model = Sequential()
    model.add(Dense(6, input_dim=11))
    model.add(BatchNormalization())
    model.add(Dense(1))
    model.build((None, 11))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "BatchNormalization",
                                                                "Dense"]
    keys = list(model.state_dict())
    assert keys[:2] == ["0.kernel", "0.bias"] and "1.moving_mean" in keys and "2.kernel" in keys
    head = model.pop()
    assert isinstance(head, Dense) and len(model.layers) == 2
    assert not any(k.startswith("2.") for k in model.state_dict())
    model.add(Dense(3))
    assert model.predict(np.zeros((2, 11))).shape == (2, 3)
    with pytest.raises(TypeError, match="expects a layer"):
        model.add("dense")
    with pytest.raises(TypeError, match="no layers"):
        Sequential().pop()


def test_summary_before_data_matches_the_tutorial_counts():
    model = Sequential()
    model.add(Dense(units=6, kernel_initializer="uniform", activation="relu", input_dim=11))
    model.add(Dense(units=6, kernel_initializer="uniform", activation="relu"))
    model.add(Dense(units=1, kernel_initializer="uniform", activation="sigmoid"))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "(None, 6)" in text and "(None, 1)" in text
    assert [line.split()[-1] for line in lines if "(Dense)" in line] == ["72", "42", "7"]
    assert "Total params: 121" in text and "Trainable params: 121" in text
    assert "Non-trainable params: 0" in text


def test_summary_counts_frozen_and_moving_statistics_as_non_trainable():
    cr.manual_seed(0)
    model = Sequential([Dense(4, input_dim=3), BatchNormalization(), Dense(2)])
    model.layers[0].trainable = False
    model.build((None, 3))
    model.layers[1].moving_mean.data[:] = 0.5
    before = model.state_dict()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    # Dense 3*4+4 = 16 frozen; BatchNormalization gamma, beta (8) trainable and moving
    # mean/variance (8) not; Dense 4*2+2 = 10 trainable
    assert "Total params: 42" in text
    assert "Trainable params: 18" in text and "Non-trainable params: 24" in text
    for key, value in model.state_dict().items():  # the zero batch changed nothing
        np.testing.assert_array_equal(value, before[key])
    assert model.training


def test_summary_of_a_lazy_model_before_and_after_data():
    model = Sequential([Dense(5), Dense(2)])
    lines = []
    model.summary(print_fn=lines.append)
    assert "0 (unbuilt)" in "\n".join(lines) and "?" in "\n".join(lines)
    model.predict(np.zeros((3, 7)))
    lines.clear()
    model.summary(print_fn=lines.append)
    assert "(None, 2)" in "\n".join(lines) and "Total params: 52" in "\n".join(lines)


# ---------------------------------------------------------------- compile and fit


def test_fit_history_keys_and_lengths():
    x, y = _problem()
    history = _classifier().fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    assert all(len(v) == 3 for v in history.history.values())
    assert history.epoch == [0, 1, 2]
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_training_logs_are_batch_size_weighted_means():
    x, y = _problem(n=50)
    model = _classifier(optimizer=cr.optim.SGD(lr=0.0))  # frozen in time: compare with evaluate
    history = model.fit(x, y, batch_size=7, epochs=1, verbose=0, shuffle=False)
    loss, accuracy = model.evaluate(x, y, batch_size=50)
    assert history.history["loss"][0] == pytest.approx(loss, rel=1e-5)
    assert history.history["accuracy"][0] == pytest.approx(accuracy)


@pytest.mark.parametrize("how", ["split", "data"])
def test_validation_keys_and_split_takes_the_last_fraction(how):
    x, y = _problem(n=100)
    model = _classifier(optimizer=cr.optim.SGD(lr=0.0))
    if how == "split":
        history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.2)
    else:
        history = model.fit(x[:80], y[:80], epochs=2, verbose=0, validation_data=(x[80:], y[80:]))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["val_loss"]) == 2
    expected = model.evaluate(x[80:], y[80:], return_dict=True)
    assert history.history["val_loss"][-1] == pytest.approx(expected["loss"], rel=1e-5)
    assert history.history["val_accuracy"][-1] == pytest.approx(expected["accuracy"])


def test_class_weight_weights_each_samples_loss():
    x, y = _problem(n=40)
    model = _classifier(optimizer=cr.optim.SGD(lr=0.0), metrics=[])
    history = model.fit(x, y, batch_size=40, epochs=1, verbose=0, class_weight={0: 1.0, 1: 3.0})
    weights = np.where(y == 1, 3.0, 1.0)
    expected = model.loss(y, model.predict(x), sample_weight=weights).item()
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)


def test_evaluate_forms():
    x, y = _problem()
    model = _classifier(metrics=["accuracy", "auc"])
    values = model.evaluate(x, y)
    assert isinstance(values, list) and len(values) == 3
    assert model.evaluate(x, y, return_dict=True) == dict(zip(model.metrics_names, values))
    plain = _classifier(metrics=None)
    assert isinstance(plain.evaluate(x, y), float)


def test_predict_is_numpy_in_eval_mode_and_restores_modes():
    cr.manual_seed(0)
    model = Sequential([Dense(16, activation="relu", input_dim=4), Dropout(0.5), Dense(1)])
    x, _ = _problem()
    out = model.predict(x, batch_size=7)
    assert isinstance(out, np.ndarray) and out.shape == (80, 1) and out.dtype == np.float32
    np.testing.assert_array_equal(out, model.predict(x, batch_size=7))  # no dropout
    assert model.training and model.layers[1].training
    model.layers[0].eval()
    model.predict(x)
    assert model.training and not model.layers[0].training


def test_inputs_lists_pandas_and_integer_targets():
    pd = pytest.importorskip("pandas")
    x, y = _problem()
    frame = pd.DataFrame(x, columns=list("abcd"))
    model = _classifier()
    model.fit(frame, pd.Series(y), epochs=1, verbose=0)
    model.fit(x.tolist(), y.tolist(), epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(frame), model.predict(x.tolist()))

    cr.manual_seed(0)
    multi = Sequential([Dense(3, activation="softmax", input_dim=4)])
    multi.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    labels = np.digitize(x[:, 0], [-0.5, 0.5])
    history = multi.fit(x, labels, epochs=2, verbose=0)
    assert 0 <= history.history["accuracy"][-1] <= 1


def test_clear_errors():
    x, y = _problem()
    model = Sequential([Dense(1, input_dim=4)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="Unknown loss 'binary_crossentrop'"):
        model.compile(optimizer="adam", loss="binary_crossentrop")
    with pytest.raises(ValueError, match="Unknown optimizer 'adan'"):
        model.compile(optimizer="adan", loss="mse")
    with pytest.raises(ValueError, match="Unknown metric 'acc_'"):
        model.compile(optimizer="adam", loss="mse", metrics=["acc_"])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="80 samples but `y` has 79"):
        model.fit(x, y[:-1], verbose=0)
    bad = x.copy()
    bad[17, 2] = np.nan
    with pytest.raises(ValueError, match="`x` contains NaN at row 17"):
        model.fit(bad, y, verbose=0)
    with pytest.raises(ValueError, match="fit needs targets"):
        model.fit(x, verbose=0)


def test_optimizer_instance_without_params_is_attached():
    x, y = _problem()
    model = Sequential([Dense(4, activation="relu"), Dense(1, activation="sigmoid")])  # lazy
    optimizer = cr.optim.Adam(lr=0.01)
    model.compile(optimizer=optimizer, loss=cr.losses.BinaryCrossentropy())
    history = model.fit(x, y, epochs=5, verbose=0)
    assert model.optimizer is optimizer
    assert len(optimizer.state) == 4  # the lazily built weights were trained
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert isinstance(optimizer.params, cr.module.ParameterView)  # live view back after fit


def test_initial_epoch_and_stop_training():
    x, y = _problem()
    model = _classifier()
    history = model.fit(x, y, epochs=5, initial_epoch=3, verbose=0)
    assert history.epoch == [3, 4]


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_verbose_output(verbose, capsys, monkeypatch):
    x, y = _problem()
    _classifier().fit(x, y, epochs=2, verbose=verbose)
    out, err = capsys.readouterr()
    lines = [line for line in (out + err).splitlines() if line.strip()]
    if verbose == 0:
        assert lines == []
    else:  # not a terminal: one tidy line per epoch
        assert len(lines) == 2 and lines[1].startswith("Epoch 2/2") and "accuracy:" in lines[1]
        assert (err if verbose == 1 else out).count("loss:") == 2


def test_verbose_bar_on_a_terminal(capsys, monkeypatch):
    from chainrule.models import progress

    monkeypatch.setattr(progress, "_isatty", lambda stream: True)
    x, y = _problem()
    _classifier().fit(x, y, epochs=2, verbose=1, validation_split=0.25)
    err = capsys.readouterr().err
    assert "Epoch 1/2" in err and "Epoch 2/2" in err and "val_accuracy" in err and "100%" in err


# ---------------------------------------------------------------- subclassing and BN


class TwoLayer(Model):
    def __init__(self):
        super().__init__()
        self.hidden = Dense(8, activation="relu")
        self.out = Dense(1, activation="sigmoid")

    def forward(self, x):
        return self.out(self.hidden(x))


def test_subclassed_model_fits_and_summarises():
    cr.manual_seed(0)
    x, y = _problem()
    model = TwoLayer()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    lines = []
    model.summary(print_fn=lines.append)
    rows = [line for line in lines if "(Dense)" in line]
    assert len(rows) == 2 and "(None, 8)" in rows[0] and "(None, 1)" in rows[1]
    assert "Total params: 49" in "\n".join(lines)


def test_batch_norm_model_trains_and_moving_statistics_move_only_in_fit():
    cr.manual_seed(0)
    x, y = _problem()
    model = Sequential([Dense(8, input_dim=4), BatchNormalization(),
                        Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.build((None, 4))
    mean = model.layers[1].moving_mean.numpy().copy()
    model.predict(x)
    model.evaluate(x, y)
    np.testing.assert_array_equal(model.layers[1].moving_mean.numpy(), mean)
    model.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(model.layers[1].moving_mean.numpy(), mean)


# ---------------------------------------------------------------- transfer learning


def test_frozen_layers_unchanged_bit_for_bit_and_head_swap():
    x, y = _problem()
    model = _classifier()
    model.fit(x, y, epochs=2, verbose=0)
    base = model.layers[0]
    base.trainable = False
    model.pop()
    model.add(Dense(2, activation="softmax"))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    frozen = {k: v.copy() for k, v in base.state_dict().items()}
    model.fit(x, y, epochs=3, verbose=0)
    head_before = model.layers[1].kernel.numpy().copy()
    model.fit(x, y, epochs=1, verbose=0)
    for key, value in base.state_dict().items():
        assert value.tobytes() == frozen[key].tobytes()
    assert not np.array_equal(model.layers[1].kernel.numpy(), head_before)
    lines = []
    model.summary(print_fn=lines.append)
    assert "Non-trainable params: 40" in "\n".join(lines)


# ---------------------------------------------------------------- PyTorch style


def test_pytorch_style_loop_trains_a_sequential():
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    model = Sequential([Dense(16, activation="relu"), Dense(3)])
    opt = cr.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        loss = cr.functional.cross_entropy(model(x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


# ---------------------------------------------------------------- explicit logits

SATURATED_X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])


def _saturated_model(units: int, activation: str, loss: str):
    """Dense(units, activation) whose logits are exactly +-40 on SATURATED_X rows."""
    layer = Dense(units, activation=activation, input_dim=2)
    kernel = np.array([[40.0], [-40.0]]) if units == 1 else np.array([[40.0, -40.0],
                                                                      [-40.0, 40.0]])
    layer.kernel.data = kernel.astype(np.float32)
    model = Sequential([layer])
    model.compile(optimizer=cr.optim.SGD(lr=0.0), loss=loss, metrics=["accuracy"])
    return model


@pytest.mark.parametrize("activation,loss,units,y", [
    ("sigmoid", "binary_crossentropy", 1, np.array([0.0, 0.0, 1.0, 1.0, 0.0])),
    ("softmax", "categorical_crossentropy", 2, np.eye(2)[[1, 1, 0, 0, 1]]),
    ("softmax", "sparse_categorical_crossentropy", 2, np.array([1, 1, 0, 0, 1])),
])
def test_saturated_outputs_give_one_loss_in_fit_evaluate_and_a_no_grad_loop(
        activation, loss, units, y):
    """Logits of +-40, three samples confidently wrong: fit's reported loss, evaluate and
    compute_loss under no_grad agree (to 1e-6) on the fused loss from the logits, not on
    the clipped probabilities (16.1 per wrong sample)."""
    logits = SATURATED_X @ _saturated_model(units, activation, loss).layers[0].kernel.numpy()
    if units == 1:
        z, t = logits[:, 0].astype(np.float64), y
        expected = np.mean(np.logaddexp(0, z) - t * z)  # 40 per wrong sample
    else:
        z, t = logits.astype(np.float64), y if y.ndim == 2 else np.eye(2)[y]
        expected = np.mean(np.logaddexp(z[:, 0], z[:, 1]) - (t * z).sum(axis=1))  # 80
    model = _saturated_model(units, activation, loss)
    reported = model.fit(SATURATED_X, y, batch_size=2, epochs=1, shuffle=False,
                         verbose=0).history["loss"][0]
    evaluated = model.evaluate(SATURATED_X, y, batch_size=3)[0]
    with cr.no_grad():
        by_hand = model.compute_loss(SATURATED_X, y).item()
    with_graph = model.compute_loss(SATURATED_X, y).item()
    assert expected > 20
    for value in (reported, evaluated, by_hand, with_graph):
        assert value == pytest.approx(expected, rel=1e-6, abs=1e-6)
    probabilities = model.predict(SATURATED_X)
    assert np.allclose(probabilities.sum(axis=1), 1.0) if units == 2 else \
        set(np.round(probabilities[:, 0], 6)) == {0.0, 1.0}
    clipped = cr.losses.get(loss)(y, probabilities).item()
    assert clipped == pytest.approx(3 / 5 * 16.1, rel=0.02)  # Keras' clip at 1e-7 (float32)


def test_compute_loss_takes_probabilities_where_the_output_activation_is_unknown():
    class Wrapped(Model):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)

    inner = _saturated_model(1, "sigmoid", "binary_crossentropy")
    model = Wrapped(inner)
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    y = np.array([0.0, 0.0, 1.0, 1.0, 0.0])
    assert model.output_activation is None and inner.output_activation == "sigmoid"
    assert model.compute_loss(SATURATED_X, y).item() == pytest.approx(3 / 5 * 16.1, rel=0.02)
    assert inner.compute_loss(SATURATED_X, y).item() == pytest.approx(24.0, rel=1e-6)
    with pytest.raises(RuntimeError, match="compile"):
        Sequential([Dense(1)]).compute_loss(SATURATED_X, y)
