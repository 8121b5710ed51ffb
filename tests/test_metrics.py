"""Metrics: Keras' accuracy selection, running state, and parity with scikit-learn."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import metrics

sk_metrics = pytest.importorskip("sklearn.metrics")

RNG = np.random.default_rng(0)


@pytest.mark.parametrize("y_true,y_pred,expected", [
    # binary: probabilities (N, 1) against labels (N,), threshold 0.5
    (np.array([0, 1, 1, 0]), np.array([[0.2], [0.7], [0.4], [0.6]]), 0.5),
    (np.array([0.0, 1.0, 1.0]), np.array([0.1, 0.9, 0.8]), 1.0),
    (np.array([[1], [0]]), np.array([[0.9], [0.2]]), 1.0),
    # categorical: one-hot targets of the predictions' shape
    (np.eye(3)[[0, 2, 1]], np.array([[.8, .1, .1], [.1, .1, .8], [.7, .2, .1]]), 2 / 3),
    # sparse: integer targets (N,) or (N, 1) against (N, C)
    (np.array([0, 2, 1]), np.array([[.8, .1, .1], [.1, .1, .8], [.7, .2, .1]]), 2 / 3),
    (np.array([[0], [2], [1]]), np.array([[.8, .1, .1], [.1, .1, .8], [.1, .7, .2]]), 1.0),
])
def test_accuracy_picks_binary_categorical_or_sparse(y_true, y_pred, expected):
    m = metrics.get("accuracy")
    m.update(y_true, y_pred)
    assert m.result() == pytest.approx(expected)
    assert m.name == "accuracy"


def test_accuracy_accumulates_over_batches_and_resets():
    y = RNG.integers(0, 2, 100)
    p = RNG.random((100, 1))
    m = metrics.Accuracy()
    for start in range(0, 100, 7):
        m.update(y[start:start + 7], p[start:start + 7])
    assert m.result() == pytest.approx(np.mean((p[:, 0] > 0.5) == y))
    m.reset()
    assert m.result() == 0.0
    m.update(cr.tensor(y), cr.tensor(p))  # Tensors work too
    assert m.result() == pytest.approx(np.mean((p[:, 0] > 0.5) == y))


def test_binary_precision_recall_auc_match_sklearn():
    y = RNG.integers(0, 2, 300)
    scores = np.round(RNG.random(300) * 0.6 + 0.4 * y, 2)  # rounded: many ties
    for name, reference in [
        ("binary_accuracy", sk_metrics.accuracy_score(y, scores > 0.5)),
        ("precision", sk_metrics.precision_score(y, scores > 0.5)),
        ("recall", sk_metrics.recall_score(y, scores > 0.5)),
        ("auc", sk_metrics.roc_auc_score(y, scores)),
    ]:
        m = metrics.get(name)
        for start in range(0, 300, 32):
            m.update(y[start:start + 32], scores[start:start + 32, None])
        assert m.result() == pytest.approx(reference, abs=1e-12), name


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_running_over_many_batches_stays_exact(seed):
    """Scores with many ties, batches of one class only, result() read after every
    batch (as fit does for a per-batch callback): always scikit-learn's value."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 3000)
    scores = np.round(rng.random(3000) * 0.7 + 0.3 * y, 2)
    y[:40] = 1  # the first batches hold positives only: no area yet
    m = metrics.AUC()
    start, sizes = 0, rng.integers(1, 60, 200)
    for size in sizes:
        m.update(y[start:start + size], scores[start:start + size, None])
        start += size
        seen = y[:start]
        expected = sk_metrics.roc_auc_score(seen, scores[:start]) \
            if 0 < seen.sum() < seen.size else 0.0
        assert m.result() == pytest.approx(expected, abs=1e-12)
        if start >= y.size:
            break


def test_auc_with_a_per_batch_callback_costs_under_twice_as_much():
    """Issue 10: 8,000 steps with metrics=["auc"] and a per-batch callback took 72 s
    against 1.2 s without it (the area was recomputed over every score each batch).
    The ratio is measured in one run; the bar is the issue's 2x."""
    import time

    x = RNG.normal(size=(8000, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.float32)

    def seconds(callbacks) -> float:
        cr.manual_seed(0)
        model = cr.models.Sequential([cr.layers.Dense(1, activation="sigmoid", input_dim=4)])
        model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["auc"])
        start = time.perf_counter()
        model.fit(x, y, batch_size=1, epochs=1, verbose=0, callbacks=callbacks)
        return time.perf_counter() - start

    per_batch = cr.callbacks.LambdaCallback(on_batch_end=lambda batch, logs: None)
    times = {"without": [], "with": []}
    for _ in range(2):  # interleaved, the faster of two: the machine may be busy
        times["without"].append(seconds([]))
        times["with"].append(seconds([per_batch]))
    assert min(times["with"]) < 2 * min(times["without"]), times


def test_metric_call_is_one_batch_and_keeps_state():
    m = metrics.get("recall")
    m.update([1, 1, 0], [0.9, 0.1, 0.9])
    assert m([1, 1], [0.9, 0.9]) == 1.0
    assert m.result() == 0.5


def test_mse_mae_metrics():
    y, p = np.array([[1.0], [2.0], [3.0]]), np.array([[1.5], [2.0], [2.0]])
    mse, mae = metrics.get("mse"), metrics.get("mae")
    mse.update(y, p)
    mae.update(y, p)
    assert mse.result() == pytest.approx((0.25 + 0 + 1) / 3)
    assert mae.result() == pytest.approx(1.5 / 3)


def test_function_metric_and_get_errors():
    m = metrics.get(lambda t, p: np.abs(np.asarray(t) - np.asarray(p)))
    m.update([1.0, 2.0], [1.0, 4.0])
    assert m.result() == 1.0
    with pytest.raises(ValueError, match="Unknown metric 'acuracy'"):
        metrics.get("acuracy")
    with pytest.raises(TypeError):
        metrics.get(3)
    assert metrics.get("accuracy") is not metrics.get("accuracy")


def test_serialize_round_trip():
    m = metrics.Precision(name="prec", threshold=0.3)
    again = metrics.get(metrics.serialize(m))
    assert (type(again), again.name, again.threshold) == (metrics.Precision, "prec", 0.3)


@pytest.mark.parametrize("num_classes", [None, 4])
def test_confusion_matrix_matches_sklearn(num_classes):
    y_true = RNG.integers(0, 4, 200)
    y_pred = RNG.integers(0, 4, 200)
    cm = metrics.confusion_matrix(y_true, y_pred, num_classes=num_classes)
    np.testing.assert_array_equal(cm, sk_metrics.confusion_matrix(y_true, y_pred))
    assert cm.dtype == np.int64


def test_confusion_matrix_of_thresholded_probabilities():
    y_true = np.array([0, 1, 1, 0, 1])
    y_pred = np.array([[0.2], [0.8], [0.3], [0.6], [0.9]]) > 0.5  # (N, 1) booleans
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), [[1, 1], [1, 2]])
    with pytest.raises(ValueError, match="non-integer"):
        metrics.confusion_matrix(y_true, [0.2, 0.8, 0.3, 0.6, 0.9])
    with pytest.raises(ValueError, match="5 labels but y_pred has 4"):
        metrics.confusion_matrix(y_true, [0, 1, 1, 0])
