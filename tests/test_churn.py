"""examples/churn.py: the Keras tutorial's bank-churn classifier, imports changed only."""

import importlib.util
import pathlib

import numpy as np
import pytest

pytest.importorskip("sklearn")

ROOT = pathlib.Path(__file__).resolve().parents[1]
CSV = ROOT.parent / "shared" / "datasets" / "Churn_Modelling.csv"
pytestmark = pytest.mark.skipif(not CSV.is_file(), reason=f"{CSV} is absent")


def _churn():
    spec = importlib.util.spec_from_file_location("churn_example", ROOT / "examples" / "churn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_epoch_reports_every_number():
    result = _churn().main(str(CSV), seed=0, epochs=1, verbose=0)
    cm = result["confusion_matrix"]
    assert cm.shape == (2, 2) and cm.sum() == 2000  # the 20% test split
    assert result["accuracy"] == pytest.approx(np.trace(cm) / 2000)
    assert 0 < result["probability"] < 1 and isinstance(result["leaves"], bool)
    assert len(result["history"]["loss"]) == 1


def test_the_model_code_is_the_tutorials():
    source = (ROOT / "examples" / "churn.py").read_text()
    for line in [
        'classifier.add(Dense(units=6, kernel_initializer="uniform", activation="relu",',
        'classifier.add(Dense(units=6, kernel_initializer="uniform", activation="relu"))',
        'classifier.add(Dense(units=1, kernel_initializer="uniform", activation="sigmoid"))',
        'classifier.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])',
        "classifier.fit(X_train, y_train, batch_size=10, epochs=epochs",
    ]:
        assert line in source


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2, 3])
def test_fifty_epochs_reach_the_tutorials_accuracy(seed):
    # Measured (docs/models.md): seeds 0-6 give 0.8395, 0.8435, 0.8415, 0.8645, 0.839,
    # 0.8425, 0.844 (0.8505, 0.8395, 0.8415, 0.843, 0.841, 0.841, 0.8475 when the layers
    # after the first drew their weights at the first batch); the training accuracy of
    # this 6-6-1 net plateaus near 0.835, so that is the bar, not 0.84, which seeds
    # straddle by one test sample in either order.
    result = _churn().main(str(CSV), seed=seed, epochs=50, verbose=0)
    assert result["accuracy"] >= 0.835
    assert result["history"]["loss"][-1] < 0.42
    assert not result["leaves"]  # the tutorial's customer stays
