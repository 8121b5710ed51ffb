"""Converters of the recurrent layers and the wrappers: SimpleRNN, LSTM and GRU as ONNX's
RNN, LSTM and GRU operators, Bidirectional and TimeDistributed.

Keras and ONNX lay the gates out differently:

    layer      Keras blocks (kernel columns)   ONNX blocks (W rows)   mapping
    SimpleRNN  one                             one                    W = kernel.T
    LSTM       i, f, c, o                      i, o, f, c             blocks [0, 3, 1, 2]
    GRU        z, r, h                         z, r, h                as they are

W is (1, G*units, features) and R (1, G*units, units), the kernels transposed; B is
(1, 2*G*units), the input bias then the recurrent one (zeros, except GRU's second
bias row with ``reset_after=True``, which is ONNX's ``linear_before_reset=1``). Both
update rules agree: Keras' h = z h_prev + (1 - z) h~ is ONNX's H = (1 - z) h + z H_prev
with the same z. ONNX runs time-major, so the sequence is transposed to (T, N, F) and
back; ``go_backwards`` reverses the input steps first, as chainrule does, so the
outputs come in the order the layer produced them.
"""

from __future__ import annotations

import numpy as np

from .core import FLOAT, weight
from .graph import OnnxGraph, Value, apply, converts, layer_error

OP_TYPES = {"SimpleRNN": "RNN", "LSTM": "LSTM", "GRU": "GRU"}
GATE_ORDER = {"SimpleRNN": [0], "LSTM": [0, 3, 1, 2], "GRU": [0, 1, 2]}
# chainrule's fused activation names -> ONNX's (Affine with alpha 1, beta 0 is linear)
ONNX_ACTIVATIONS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu", "linear": "Affine"}
INT64_MAX = np.iinfo(np.int64).max


def _blocks(matrix: np.ndarray, order: list[int], units: int) -> np.ndarray:
    """(rows, G*units) Keras columns -> (G*units, rows) ONNX rows in ``order``."""
    return np.concatenate([matrix[:, k * units:(k + 1) * units] for k in order], axis=1).T


def _activations(layer) -> dict:
    """ONNX's ``activations`` (and Affine's alpha/beta) for ``layer``: LSTM [f, g, h] =
    [recurrent_activation, activation, activation], GRU [f, g], SimpleRNN [g]."""
    names = layer._activation_names()  # (activation,) or (activation, recurrent_activation)
    if any(n not in ONNX_ACTIVATIONS for n in names):
        raise layer_error(layer, "its activations are not all built-in ones (tanh, sigmoid, "
                                 "relu, linear); ONNX's recurrent operators take only "
                                 "named activations, and an unrolled graph of a custom "
                                 "function is not written.")
    kind = type(layer).__name__
    if kind == "SimpleRNN":
        order = [names[0]]
    elif kind == "LSTM":
        order = [names[1], names[0], names[0]]
    else:
        order = [names[1], names[0]]
    onnx_names = [ONNX_ACTIVATIONS[n] for n in order]
    attrs = {"activations": onnx_names}
    if "Affine" in onnx_names:  # one alpha and one beta per activation that takes them
        count = onnx_names.count("Affine")
        attrs.update(activation_alpha=[1.0] * count, activation_beta=[0.0] * count)
    return attrs


def _weights(layer) -> tuple:
    """(W, R, B) in ONNX's layouts, each with its leading direction axis of 1."""
    kind, units = type(layer).__name__, layer.units
    order = GATE_ORDER[kind]
    w = _blocks(weight(layer.kernel), order, units)
    r = _blocks(weight(layer.recurrent_kernel), order, units)
    width = w.shape[0]
    bias = weight(layer.bias)
    if bias is None:
        b = np.zeros(2 * width, FLOAT)
    elif bias.ndim == 2:  # GRU reset_after: the input row and the recurrent row
        b = np.concatenate([_blocks(bias[:1], order, units)[:, 0],
                            _blocks(bias[1:], order, units)[:, 0]])
    else:
        b = np.concatenate([_blocks(bias[None], order, units)[:, 0], np.zeros(width, FLOAT)])
    return w[None], r[None], b[None]


def reverse_time(g: OnnxGraph, x) -> str:
    """x (N, T, ...) with its steps in reverse order."""
    return g.op("Slice", [x, g.ints([-1]), g.ints([-INT64_MAX]), g.ints([1]), g.ints([-1])])


def recurrent(g: OnnxGraph, layer, x: Value, initial_state=None) -> str | list[str]:
    """One recurrent layer: [output, *states] (states only with return_state)."""
    kind = type(layer).__name__
    seq = reverse_time(g, x) if layer.go_backwards else x.name
    seq = g.op("Transpose", [seq], perm=[1, 0, 2])  # time-major
    w, r, b = _weights(layer)
    inputs = [seq, g.const(w, "W"), g.const(r, "R"), g.const(b, "B"), ""]
    states = [] if initial_state is None else (
        list(initial_state) if isinstance(initial_state, list | tuple) else [initial_state])
    inputs += [g.op("Unsqueeze", [s, g.ints([0])]) for s in states]
    attrs = _activations(layer)
    if kind == "GRU":
        attrs["linear_before_reset"] = int(layer.reset_after)
    outputs = g.op(OP_TYPES[kind], inputs, outputs=3 if kind == "LSTM" else 2, stem=kind,
                   hidden_size=layer.units, **attrs)
    y, *final = outputs
    final = [g.op("Squeeze", [s, g.ints([0])]) for s in final]  # (1, N, u) -> (N, u)
    if layer.return_sequences:  # (T, 1, N, u) -> (N, T, u)
        output = g.op("Transpose", [g.op("Squeeze", [y, g.ints([1])])], perm=[1, 0, 2])
    else:
        output = final[0]
    return [output, *final] if layer.return_state else output


def _check_mask(layer, mask) -> None:
    if mask is not None:
        raise layer_error(layer, "it is called with a mask; the ONNX export does not carry "
                                 "masks (masked steps would be computed as real ones).")


@converts("SimpleRNN", "LSTM", "GRU")
def rnn(g: OnnxGraph, layer, x: Value, initial_state=None, mask=None):
    _check_mask(layer, mask)
    return recurrent(g, layer, x, initial_state)


def merge_pair(g: OnnxGraph, forward: str, backward: str, mode: str | None):
    """Bidirectional's merge of the two directions, as ``layers.wrappers._merge``."""
    if mode == "concat":
        return g.op("Concat", [forward, backward], axis=-1)
    if mode == "sum":
        return g.op("Add", [forward, backward])
    if mode == "mul":
        return g.op("Mul", [forward, backward])
    if mode == "ave":
        return g.op("Mul", [g.op("Add", [forward, backward]),
                            g.const(np.asarray(0.5, FLOAT), "half")])
    return [forward, backward]


@converts("Bidirectional")
def bidirectional(g: OnnxGraph, layer, x: Value, initial_state=None, mask=None):
    """Each direction's layer converted on its own; the backward outputs put back in
    time order (with return_sequences) before the merge."""
    _check_mask(layer, mask)
    forward_state = backward_state = None
    if initial_state is not None:
        half = len(initial_state) // 2
        forward_state, backward_state = initial_state[:half], initial_state[half:]
    y = recurrent(g, layer.forward_layer, x, forward_state)
    y_rev = recurrent(g, layer.backward_layer, x, backward_state)
    states = []
    if layer.return_state:
        (y, *forward_states), (y_rev, *backward_states) = y, y_rev
        states = forward_states + backward_states
    if layer.return_sequences:
        y_rev = reverse_time(g, y_rev)
    merged = merge_pair(g, y, y_rev, layer.merge_mode)
    if not layer.return_state:
        return merged
    return [*merged, *states] if layer.merge_mode is None else [merged, *states]


@converts("TimeDistributed")
def time_distributed(g: OnnxGraph, layer, x: Value) -> str:
    """(N, T, ...) -> (N * T, ...) -> the inner layer -> (N, T, ...')."""
    steps = x.shape[1]
    rows = Value(g.op("Reshape", [x, g.ints([-1, *x.shape[2:]])]),
                 x.data.reshape(-1, *x.shape[2:]))
    out = apply(g, layer.layer, rows)
    if not isinstance(out, Value):
        raise layer_error(layer, "the wrapped layer returns several outputs.")
    return g.op("Reshape", [out, g.ints([-1, steps, *out.shape[1:]])])
