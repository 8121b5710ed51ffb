"""examples/sequences.py: MNIST-1D with Conv1D and GRU nets (against the paper's
figures), and the character-level LSTM whose loss must fall by at least 30%."""

import importlib.util
import socket
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

pytest.importorskip("mnist1d")
SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "sequences.py"
_spec = importlib.util.spec_from_file_location("sequences_example", SCRIPT)
sequences = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sequences)


@pytest.mark.slow
def test_mnist1d_cnn_reaches_90_and_gru_85_percent():
    result = sequences.main(seed=0, parts=("mnist1d",))
    assert result["cnn_accuracy"] >= 0.90, result["mnist1d"]
    assert result["gru_accuracy"] >= 0.85, result["mnist1d"]
    assert result["logistic_accuracy"] < result["cnn_accuracy"]
    assert {row["paper"] for row in result["mnist1d"].values()} == {0.32, 0.68, 0.94, 0.91}


@pytest.mark.slow
def test_char_lstm_loss_falls_by_30_percent():
    lm = sequences.main(seed=0, parts=("char_lm",))["char_lm"]
    assert lm["final_loss"] <= 0.7 * lm["initial_loss"], (lm["initial_loss"], lm["final_loss"])
    assert lm["loss"][-1] < lm["loss"][0]
    assert len(lm["sample_before"]) == len(lm["sample_after"]) == 160
    assert lm["sample_before"] != lm["sample_after"]


def test_mnist1d_is_generated_locally(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("MNIST-1D generation tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    state = np.random.get_state()[1].copy()
    x_train, y_train, x_test, y_test = sequences.load_mnist1d()
    assert x_train.shape == (4000, 40, 1) and x_test.shape == (1000, 40, 1)
    assert x_train.dtype == np.float32 and set(np.unique(y_train)) == set(range(10))
    assert len(y_test) == 1000
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global RNG untouched


def test_char_windows_label_each_window_with_the_next_character():
    chars, x, y = sequences.char_windows("abcabcabcd", window=4, stride=3)
    assert chars == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(x, [[0, 1, 2, 0], [0, 1, 2, 0]])
    np.testing.assert_array_equal(y, [1, 1])


def test_quick_run_returns_every_row_and_the_lm():
    result = sequences.main(quick=True, seed=0)
    assert set(result["mnist1d"]) == set(sequences.PAPER)
    assert all(0 <= row["accuracy"] <= 1 for row in result["mnist1d"].values())
    assert result["char_lm"]["vocab"] == len(set(" ".join(
        cr.datasets.chain_rule_text().lower().split())))
