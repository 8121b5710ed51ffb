"""chainrule.tutorials.char_transformer: a two-block causal Transformer language model
on the bundled text, against the character LSTM on the same held-out characters and
the same optimizer steps."""

import numpy as np
import pytest
from tutorial_helpers import assert_expected, assert_plots

import chainrule as cr
import chainrule.functional as F
from chainrule.layers import LayerNormalization, MultiHeadAttention
from chainrule.tutorials import char_transformer as ct
from chainrule.tutorials.expected import mismatches


def test_windows_shift_by_one_character():
    ids = np.arange(10)
    x, following = ct.windows(ids, window=4, stride=3)
    np.testing.assert_array_equal(x, [[0, 1, 2, 3], [3, 4, 5, 6]])
    np.testing.assert_array_equal(following, [[1, 2, 3, 4], [4, 5, 6, 7]])
    chars, x, y = ct.char_windows("abcabcabcd", window=4, stride=3)
    assert chars == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(y, [1, 1])  # the character after each window


def test_position_embedding_adds_one_vector_per_position():
    cr.manual_seed(0)
    layer = ct.PositionEmbedding(8)
    x = np.zeros((2, 5, 3), dtype=np.float32)
    out = layer(x).numpy()
    np.testing.assert_array_equal(out[0], layer.embeddings.numpy()[:5])
    np.testing.assert_array_equal(out[0], out[1])
    assert layer.compute_output_shape((None, 5, 3)) == (None, 5, 3)


@pytest.fixture(scope="module")
def transformer():
    cr.manual_seed(0)
    return ct.char_transformer(31)


def test_two_blocks_of_causal_attention_and_layer_norm(transformer):
    kinds = [type(layer) for layer in transformer.layers]
    assert kinds.count(MultiHeadAttention) == 2 and kinds.count(LayerNormalization) == 4
    assert transformer.get_layer("position_embedding").embeddings.shape == (ct.WINDOW, ct.WIDTH)
    assert transformer.output.shape == (None, ct.WINDOW, 31)
    assert transformer.count_params() == 73_503


def test_no_position_sees_a_later_character(transformer):
    x = np.random.default_rng(0).integers(0, 31, (3, ct.WINDOW))
    for t in (0, 17, ct.WINDOW - 2):
        changed = x.copy()
        changed[:, t + 1:] = (changed[:, t + 1:] + 1) % 31
        before, after = transformer.predict(x), transformer.predict(changed)
        np.testing.assert_array_equal(before[:, :t + 1], after[:, :t + 1])
        assert not np.allclose(before[:, t + 1:], after[:, t + 1:])


def test_held_out_loss_is_the_cross_entropy_of_the_last_position(transformer):
    x = np.random.default_rng(1).integers(0, 31, (5, ct.WINDOW))
    y = np.random.default_rng(2).integers(0, 31, 5)
    logits = transformer.predict(x)[:, -1]
    expected = F.cross_entropy(cr.tensor(logits, dtype=np.float64), y).item()
    assert ct.held_out_loss(transformer, x, y) == pytest.approx(expected, rel=1e-6)
    cr.manual_seed(0)
    lstm = ct.char_lstm(31)  # a softmax output: its logits, not its probabilities
    probs = lstm.predict(x).astype(np.float64)
    assert ct.held_out_loss(lstm, x, y) == pytest.approx(
        -np.mean(np.log(probs[np.arange(5), y])), rel=1e-5)


def test_quick_run(tmp_path):
    result = ct.main(out_dir=tmp_path, quick=True)
    assert_expected(ct, result, quick=True)
    assert result["lstm"]["steps"] == result["transformer"]["steps"] == 3 * 11
    assert len(result["transformer"]["held_out_curve"]) == 4  # untrained + each epoch
    assert len(result["transformer"]["sample"]) == len(result["lstm"]["sample"]) == 200
    assert set(result["transformer"]["sample"]) <= set(ct.load_text())
    assert_plots(result, 1)


@pytest.fixture(scope="module")
def full_run():
    return ct.main()


@pytest.mark.slow
def test_full_run_as_measured(full_run):
    assert_expected(ct, full_run)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured: held-out loss 3.772 against the LSTM's 3.258 "
                   "after the same 220 steps, higher by 0.514; see BAR")
def test_held_out_loss_below_the_lstms(full_run):
    assert not mismatches(ct.BAR, full_run), (full_run["transformer"]["held_out_loss"],
                                              full_run["lstm"]["held_out_loss"])
