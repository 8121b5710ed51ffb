"""The torch twin of a chainrule recurrent layer, given its Keras-layout weights.

torch's ``nn.RNN``/``nn.LSTM``/``nn.GRU`` hold weight_ih = kernel.T and weight_hh =
recurrent_kernel.T, with GRU's gate blocks z, r, h reordered to torch's r, z, n;
LSTM/SimpleRNN's single bias goes in b_ih (zeros in b_hh), GRU's two rows in b_ih and
b_hh. Built from torch tensors that require grad, torch's gradients arrive in Keras
layout and compare element for element.
"""

from __future__ import annotations


def torch_module(torch, layer, input_size: int, bidirectional: bool = False):
    """An untrained torch module of the same kind and size as ``layer`` (float64)."""
    kind = type(layer).__name__
    act = "relu" if layer.activation_name == "relu" else "tanh"  # lambdas stand for tanh
    nonlinearity = {"nonlinearity": act} if kind == "SimpleRNN" else {}
    module = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}[kind]
    return module(input_size, layer.units, batch_first=True, bias=layer.use_bias,
                  bidirectional=bidirectional, **nonlinearity).double()


def torch_parameters(torch, layer, leaves: dict, suffix: str = "") -> dict:
    """torch parameter name -> tensor, computed from ``leaves`` (Keras name -> torch
    tensor) of ``layer``; ``suffix`` "_reverse" for the backward direction."""
    kind, u = type(layer).__name__, layer.units
    order = [u, 0, 2 * u] if kind == "GRU" else list(range(0, layer.gates * u, u))
    perm = torch.tensor([j + k for j in order for k in range(u)])  # Keras -> torch blocks
    params = {f"weight_ih_l0{suffix}": leaves["kernel"][:, perm].T,
              f"weight_hh_l0{suffix}": leaves["recurrent_kernel"][:, perm].T}
    if layer.use_bias:
        bias = leaves["bias"]
        ih, hh = (bias[0], bias[1]) if kind == "GRU" else (bias, torch.zeros_like(bias))
        params.update({f"bias_ih_l0{suffix}": ih[perm], f"bias_hh_l0{suffix}": hh[perm]})
    return params
