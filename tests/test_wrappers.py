"""Bidirectional against torch's bidirectional nn.LSTM/nn.GRU/nn.RNN (forward_layer's
weights in ``*_l0``, backward_layer's in ``*_l0_reverse``), with right-padded masks
against packed sequences, every merge mode and return_state; TimeDistributed against
the wrapped layer run step by step. Both pass the standard layer checks."""

import numpy as np
import pytest
from helpers import assert_close, torch
from layer_helpers import assert_save_load, check_layer, layer_gradcheck, randomize
from rnn_helpers import torch_module, torch_parameters

import chainrule as cr
from chainrule.layers import (
    GRU,
    LSTM,
    Bidirectional,
    Conv2DTranspose,
    Dense,
    SimpleRNN,
    TimeDistributed,
)

N, T, F, UNITS = 3, 5, 4, 3
KINDS = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
LENGTHS = np.array([5, 2, 4])


def _bidirectional(kind, seed=0, **options):
    merge_mode = options.pop("merge_mode", "concat")
    return randomize(Bidirectional(KINDS[kind](UNITS, **options), merge_mode=merge_mode),
                     seed, (N, T, F))


def _torch_bidirectional(torch, layer, x, lengths=None):
    """torch's bidirectional module on x (packed when ``lengths`` is given) ->
    (per-step outputs (N, T, 2u), final states [(2, N, u)...], Keras-named leaves)."""
    from torch.func import functional_call
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    forward, backward = layer.forward_layer, layer.backward_layer
    module = torch_module(torch, forward, x.shape[-1], bidirectional=True)
    module = module.to(x.dtype)
    leaves = {f"{which}.{n}": torch.tensor(p.data, requires_grad=True)
              for which, sub in (("forward_layer", forward), ("backward_layer", backward))
              for n, p in sub.named_parameters()}

    def of(which):
        return {n.split(".", 1)[1]: v for n, v in leaves.items() if n.startswith(which)}

    params = {**torch_parameters(torch, forward, of("forward_layer")),
              **torch_parameters(torch, backward, of("backward_layer"), suffix="_reverse")}
    source = x if lengths is None else pack_padded_sequence(
        x, torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    seq, final = functional_call(module, params, (source,))
    if lengths is not None:
        seq, _ = pad_packed_sequence(seq, batch_first=True, total_length=x.shape[1])
    return seq, list(final) if isinstance(final, tuple) else [final], leaves


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sequences", [True, False], ids=["sequences", "last"])
@pytest.mark.parametrize("kind", KINDS)
def test_bidirectional_matches_torch(torch, kind, sequences, dtype):
    cr.set_default_dtype(dtype)
    layer = _bidirectional(kind, return_sequences=sequences, return_state=True)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, T, F)).astype(dtype)
    xt = cr.tensor(x, requires_grad=True)
    out, *states = layer(xt)
    weights = [rng.standard_normal(o.shape).astype(dtype) for o in (out, *states)]
    sum((o * w).sum() for o, w in zip((out, *states), weights)).backward()

    tx = torch.tensor(x, requires_grad=True)
    seq, final, leaves = _torch_bidirectional(torch, layer, tx)
    u = UNITS
    t_out = seq if sequences else torch.cat([seq[:, -1, :u], seq[:, 0, u:]], dim=-1)
    # Keras' state order: forward h (, c), then backward h (, c); torch's: h_n, c_n (2, N, u)
    t_states = [s[d] for d in (0, 1) for s in final]
    loss = sum((o * torch.from_numpy(w)).sum() for o, w in zip((t_out, *t_states), weights))
    loss.backward()
    tol = 1e-10 if dtype == np.float64 else 1e-5
    assert_close(out.data, t_out.detach().numpy(), rtol=tol, atol=tol, what="output")
    for k, (s, t) in enumerate(zip(states, t_states)):
        assert_close(s.data, t.detach().numpy(), rtol=tol, atol=tol, what=f"state {k}")
    assert_close(xt.grad.data, tx.grad.numpy(), rtol=tol, atol=tol, what="grad of x")
    for name, p in layer.named_parameters():
        assert_close(p.grad.data, leaves[name].grad.numpy(), rtol=tol, atol=tol,
                     what=f"grad of {name}")


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_bidirectional_with_a_padding_mask_matches_packed_sequences(torch, kind):
    """Right-padded batch, mask from the lengths: every output step (zeros after the end,
    as Keras forces zero_output_for_mask in Bidirectional) and the final states."""
    cr.set_default_dtype(np.float64)
    layer = _bidirectional(kind, return_sequences=True, return_state=True)
    mask = np.arange(T)[None, :] < LENGTHS[:, None]
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, T, F))
    xt = cr.tensor(x, requires_grad=True)
    out, *states = layer(xt, mask=mask)
    weights = [rng.standard_normal(o.shape) for o in (out, *states)]
    sum((o * w).sum() for o, w in zip((out, *states), weights)).backward()
    tx = torch.tensor(x, requires_grad=True)
    seq, final, leaves = _torch_bidirectional(torch, layer, tx, LENGTHS)
    t_states = [s[d] for d in (0, 1) for s in final]
    sum((o * torch.from_numpy(w)).sum() for o, w in zip((seq, *t_states), weights)).backward()
    assert_close(out.data, seq.detach().numpy(), rtol=1e-10, atol=1e-10, what="output")
    np.testing.assert_array_equal(out.numpy()[~mask], 0)
    for k, (s, t) in enumerate(zip(states, t_states)):
        assert_close(s.data, t.detach().numpy(), rtol=1e-10, atol=1e-10, what=f"state {k}")
    assert_close(xt.grad.data, tx.grad.numpy(), rtol=1e-10, atol=1e-10, what="grad of x")
    for name, p in layer.named_parameters():
        assert_close(p.grad.data, leaves[name].grad.numpy(), rtol=1e-10, atol=1e-10,
                     what=f"grad of {name}")


@pytest.mark.parametrize("mode", ["sum", "mul", "ave", None])
def test_merge_modes(mode):
    cr.set_default_dtype(np.float64)
    x = np.random.default_rng(3).standard_normal((N, T, F))
    concat = _bidirectional("GRU", return_sequences=True)(x).numpy()
    forward, backward = concat[..., :UNITS], concat[..., UNITS:]
    out = _bidirectional("GRU", return_sequences=True, merge_mode=mode)(x)
    expected = {"sum": forward + backward, "mul": forward * backward,
                "ave": (forward + backward) / 2, None: [forward, backward]}[mode]
    if mode is None:
        for o, e in zip(out, expected):
            np.testing.assert_allclose(o.numpy(), e, rtol=1e-12)
    else:
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


def test_bidirectional_weights_names_and_shapes_as_keras():
    """Keras: Bidirectional(LSTM(3)) on 4 features has 2 * 4 * (4 * 3 + 3 * 3 + 3) = 192
    weights in forward_layer and backward_layer."""
    layer = Bidirectional(LSTM(3, input_shape=(5, 4)))
    assert layer.built and layer.count_params() == 192
    assert list(layer.state_dict())[:3] == ["forward_layer.kernel",
                                            "forward_layer.recurrent_kernel",
                                            "forward_layer.bias"]
    assert layer.forward_layer.name == "forward_lstm" or layer.forward_layer.name.startswith(
        "forward_lstm")
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    assert layer.compute_output_shape((None, 5, 4)) == (None, 6)


def test_bidirectional_layer_checks():
    check_layer(lambda: Bidirectional(GRU(2, return_sequences=True)), (2, 4, 3),
                output_shape=(2, 4, 4), param_count=2 * (3 * 6 + 2 * 6 + 2 * 6),
                gradcheck_shape=(1, 3, 3), save_load=True)
    check_layer(lambda: Bidirectional(SimpleRNN(3), merge_mode="sum"), (2, 4, 3),
                output_shape=(2, 3), param_count=2 * (9 + 9 + 3), gradcheck_shape=(1, 3, 3),
                save_load=True)


def test_bidirectional_with_a_given_backward_layer_and_initial_states():
    cr.set_default_dtype(np.float64)
    back = GRU(2, go_backwards=True, return_sequences=True, name="back")
    layer = Bidirectional(GRU(3, return_sequences=True), backward_layer=back)
    assert layer.backward_layer is back
    x = np.random.default_rng(4).standard_normal((2, 4, 3))
    assert layer(x).shape == (2, 4, 5) and layer.compute_output_shape((None, 4, 3)) == (
        None, 4, 5)
    config = layer.get_config()
    assert config["backward_layer"]["config"]["name"] == "back"
    clone = Bidirectional.from_config(config)
    assert clone.backward_layer.units == 2 and clone.get_config() == config
    states = [np.ones((2, 3)), np.ones((2, 2))]
    with_states = layer(x, initial_state=states).numpy()
    assert not np.allclose(with_states, layer(x).numpy())
    np.testing.assert_allclose(with_states[..., :3], layer.forward_layer(
        x, initial_state=[states[0]]).numpy(), rtol=1e-12)


@pytest.mark.parametrize("make,message", [
    (lambda: Bidirectional(Dense(3)), "recurrent layer"),
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), "merge_mode='max'"),
    (lambda: Bidirectional(LSTM(3), backward_layer=LSTM(3)), "opposite go_backwards"),
    (lambda: Bidirectional(LSTM(3, return_sequences=True),
                           backward_layer=LSTM(3, go_backwards=True)), "return_sequences"),
    (lambda: TimeDistributed("dense"), "wraps a layer"),
])
def test_bad_arguments_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_bidirectional_mask_passes_on_with_sequences():
    layer = Bidirectional(LSTM(2, return_sequences=True))
    mask = np.ones((1, 3), bool)
    assert layer.compute_mask(None, mask) is mask
    assert Bidirectional(LSTM(2)).compute_mask(None, mask) is None
    assert Bidirectional(LSTM(2, return_state=True)).compute_mask(None, mask) == [None] * 5


# ---------------------------------------------------------------- TimeDistributed


def test_time_distributed_dense_is_the_dense_layer_at_every_step():
    """Dense has no compute_output_shape on this branch, so check_layer's pieces run
    one by one: per-step equality, gradcheck, save/load."""
    cr.set_default_dtype(np.float64)
    layer = TimeDistributed(Dense(4, bias_initializer="normal"))
    x = np.random.default_rng(5).standard_normal((2, 5, 3))
    out = layer(x).numpy()
    for t in range(5):
        np.testing.assert_allclose(out[:, t], layer.layer(x[:, t]).numpy(), rtol=1e-12)
    assert sorted(layer.state_dict()) == ["layer.bias", "layer.kernel"]
    layer_gradcheck(layer, x[:1, :3])
    assert_save_load(layer, x)


def test_time_distributed_layer_checks():
    """A transposed convolution over every frame of (N, T, H, W, C), against torch's
    conv_transpose2d on the frames stacked as one batch."""
    def ref(x, p):
        frames = x.reshape(-1, *x.shape[2:]).permute(0, 3, 1, 2)
        y = torch.nn.functional.conv_transpose2d(frames, p["layer.kernel"].permute(3, 2, 0, 1),
                                                 p["layer.bias"], stride=2)
        return y.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[1], *y.shape[2:], -1)

    check_layer(lambda: TimeDistributed(Conv2DTranspose(2, 2, strides=2,
                                                        bias_initializer="normal")),
                (2, 3, 2, 3, 4), output_shape=(2, 3, 4, 6, 2), param_count=2 * 2 * 2 * 4 + 2,
                torch_fn=ref, rtol=1e-10, float32=True, save_load=True,
                gradcheck_shape=(1, 2, 2, 2, 4))


def test_time_distributed_builds_with_input_shape_and_round_trips():
    layer = TimeDistributed(Conv2DTranspose(3, 2), input_shape=(4, 5, 5, 2))
    assert layer.built and layer.layer.kernel.shape == (2, 2, 3, 2)
    assert layer.compute_output_shape((None, 4, 5, 5, 2)) == (None, 4, 6, 6, 3)
    config = layer.get_config()
    assert TimeDistributed.from_config(config).get_config() == config
    with pytest.raises(ValueError, match=r"at least rank 3.*\(2, 3\)"):
        TimeDistributed(Dense(2))(np.ones((2, 3)))
