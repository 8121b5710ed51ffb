"""Masks in SimpleRNN, LSTM and GRU (Keras semantics): a masked step leaves the states
unchanged and repeats the previous output. Right-padded batches are checked against
torch's packed sequences (the final states, and every valid step's output); masks with
holes against the step-by-step Tensor path, and by perturbing the masked inputs.
(The fused ops' mask path against their textbook references is in test_recurrent.py.)"""

import numpy as np
import pytest
from helpers import assert_close
from layer_helpers import layer_gradcheck, randomize
from rnn_helpers import torch_module, torch_parameters

import chainrule as cr
from chainrule.layers import GRU, LSTM, Bidirectional, SimpleRNN

N, T, F, UNITS = 4, 6, 3, 5
KINDS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
COMPOSITE = {"activation": lambda t: t.tanh(), "recurrent_activation": lambda t: t.sigmoid()}
LENGTHS = np.array([6, 3, 1, 4])  # right padding: sample n has LENGTHS[n] valid steps


def _layer(kind, fused=True, seed=0, **options):
    if not fused:
        options = {**{k: v for k, v in COMPOSITE.items()
                      if kind != "SimpleRNN" or k == "activation"}, **options}
    return randomize(KINDS[kind](UNITS, **options), seed, (N, T, F))


def _holes(seed=1):
    """A mask with holes, a leading masked step and one fully masked sample."""
    mask = np.random.default_rng(seed).random((N, T)) > 0.35
    mask[0, 0], mask[1, :] = False, True
    mask[3, :] = False
    return mask


def _padded():
    return np.arange(T)[None, :] < LENGTHS[:, None]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
@pytest.mark.parametrize("kind", KINDS)
def test_masked_steps_keep_the_state_and_repeat_the_output(kind, fused):
    cr.set_default_dtype(np.float64)
    layer = _layer(kind, fused, return_sequences=True, return_state=True)
    mask = _holes()
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, T, F))
    xt = cr.tensor(x, requires_grad=True)
    out, *states = layer(xt, mask=mask)
    (out * rng.standard_normal(out.shape)).sum().backward()
    seq = out.numpy()
    for n, t in zip(*np.nonzero(~mask)):
        previous = seq[n, t - 1] if t else np.zeros(UNITS)
        np.testing.assert_array_equal(seq[n, t], previous)  # the output repeats
    np.testing.assert_array_equal(xt.grad.numpy()[~mask], 0)  # a masked input is unread
    np.testing.assert_array_equal(seq[3], 0)  # every step masked: the zero state stays
    perturbed = x.copy()
    perturbed[~mask] = 1e3
    again, *states_again = layer(cr.tensor(perturbed), mask=mask)
    np.testing.assert_array_equal(again.numpy(), seq)
    for s, s_again in zip(states, states_again):
        np.testing.assert_array_equal(s.numpy(), s_again.numpy())


@pytest.mark.parametrize("backwards", [False, True])
@pytest.mark.parametrize("kind", KINDS)
def test_fused_mask_path_equals_the_tensor_path(kind, backwards):
    cr.set_default_dtype(np.float64)
    rng = np.random.default_rng(3)
    x, init = rng.standard_normal((N, T, F)), rng.standard_normal((N, UNITS))
    mask = _holes(4)
    results = []
    for fused in (True, False):
        layer = _layer(kind, fused, return_sequences=True, return_state=True,
                       go_backwards=backwards)
        xt = cr.tensor(x, requires_grad=True)
        states = [cr.tensor(init, requires_grad=True) for _ in layer.state_names]
        outs = layer(xt, initial_state=states, mask=mask)
        sum((o * np.cos(np.arange(o.size)).reshape(o.shape)).sum() for o in outs).backward()
        results.append([o.data for o in outs] + [xt.grad.data]
                       + [s.grad.data for s in states] + [p.grad.data for p in layer.parameters()])
    for k, (a, b) in enumerate(zip(*results)):
        assert_close(a, b, rtol=1e-10, atol=1e-12, what=f"{kind} array {k}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", KINDS)
def test_right_padded_batch_matches_torch_packed_sequences(torch, kind, dtype):
    """Final states = torch's h_n (and c_n) of the packed batch; outputs at valid steps =
    torch's; after a sample's end its output repeats its last valid one. Gradients of
    x and of every weight agree (1e-10 in float64, 1e-5 in float32)."""
    from torch.func import functional_call
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    cr.set_default_dtype(dtype)
    layer = _layer(kind, return_sequences=True, return_state=True)
    mask = _padded()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((N, T, F)).astype(dtype)
    xt = cr.tensor(x, requires_grad=True)
    out, *states = layer(xt, mask=mask)
    w_out = rng.standard_normal(out.shape).astype(dtype) * mask[..., None]
    w_states = [rng.standard_normal(s.shape).astype(dtype) for s in states]
    ((out * w_out).sum() + sum((s * w).sum() for s, w in zip(states, w_states))).backward()

    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    module = torch_module(torch, layer, F).to(torch_dtype)
    leaves = {n: torch.tensor(p.data, requires_grad=True) for n, p in layer.named_parameters()}
    tx = torch.tensor(x, requires_grad=True)
    packed = pack_padded_sequence(tx, torch.tensor(LENGTHS), batch_first=True,
                                  enforce_sorted=False)
    seq, final = functional_call(module, torch_parameters(torch, layer, leaves), (packed,))
    seq, _ = pad_packed_sequence(seq, batch_first=True, total_length=T)
    final = [f[0] for f in (final if kind == "LSTM" else (final,))]
    loss = (seq * torch.from_numpy(w_out)).sum()
    (loss + sum((f * torch.from_numpy(w)).sum() for f, w in zip(final, w_states))).backward()

    tol = 1e-10 if dtype == np.float64 else 1e-5
    for s, f in zip(states, final):
        assert_close(s.data, f.detach().numpy(), rtol=tol, atol=tol, what="final state")
    mine = out.numpy()
    assert_close(mine * mask[..., None], seq.detach().numpy(), rtol=tol, atol=tol,
                 what="outputs at valid steps")
    last = mine[np.arange(N), LENGTHS - 1]
    np.testing.assert_array_equal(mine[~mask], np.repeat(last, T - LENGTHS, axis=0))
    assert_close(xt.grad.data, tx.grad.numpy(), rtol=tol, atol=tol, what="grad of x")
    for name, p in layer.named_parameters():
        assert_close(p.grad.data, leaves[name].grad.numpy(), rtol=tol, atol=tol,
                     what=f"grad of {name}")


@pytest.mark.parametrize("kind", KINDS)
def test_zero_output_for_mask_zeroes_masked_steps_only(kind):
    cr.set_default_dtype(np.float64)
    x = np.random.default_rng(6).standard_normal((N, T, F))
    mask = _holes(7)
    plain = _layer(kind, return_sequences=True)(x, mask=mask).numpy()
    zeroed = _layer(kind, return_sequences=True, zero_output_for_mask=True)(x, mask=mask)
    np.testing.assert_array_equal(zeroed.numpy(), plain * mask[..., None])
    last = _layer(kind, zero_output_for_mask=True)(x, mask=mask).numpy()
    np.testing.assert_array_equal(last, plain[:, -1])  # the last output is never zeroed
    assert _layer(kind, zero_output_for_mask=True).get_config()["zero_output_for_mask"]


def test_mask_of_the_wrong_shape_names_the_layer():
    layer = LSTM(3, name="encoder")
    with pytest.raises(ValueError, match=r"'encoder' expected a mask of shape .*\(2, 4\).*"
                                         r"\(2, 3\)"):
        layer(np.ones((2, 4, 3)), mask=np.ones((2, 3), bool))


def test_padding_id_mask_makes_the_padded_sequence_equal_the_unpadded_one():
    """What Embedding(mask_zero=True) gives an LSTM: ids != 0. A sequence padded at the
    end has the same last output as the sequence alone."""
    cr.set_default_dtype(np.float64)
    layer = _layer("LSTM")
    x = np.random.default_rng(8).standard_normal((1, T, F))
    ids = np.array([[5, 2, 7, 0, 0, 0]])
    padded = layer(x, mask=ids != 0).numpy()
    np.testing.assert_allclose(padded, layer(x[:, :3]).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_gradcheck_with_a_mask(kind):
    cr.set_default_dtype(np.float64)
    layer = _layer(kind, return_sequences=True)
    x = np.random.default_rng(9).standard_normal((N, 4, F))
    mask = _holes(10)[:, :4]
    layer_gradcheck(layer, x, call=lambda module, inputs: module(inputs, mask=mask))
    wrapped = Bidirectional(KINDS[kind](2, return_sequences=True))
    wrapped(x)  # build
    layer_gradcheck(wrapped, x, call=lambda module, inputs: module(inputs, mask=mask))
