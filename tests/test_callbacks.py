"""Callbacks: Keras semantics for History, EarlyStopping, ModelCheckpoint,
ReduceLROnPlateau, TerminateOnNaN, CSVLogger and LambdaCallback."""

import csv

import numpy as np
import pytest

import chainrule as cr
from chainrule.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    TerminateOnNaN,
)
from chainrule.layers import Dense


def _problem(n=60, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int64)
    return x, y


def _model(optimizer="adam", loss="binary_crossentropy", metrics=("accuracy",)):
    cr.manual_seed(0)
    model = cr.models.Sequential([Dense(5, activation="relu", input_dim=4),
                                  Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model


def _scores(values, key="score"):
    """A callback that puts a scripted number into the epoch logs (runs first)."""
    return LambdaCallback(on_epoch_end=lambda epoch, logs: logs.update({key: values[epoch]}))


class WeightRecorder(Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.state_dict())


def _assert_weights(model, expected):
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, expected[key])


SCORES = [5.0, 3.0, 4.0, 2.0, 2.5, 2.6, 2.7, 2.8, 2.9, 3.0]  # best at epoch 3


def test_early_stopping_stops_after_patience_and_restores_best():
    x, y = _problem()
    model, recorder = _model(), WeightRecorder()
    stop = EarlyStopping(monitor="score", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[_scores(SCORES), recorder, stop])
    assert len(history.history["loss"]) == 6  # epochs 4 and 5 fail to improve on epoch 3
    assert stop.stopped_epoch == 5 and stop.best_epoch == 3 and model.stop_training
    _assert_weights(model, recorder.weights[3])


def test_early_stopping_min_delta_and_mode_max():
    x, y = _problem()
    stop = EarlyStopping(monitor="score", mode="max", min_delta=0.5, patience=1)
    history = _model().fit(x, y, epochs=10, verbose=0,
                           callbacks=[_scores([1.0, 1.2, 1.4, 5.0]), stop])
    assert len(history.history["loss"]) == 2  # +0.2 is not an improvement of 0.5
    assert EarlyStopping(monitor="val_accuracy").monitor_op is np.greater
    assert EarlyStopping(monitor="val_loss").monitor_op is np.less


def test_best_weights_restored_when_another_callback_stops_training():
    x, y = _problem()
    model, recorder = _model(), WeightRecorder()
    stopper = LambdaCallback(on_epoch_end=lambda epoch, logs: setattr(
        model, "stop_training", epoch == 5))
    stop = EarlyStopping(monitor="score", patience=100, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, verbose=0,
                        callbacks=[_scores(SCORES), recorder, stop, stopper])
    assert len(history.history["loss"]) == 6
    _assert_weights(model, recorder.weights[3])


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_best_weights_restored_when_fit_is_interrupted(error):
    x, y = _problem()
    model, recorder = _model(), WeightRecorder()

    def interrupt(epoch, logs):
        if epoch == 6:
            raise error("stop")

    stop = EarlyStopping(monitor="score", patience=100, restore_best_weights=True)
    with pytest.raises(error):
        model.fit(x, y, epochs=10, verbose=0, callbacks=[
            _scores(SCORES), recorder, stop, LambdaCallback(on_epoch_begin=interrupt)])
    _assert_weights(model, recorder.weights[3])
    assert model.training  # modes restored too


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
def test_terminate_on_nan_stops_at_the_first_bad_batch():
    x = np.ones((40, 4))
    y = np.full((40, 1), 1e30)  # squared error overflows float32: the loss is inf
    model = _model(optimizer="sgd", loss="mse", metrics=())
    steps = []
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=0, callbacks=[
        TerminateOnNaN(), LambdaCallback(on_batch_end=lambda batch, logs: steps.append(batch))])
    assert steps == [0] and len(history.history["loss"]) == 1
    assert not np.isfinite(history.history["loss"][0])


def test_reduce_lr_on_plateau_lowers_lr_with_cooldown_and_floor():
    x, y = _problem()
    model = _model(optimizer=cr.optim.Adam(lr=0.01))
    plateau = ReduceLROnPlateau(monitor="score", factor=0.5, patience=2, cooldown=1,
                                min_lr=0.002)
    history = model.fit(x, y, epochs=9, verbose=0,
                        callbacks=[_scores([1.0] * 9), plateau])
    # logs hold the rate each epoch ran with. No improvement after epoch 0: halve at the
    # end of epoch 2 (two waits); Keras' cooldown of 1 zeroes the wait at epoch 3 and
    # counts it again at once, so the next cuts come at epochs 4 and 6, then the floor.
    assert history.history["learning_rate"] == pytest.approx(
        [0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.002, 0.002])
    assert model.optimizer.lr == pytest.approx(0.002)


def test_csv_logger_writes_one_row_per_epoch_and_appends(tmp_path):
    x, y = _problem()
    path = tmp_path / "log.csv"
    model = _model()
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path)])
    rows = list(csv.DictReader(path.open()))
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"}
    assert float(rows[2]["loss"]) == pytest.approx(model.history.history["loss"][2])
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
              callbacks=[CSVLogger(path, append=True)])
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 3 + 2 and lines.count(lines[0]) == 1


def test_model_checkpoint_save_best_only_keeps_the_best(tmp_path):
    x, y = _problem()
    model, recorder = _model(), WeightRecorder()
    path = tmp_path / "best.keras"
    saves = []
    checkpoint = ModelCheckpoint(path, monitor="score", save_best_only=True)
    original = model.save
    model.save = lambda p: (saves.append(p), original(p))
    model.fit(x, y, epochs=6, verbose=0, callbacks=[
        _scores([3.0, 1.0, 2.0, 0.5, 4.0, 0.6]), recorder, checkpoint])
    assert len(saves) == 3  # epochs 0, 1 and 3 improved
    best = cr.models.load_model(path)
    _assert_weights(best, recorder.weights[3])


def test_model_checkpoint_formats_epoch_and_weights_only(tmp_path):
    x, y = _problem()
    model = _model()
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.2, callbacks=[ModelCheckpoint(
        str(tmp_path / "w-{epoch:02d}-{val_loss:.2f}.safetensors"), save_weights_only=True)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert [n[:4] for n in names] == ["w-01", "w-02", "w-03"]
    model.load_weights(tmp_path / names[-1])


def test_lambda_callback_hooks_and_batch_stop():
    x, y = _problem(n=50)
    calls = {k: 0 for k in LambdaCallback._HOOKS}
    hooks = {k: (lambda *a, k=k: calls.__setitem__(k, calls[k] + 1))
             for k in LambdaCallback._HOOKS}
    _model().fit(x, y, batch_size=10, epochs=2, verbose=0, callbacks=[LambdaCallback(**hooks)])
    assert calls == {"on_epoch_begin": 2, "on_epoch_end": 2, "on_batch_begin": 10,
                     "on_batch_end": 10, "on_train_begin": 1, "on_train_end": 1}
    with pytest.raises(TypeError, match="on_epoch_ended"):
        LambdaCallback(on_epoch_ended=print)

    model, seen = _model(), []

    def stop_at_third(batch, logs):
        seen.append(batch)
        model.stop_training = batch == 2

    history = model.fit(x, y, batch_size=10, epochs=3, verbose=0,
                        callbacks=[LambdaCallback(on_batch_end=stop_at_third)])
    assert seen == [0, 1, 2] and len(history.history["loss"]) == 1


def test_batch_hooks_are_skipped_unless_overridden():
    class EpochOnly(Callback):
        def on_epoch_end(self, epoch, logs=None):
            pass

    assert not EpochOnly().overrides("on_batch_end")
    assert TerminateOnNaN().overrides("on_batch_end")
    assert LambdaCallback(on_batch_end=print).overrides("on_batch_end")
    assert not LambdaCallback(on_epoch_end=print).overrides("on_batch_end")


def test_missing_monitor_warns():
    x, y = _problem()
    with pytest.warns(UserWarning, match="val_loss"):
        _model().fit(x, y, epochs=1, verbose=0, callbacks=[EarlyStopping()])
