"""SimpleRNN, LSTM and GRU: torch parity, gradcheck of the fused ops, Keras weights.

Parity builds the torch module from the chainrule layer's Keras-layout weights
(weight_ih = kernel.T with GRU's gate blocks z, r, h reordered to torch's r, z, n;
weight_hh = recurrent_kernel.T; LSTM/SimpleRNN's single bias in b_ih, zeros in
b_hh), so torch's gradients arrive in Keras layout and compare element for element.
Every case runs twice: through the fused op (built-in activations) and through the
step-by-step Tensor-op path (the same activations passed as lambdas).
"""

import gc
import tracemalloc
import weakref

import numpy as np
import pytest
from helpers import assert_close
from rnn_helpers import torch_module, torch_parameters

import chainrule as cr
import chainrule.ops.recurrent as recurrent_ops
from chainrule.autograd import topological_order
from chainrule.layers import GRU, LSTM, Dense, SimpleRNN
from chainrule.ops.recurrent import (
    GRUSequence,
    LSTMSequence,
    SimpleRNNSequence,
    Workspace,
    gru_bptt_reference,
    gru_reference,
    lstm_bptt_reference,
    lstm_reference,
    simple_rnn_bptt_reference,
    simple_rnn_reference,
)

N, T, F, UNITS = 3, 4, 5, 6
TOL = 1e-8

COMPOSITE = {"activation": lambda t: t.tanh(), "recurrent_activation": lambda t: t.sigmoid()}


def _layer(kind, fused, **options):
    if not fused:
        options = {**{k: v for k, v in COMPOSITE.items()
                      if kind != "SimpleRNN" or k == "activation"}, **options}
    return {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}[kind](UNITS, **options)


def _randomize(layer, rng):
    """Non-trivial weights (biases too) so every gradient path carries signal."""
    for p in layer.parameters():
        p.data[...] = rng.uniform(-0.6, 0.6, p.shape)


def _as_list(out):
    return out if isinstance(out, list) else [out]


def _torch_run(torch, layer, x, states, weights):
    """Run the torch twin of ``layer`` on ``x``; return outputs and Keras-layout grads."""
    from torch.func import functional_call
    kind = type(layer).__name__
    module = torch_module(torch, layer, x.shape[-1])
    leaves = {name: torch.tensor(p.data.copy(), requires_grad=True)
              for name, p in layer.named_parameters()}
    params = torch_parameters(torch, layer, leaves)
    tx = torch.tensor(x, requires_grad=True)
    xin = tx.flip(1) if layer.go_backwards else tx
    ts = [torch.tensor(s, requires_grad=True) for s in states] if states else []
    hidden = None if not ts else (tuple(t[None] for t in ts) if kind == "LSTM" else ts[0][None])
    seq, final = functional_call(module, params, (xin, hidden))
    final = [f[0] for f in (final if kind == "LSTM" else (final,))]
    outs = [seq if layer.return_sequences else seq[:, -1]]
    if layer.return_state:
        outs += final
    sum((o * torch.from_numpy(w)).sum() for o, w in zip(outs, weights)).backward()
    grads = {"x": tx.grad.numpy(), **{k: v.grad.numpy() for k, v in leaves.items()}}
    grads.update({f"state{i}": t.grad.numpy() for i, t in enumerate(ts)})
    return [o.detach().numpy() for o in outs], grads


CASES = [  # (return_sequences, return_state, go_backwards, initial_state)
    (False, False, False, False),
    (True, False, False, False),
    (False, True, False, True),
    (True, True, True, True),
    (False, False, True, False),
]


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
@pytest.mark.parametrize("seq,state,backwards,init", CASES,
                         ids=["last", "sequences", "state+init", "all", "backwards"])
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_matches_torch(torch, kind, seq, state, backwards, init, fused):
    cr.set_default_dtype(np.float64)
    cr.manual_seed(0)
    rng = np.random.default_rng(1)
    layer = _layer(kind, fused, return_sequences=seq, return_state=state, go_backwards=backwards)
    assert layer._fusable() is fused
    x = rng.standard_normal((N, T, F))
    layer.build(x.shape)
    layer.built = True
    _randomize(layer, rng)
    n_states = 2 if kind == "LSTM" else 1
    states = [rng.standard_normal((N, UNITS)) for _ in range(n_states)] if init else []

    cx = cr.tensor(x, requires_grad=True)
    cs = [cr.tensor(s, requires_grad=True) for s in states]
    outs = _as_list(layer(cx, initial_state=cs or None))
    weights = [rng.standard_normal(o.shape) for o in outs]
    sum((o * w).sum() for o, w in zip(outs, weights)).backward()

    expected, grads = _torch_run(torch, layer, x, states, weights)
    assert len(outs) == len(expected)
    for k, (o, e) in enumerate(zip(outs, expected)):
        assert o.dtype == np.float64
        assert_close(o.data, e, rtol=TOL, atol=TOL, what=f"{kind} output {k}")
    mine = {"x": cx.grad, **{name: p.grad for name, p in layer.named_parameters()}}
    mine.update({f"state{i}": s.grad for i, s in enumerate(cs)})
    assert set(mine) == set(grads)
    for name, g in grads.items():
        assert_close(mine[name].data, g, rtol=TOL, atol=TOL, what=f"{kind} grad of {name}")


@pytest.mark.parametrize("kind,options", [
    ("SimpleRNN", {"activation": "relu"}), ("SimpleRNN", {"use_bias": False}),
    ("LSTM", {"use_bias": False}), ("GRU", {"use_bias": False}),
], ids=["rnn_relu", "rnn_nobias", "lstm_nobias", "gru_nobias"])
def test_options_match_torch(torch, kind, options):
    cr.set_default_dtype(np.float64)
    cr.manual_seed(0)
    rng = np.random.default_rng(2)
    layer = _layer(kind, True, return_sequences=True, **options)
    x = rng.standard_normal((N, T, F))
    cx = cr.tensor(x, requires_grad=True)
    out = layer(cx)
    w = rng.standard_normal(out.shape)
    (out * w).sum().backward()
    expected, grads = _torch_run(torch, layer, x, [], [w])
    assert_close(out.data, expected[0], rtol=TOL, atol=TOL, what="output")
    assert_close(cx.grad.data, grads["x"], rtol=TOL, atol=TOL, what="grad of x")
    for name, p in layer.named_parameters():
        assert_close(p.grad.data, grads[name], rtol=TOL, atol=TOL, what=f"grad of {name}")


@pytest.mark.parametrize("options", [
    {"reset_after": False}, {"reset_after": False, "use_bias": False},
    {"reset_after": True, "use_bias": False},
    {"reset_after": False, "return_sequences": True, "go_backwards": True},
], ids=["after_false", "after_false_nobias", "nobias", "after_false_seq_back"])
def test_gru_variants_fused_equal_composite(options):
    """reset_after=False has no torch twin: the fused op must equal the Tensor-op path."""
    cr.set_default_dtype(np.float64)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, T, F))
    results = []
    for fused in (True, False):
        layer = _layer("GRU", fused, **options)
        layer.build(x.shape)
        layer.built = True
        _randomize(layer, np.random.default_rng(4))
        cx = cr.tensor(x, requires_grad=True)
        out = layer(cx)
        (out * np.random.default_rng(5).standard_normal(out.shape)).sum().backward()
        results.append([out.data, cx.grad.data] + [p.grad.data for p in layer.parameters()])
    for k, (a, b) in enumerate(zip(*results)):
        assert_close(a, b, rtol=TOL, atol=TOL, what=f"GRU {options} array {k}")


# ---------------------------------------------------------------- gradcheck of the fused ops

def _tiny(rng, *shapes):
    return [cr.tensor(rng.uniform(-0.8, 0.8, s), requires_grad=True) for s in shapes]


@pytest.mark.parametrize("sequences", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "relu", "linear", "sigmoid"])
def test_gradcheck_simple_rnn(activation, sequences):
    rng = np.random.default_rng(6)
    n, t, f, u = 2, 3, 3, 2
    args = _tiny(rng, (n, t, f), (f, u), (u, u), (u,), (n, u))
    cr.gradcheck(lambda *a: SimpleRNNSequence.apply(*a, activation=activation,
                                                    sequences=sequences), *args)


@pytest.mark.parametrize("sequences", [False, True])
@pytest.mark.parametrize("activations", [("tanh", "sigmoid"), ("relu", "tanh"),
                                         ("linear", "sigmoid")])
def test_gradcheck_lstm(activations, sequences):
    rng = np.random.default_rng(7)
    n, t, f, u = 2, 3, 3, 2
    args = _tiny(rng, (n, t, f), (f, 4 * u), (u, 4 * u), (4 * u,), (n, u), (n, u))
    cr.gradcheck(lambda *a: LSTMSequence.apply(
        *a, activation=activations[0], recurrent_activation=activations[1],
        sequences=sequences), *args)


@pytest.mark.parametrize("sequences", [False, True])
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("activations", [("tanh", "sigmoid"), ("relu", "linear")])
def test_gradcheck_gru(activations, reset_after, sequences):
    rng = np.random.default_rng(8)
    n, t, f, u = 2, 3, 3, 2
    bias = (2, 3 * u) if reset_after else (3 * u,)
    args = _tiny(rng, (n, t, f), (f, 3 * u), (u, 3 * u), bias, (n, u))
    cr.gradcheck(lambda *a: GRUSequence.apply(
        *a, activation=activations[0], recurrent_activation=activations[1],
        reset_after=reset_after, sequences=sequences), *args)


def test_gradcheck_without_bias():
    rng = np.random.default_rng(9)
    x, w, u_, h0, c0 = _tiny(rng, (2, 3, 3), (3, 8), (2, 8), (2, 2), (2, 2))
    cr.gradcheck(lambda *a: LSTMSequence.apply(a[0], a[1], a[2], None, a[3], a[4],
                                               sequences=True), x, w, u_, h0, c0)


# ---------------------------------------------------------------- Keras weights and layout

@pytest.mark.parametrize("layer,expected", [
    (SimpleRNN(7), 7 * (5 + 7) + 7),
    (LSTM(7), 4 * (7 * (5 + 7) + 7)),
    (GRU(7), 3 * (7 * (5 + 7) + 2 * 7)),
    (GRU(7, reset_after=False), 3 * (7 * (5 + 7) + 7)),
    (LSTM(7, use_bias=False), 4 * 7 * (5 + 7)),
], ids=["simple_rnn", "lstm", "gru", "gru_reset_before", "lstm_nobias"])
def test_parameter_counts_as_keras(layer, expected):
    layer(np.zeros((2, 3, 5)))
    assert layer.count_params() == expected


def test_initializers_and_shapes():
    cr.manual_seed(0)
    lstm = LSTM(8, input_shape=(None, 5))
    assert lstm.kernel.shape == (5, 32) and lstm.recurrent_kernel.shape == (8, 32)
    u = lstm.recurrent_kernel.data.astype(np.float64)
    np.testing.assert_allclose(u @ u.T, np.eye(8), atol=1e-5)  # orthonormal rows
    bias = lstm.bias.data
    assert np.all(bias[8:16] == 1) and np.all(bias[:8] == 0) and np.all(bias[16:] == 0)
    assert np.all(LSTM(8, unit_forget_bias=False, input_shape=(3, 5)).bias.data == 0)
    gru = GRU(4, input_shape=(3, 5))
    assert gru.bias.shape == (2, 12) and GRU(4, reset_after=False, input_shape=(3, 5)).bias.shape \
        == (12,)
    assert [n for n, _ in SimpleRNN(3, input_shape=(2, 5)).named_parameters()] == [
        "kernel", "recurrent_kernel", "bias"]


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_float32_stays_float32(kind):
    layer = _layer(kind, True, return_sequences=True, return_state=True)
    x = cr.tensor(np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32),
                  requires_grad=True)
    outs = layer(x)
    sum(o.sum() for o in outs).backward()
    assert all(o.dtype == np.float32 for o in outs)
    assert x.grad.dtype == np.float32
    assert all(p.grad.dtype == np.float32 for p in layer.parameters())


def test_fused_call_is_one_node_whatever_the_length():
    counts = []
    for steps in (2, 20):
        layer, head = LSTM(4), Dense(1)
        loss = head(layer(np.ones((2, steps, 3)))).sum()
        counts.append(len(topological_order(loss._ctx)))
    assert counts[0] == counts[1]


def test_config_round_trip():
    layer = GRU(5, activation="relu", recurrent_activation="sigmoid", reset_after=False,
                return_sequences=True, go_backwards=True, name="g")
    config = layer.get_config()
    assert config["units"] == 5 and config["reset_after"] is False
    assert GRU.from_config(config).get_config() == config
    lstm_config = LSTM(3, unit_forget_bias=False, return_state=True).get_config()
    assert LSTM.from_config(lstm_config).get_config() == lstm_config


def test_training_reduces_loss():
    """A few SGD steps learn the mean of a sequence (an LSTM into a Dense head)."""
    cr.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (32, 6, 1)).astype(np.float32)
    y = x.mean(axis=1)
    lstm, head = LSTM(8), Dense(1)
    losses = []
    for _ in range(40):
        loss = ((head(lstm(x)) - y) ** 2).mean()
        params = list(lstm.parameters()) + list(head.parameters())
        for p in params:
            p.grad = None
        loss.backward()
        for p in params:
            p.data -= 0.5 * p.grad.data
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("make,x,match", [
    (lambda: LSTM(4), np.zeros((2, 3)), r"`LSTM` expected inputs of shape \(batch, timesteps"),
    (lambda: GRU(4, input_shape=(3, 5)), np.zeros((2, 3, 6)), r"`GRU` expected inputs with 5 "
                                                              r"features.*\(2, 3, 6\)"),
    (lambda: SimpleRNN(4), np.zeros((2, 0, 3)), "at least one timestep"),
])
def test_bad_inputs_name_the_layer(make, x, match):
    with pytest.raises(ValueError, match=match):
        make()(x)


def test_bad_initial_state_and_arguments():
    with pytest.raises(ValueError, match=r"`LSTM` expected initial_state \[h, c\].*\(2, 4\)"):
        LSTM(4)(np.zeros((2, 3, 5)), initial_state=[np.zeros((2, 4))])
    with pytest.raises(ValueError, match="`reset_after` of `GRU`"):
        GRU(4, reset_after="yes")
    with pytest.raises(ValueError, match="`units` of `SimpleRNN`.*units=0"):
        SimpleRNN(0)


# ---------------------------------------------------------------- scratch reuse is invisible

@pytest.mark.parametrize("seq", [False, True])
def test_outputs_survive_later_calls_and_graph_can_be_retained(seq):
    """The ops recycle their private arrays after backward; outputs must never change,
    and backward(retain_graph=True) twice must give twice the gradient."""
    cr.set_default_dtype(np.float64)
    rng = np.random.default_rng(10)
    layer = LSTM(4, return_sequences=seq, return_state=True)
    x1, x2 = rng.standard_normal((2, 3, 5)), rng.standard_normal((2, 3, 5))
    outs = layer(x1)
    kept = [o.numpy().copy() for o in outs]
    outs[0].sum().backward()
    first = layer.kernel.grad.numpy().copy()
    for _ in range(2):
        layer(x2)[0].sum().backward()
    for o, k in zip(outs, kept):
        np.testing.assert_array_equal(o.numpy(), k)

    layer.kernel.grad = None
    loss = layer(x1)[0].sum()
    loss.backward(retain_graph=True)
    layer(x2)[0].sum().backward()  # runs and releases in between
    layer.kernel.grad = None
    loss.backward()
    assert_close(layer.kernel.grad.numpy(), first, rtol=1e-12, atol=1e-12, what="retained")


# ---------------------------------------------------------------- scratch memory (issue 16.4)


def test_no_module_level_scratch_pool():
    assert not [name for name, v in vars(recurrent_ops).items() if isinstance(v, Workspace)]


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_scratch_memory_lives_and_dies_with_the_layer(kind):
    x = np.random.default_rng(0).standard_normal((32, 20, 8)).astype(np.float32)
    make = {"SimpleRNN": SimpleRNN, "LSTM": LSTM, "GRU": GRU}[kind]
    make(64)(x)  # anything built once per process (registries) before measuring
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        layer = make(64)
        for _ in range(2):
            layer(x).sum().backward()
        held = layer._workspace.nbytes
        workspace = weakref.ref(layer._workspace)
        del layer
        gc.collect()
        leftover = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held > 2**18, "the layer recycles its scratch arrays from call to call"
    assert workspace() is None
    assert leftover < 2**16, f"{leftover} bytes outlive the layer"


def test_fused_op_without_a_workspace_allocates_fresh_arrays():
    rng = np.random.default_rng(1)
    args = _tiny(rng, (2, 3, 4), (4, 5), (5, 5), (5,), (2, 5))
    SimpleRNNSequence.apply(*args).sum().backward()  # no workspace: nothing is kept
    pool = Workspace()
    SimpleRNNSequence.apply(*args, workspace=pool).sum().backward()
    assert pool.nbytes > 0


# ---------------------------------------------------------------- the textbook references
# Each fused op (forward and BPTT) against the plain step-by-step version beside it.

SIZES = [(3, 4, 5, 6), (1, 1, 2, 3), (2, 7, 1, 4)]  # N, T, F, u


def _fused_and_reference(op, arrays, options, sequences, states=1, seed=0):
    """Run the fused op on float64 tensors and backprop a random gradient of its output.
    -> (output, input gradients, per-step output gradients (states, N, T, u))."""
    tensors = [None if a is None else cr.tensor(a, requires_grad=True) for a in arrays]
    out = op.apply(*tensors, sequences=sequences, **options)
    grad = np.random.default_rng(seed).standard_normal(out.shape)
    out.backward(grad)
    grads = [None if t is None else t.grad.data for t in tensors]
    per_step = grad.reshape(states, *grad.shape[-3 if sequences else -2:])
    if not sequences:  # the loss reads only the last step
        n, u = per_step.shape[1:]
        per_step = np.concatenate([np.zeros((states, n, arrays[0].shape[1] - 1, u)),
                                   per_step[:, :, None]], axis=2)
    return out.data, grads, per_step


def _weights(rng, n, t, f, u, gates, bias_shape):
    return (rng.uniform(-1, 1, (n, t, f)), rng.uniform(-0.7, 0.7, (f, gates * u)),
            rng.uniform(-0.7, 0.7, (u, gates * u)),
            None if bias_shape is None else rng.uniform(-0.5, 0.5, bias_shape),
            rng.uniform(-1, 1, (n, u)))


def _mask(masked, n, t, seed):
    """None, or an (N, T) mask with holes, leading and trailing masked steps (seeded)."""
    if not masked:
        return None
    mask = np.random.default_rng(seed).random((n, t)) > 0.4
    mask[0, :] = True  # one sample with every step, one (if N > 1) with none
    if n > 1:
        mask[-1, :] = False
    return mask


def _assert_all_close(got, expected, names):
    for g, e, name in zip(got, expected, names):
        if g is not None:
            assert_close(g, e, rtol=1e-10, atol=1e-12, what=name)


GRAD_NAMES = ("dx", "dkernel", "drecurrent_kernel", "dbias", "dh0", "dc0")


@pytest.mark.parametrize("masked", [False, True], ids=["", "masked"])
@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_simple_rnn_op_equals_its_reference(size, activation, use_bias, sequences, masked):
    n, t, f, u = size
    x, w, rw, b, h0 = _weights(np.random.default_rng(u), n, t, f, u, 1, (u,) if use_bias else None)
    mask = _mask(masked, n, t, u)
    out, grads, (dhs,) = _fused_and_reference(
        SimpleRNNSequence, [x, w, rw, b, h0], dict(activation=activation, mask=mask), sequences)
    hs = simple_rnn_reference(x, w, rw, b, h0, activation, mask)
    assert_close(out, hs if sequences else hs[:, -1], rtol=1e-12, atol=1e-12, what="output")
    _assert_all_close(grads, simple_rnn_bptt_reference(x, w, rw, h0, hs, dhs, activation, mask),
                      GRAD_NAMES)


@pytest.mark.parametrize("masked", [False, True], ids=["", "masked"])
@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("activations", [("tanh", "sigmoid"), ("relu", "tanh"),
                                         ("linear", "sigmoid")])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_lstm_op_equals_its_reference(size, activations, use_bias, sequences, masked):
    n, t, f, u = size
    rng = np.random.default_rng(u + 1)
    x, w, rw, b, h0 = _weights(rng, n, t, f, u, 4, (4 * u,) if use_bias else None)
    c0 = rng.uniform(-1, 1, (n, u))
    mask = _mask(masked, n, t, u + 1)
    options = dict(activation=activations[0], recurrent_activation=activations[1], mask=mask)
    out, grads, (dhs, dcs) = _fused_and_reference(LSTMSequence, [x, w, rw, b, h0, c0], options,
                                                  sequences, states=2)
    forward = lstm_reference(x, w, rw, b, h0, c0, *activations, mask)
    expected = np.stack(forward[:2]) if sequences else np.stack(forward[:2])[:, :, -1]
    assert_close(out, expected, rtol=1e-12, atol=1e-12, what="output")
    _assert_all_close(grads, lstm_bptt_reference(x, w, rw, h0, c0, forward, dhs, dcs,
                                                 *activations, mask), GRAD_NAMES)


def test_lstm_op_leaves_its_weights_alone():
    """The op reorders the gate columns and halves the sigmoid gates' weights on copies."""
    rng = np.random.default_rng(11)
    x, w, rw, b, h0 = _weights(rng, 2, 3, 3, 2, 4, (8,))
    before = [a.copy() for a in (w, rw, b)]
    out = LSTMSequence.apply(*[cr.tensor(a, requires_grad=True) for a in (x, w, rw, b, h0, h0)])
    out.backward(np.ones(out.shape))
    for a, a0 in zip((w, rw, b), before):
        np.testing.assert_array_equal(a, a0)


@pytest.mark.parametrize("masked", [False, True], ids=["", "masked"])
@pytest.mark.parametrize("sequences", [True, False])
@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("activations", [("tanh", "sigmoid"), ("relu", "linear")])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_gru_op_equals_its_reference(size, activations, reset_after, use_bias, sequences,
                                     masked):
    n, t, f, u = size
    bias_shape = ((2, 3 * u) if reset_after else (3 * u,)) if use_bias else None
    x, w, rw, b, h0 = _weights(np.random.default_rng(u + 2), n, t, f, u, 3, bias_shape)
    mask = _mask(masked, n, t, u + 2)
    options = dict(activation=activations[0], recurrent_activation=activations[1],
                   reset_after=reset_after, mask=mask)
    out, grads, (dhs,) = _fused_and_reference(GRUSequence, [x, w, rw, b, h0], options,
                                              sequences)
    forward = gru_reference(x, w, rw, b, h0, *activations, reset_after, mask)
    assert_close(out, forward[0] if sequences else forward[0][:, -1], rtol=1e-12, atol=1e-12,
                 what="output")
    _assert_all_close(grads, gru_bptt_reference(x, w, rw, h0, forward, dhs, *activations,
                                                reset_after, mask), GRAD_NAMES)


# ---------------------------------------------------------------- by hand, in NumPy
# Each layer's equations written out gate by gate in Keras' order, two time steps from
# zero states, against the layer (fused op and step-by-step path).


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _by_hand_weights(gates, seed):
    """Per-gate blocks W_g (F, u), U_g (u, u), b_g (u,) for F = 4 features, u = UNITS."""
    rng = np.random.default_rng(seed)
    return ([rng.uniform(-0.8, 0.8, (4, UNITS)) for _ in range(gates)],
            [rng.uniform(-0.8, 0.8, (UNITS, UNITS)) for _ in range(gates)],
            [rng.uniform(-0.5, 0.5, UNITS) for _ in range(gates)])


def _run_loaded(kind, fused, W, U, b, **options):
    """The layer in float64 with Keras-layout weights: the gate blocks side by side."""
    cr.set_default_dtype(np.float64)  # put back after the test (conftest)
    layer = _layer(kind, fused, return_state=True, **options)
    layer(X2)  # build
    layer.kernel.data[...] = np.concatenate(W, axis=1)
    layer.recurrent_kernel.data[...] = np.concatenate(U, axis=1)
    layer.bias.data[...] = np.concatenate(b, axis=-1)
    return [t.data for t in layer(X2)]


X2 = np.random.default_rng(20).uniform(-1, 1, (3, 2, 4))  # N = 3, T = 2, F = 4
H0 = np.zeros((3, UNITS))
BY_HAND = dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_lstm_two_steps_by_hand(fused):
    (Wi, Wf, Wc, Wo), (Ui, Uf, Uc, Uo), (bi, bf, bc, bo) = _by_hand_weights(4, 21)
    bf = bf + 1.0  # a forget bias well away from 0, as unit_forget_bias starts it
    h, c = H0, H0
    for t in range(2):
        x = X2[:, t]
        i = sigmoid(x @ Wi + h @ Ui + bi)  # input gate
        f = sigmoid(x @ Wf + h @ Uf + bf)  # forget gate
        g = np.tanh(x @ Wc + h @ Uc + bc)  # candidate cell
        o = sigmoid(x @ Wo + h @ Uo + bo)  # output gate
        c = f * c + i * g
        h = o * np.tanh(c)
    out, h_out, c_out = _run_loaded("LSTM", fused, [Wi, Wf, Wc, Wo], [Ui, Uf, Uc, Uo],
                                    [bi, bf, bc, bo])
    for got, want, name in ((out, h, "output"), (h_out, h, "h"), (c_out, c, "c")):
        assert_close(got, want, what=name, **BY_HAND)


@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_simple_rnn_two_steps_by_hand(fused):
    (W,), (U,), (b,) = _by_hand_weights(1, 22)
    h = H0
    for t in range(2):
        h = np.tanh(X2[:, t] @ W + h @ U + b)
    out, h_out = _run_loaded("SimpleRNN", fused, [W], [U], [b])
    assert_close(out, h, what="output", **BY_HAND)
    assert_close(h_out, h, what="h", **BY_HAND)


@pytest.mark.parametrize("reset_after", [True, False])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "composite"])
def test_gru_two_steps_by_hand(fused, reset_after):
    (Wz, Wr, Wh), (Uz, Ur, Uh), b_in = _by_hand_weights(3, 23)
    b_rec = _by_hand_weights(3, 24)[2] if reset_after else None
    h = H0
    for t in range(2):
        x = X2[:, t]
        if reset_after:  # r scales the recurrent product, bias included
            z = sigmoid(x @ Wz + b_in[0] + h @ Uz + b_rec[0])
            r = sigmoid(x @ Wr + b_in[1] + h @ Ur + b_rec[1])
            candidate = np.tanh(x @ Wh + b_in[2] + r * (h @ Uh + b_rec[2]))
        else:  # r scales the state
            z = sigmoid(x @ Wz + h @ Uz + b_in[0])
            r = sigmoid(x @ Wr + h @ Ur + b_in[1])
            candidate = np.tanh(x @ Wh + (r * h) @ Uh + b_in[2])
        h = z * h + (1 - z) * candidate
    bias = [np.stack([bi, br]) for bi, br in zip(b_in, b_rec)] if reset_after else b_in
    out, h_out = _run_loaded("GRU", fused, [Wz, Wr, Wh], [Uz, Ur, Uh], bias,
                             reset_after=reset_after)
    assert_close(out, h, what="output", **BY_HAND)
    assert_close(h_out, h, what="h", **BY_HAND)
