"""Recurrent layers: SimpleRNN, LSTM and GRU, with Keras' names, weights and gate order.

Inputs are (batch, timesteps, features). ``kernel`` (features, G*units) and
``recurrent_kernel`` (units, G*units) hold G gate blocks side by side: LSTM i, f,
c, o (G = 4), GRU z, r, h (G = 3), SimpleRNN one block. The output is the last
hidden state (N, units), or every step's (N, T, units) with
``return_sequences=True``; ``return_state=True`` returns ``[output, *states]``
(LSTM: ``[output, h, c]``). Each weight takes Keras' initializer, regularizer and
constraint: ``kernel_*``, ``recurrent_*`` (for ``recurrent_kernel``) and ``bias_*``.

With the built-in activations ("tanh", "sigmoid", "relu", "linear") a call is one
fused op from ``ops/recurrent.py`` (the loop over time runs on raw arrays, one
graph node per call). Any other activation runs the same equations step by step
with Tensor ops (``_step``), which is slower but differentiates anything.
"""

from __future__ import annotations

import numpy as np

from .. import activations, initializers
from ..ops.recurrent import (
    ACTIVATIONS,
    GRUSequence,
    LSTMSequence,
    SimpleRNNSequence,
    Workspace,
)
from ..tensor import Tensor, stack, where
from .base import Layer, single_shape, to_tensor


def _fused_name(identifier) -> str | None:
    """The fused ops' name for a built-in activation; None for any other callable."""
    if identifier is None:
        return "linear"
    name = activations.name_of(identifier)
    if name in ACTIVATIONS and activations.get(name) is activations.get(identifier):
        return name
    return None


class _RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: weights, initial states, output options."""

    gates = 1  # gate blocks side by side in kernel and recurrent_kernel
    state_names = ("h",)
    supports_masking = True

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 zero_output_for_mask: bool = False, kernel_regularizer=None,
                 recurrent_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 recurrent_constraint=None, bias_constraint=None, **kwargs):
        layer = type(self).__name__
        if isinstance(units, bool) or int(units) != units or units <= 0:
            raise ValueError(f"Invalid value for argument `units` of `{layer}`: expected a "
                             f"positive integer; received units={units!r}.")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.activation_name = activations.name_of(activation)
        self.use_bias = bool(use_bias)
        self.set_weight_options("kernel", kernel_initializer, kernel_regularizer,
                                kernel_constraint)
        self.set_weight_options("recurrent", recurrent_initializer, recurrent_regularizer,
                                recurrent_constraint)
        self.set_weight_options("bias", bias_initializer, bias_regularizer, bias_constraint)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.kernel = self.recurrent_kernel = self.bias = None
        # the fused op's scratch arrays, reused call to call and freed with the layer
        self._workspace = Workspace()
        super().__init__(**kwargs)

    # ------------------------------------------------------------ weights

    def build(self, input_shape: tuple) -> None:
        input_shape = single_shape(self, input_shape)
        self._check_rank(input_shape)
        if input_shape[-1] is None:
            raise ValueError(f"`{type(self).__name__}` layer '{self.name}' needs a known "
                             f"features axis; received input shape {input_shape}.")
        width = self.gates * self.units
        self.add_weight("kernel", (input_shape[-1], width), **self.weight_options("kernel"))
        self.add_weight("recurrent_kernel", (self.units, width),
                        **self.weight_options("recurrent"))
        if self.use_bias:
            self.add_weight("bias", self._bias_shape(), **{
                **self.weight_options("bias"), "initializer": self._bias_initializer()})

    def compute_output_shape(self, input_shape: tuple):
        """(N, units), or (N, T, units) with return_sequences; with return_state a list
        that adds each state's (N, units)."""
        input_shape = single_shape(self, input_shape)
        self._check_rank(input_shape)
        self._check_features(input_shape)
        batch, steps = input_shape[:2]
        output = (batch, steps, self.units) if self.return_sequences else (batch, self.units)
        if not self.return_state:
            return output
        return [output, *((batch, self.units) for _ in self.state_names)]

    def compute_mask(self, inputs, mask=None):
        """The time-step mask carries on with return_sequences; states have none."""
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask, *(None for _ in self.state_names)]
        return output_mask

    def _bias_shape(self) -> tuple:
        return (self.gates * self.units,)

    def _bias_initializer(self):
        return self.bias_initializer

    def _input_bias(self) -> Tensor | None:
        """The bias added to x @ kernel (GRU with reset_after keeps a second row)."""
        return self.bias

    # ------------------------------------------------------------ forward

    def forward(self, x: Tensor, initial_state=None, mask=None):
        """x (N, T, F) -> (N, units) or (N, T, units); ``[output, *states]`` with return_state.

        ``initial_state``: the starting states, ``[h]`` (or just ``h``) or, for LSTM,
        ``[h, c]``, each (N, units); zeros when omitted. ``mask`` (N, T), True where a
        step counts (``Embedding(mask_zero=True)`` gives it): at a masked step the
        states stay as they were and the output repeats the previous one (zeros
        instead with ``zero_output_for_mask``, as Keras' Bidirectional sets), so the
        last output is that of the last unmasked step.
        """
        self._check_input(x)
        mask = self._check_mask(x, mask)
        states = self._initial_states(x, initial_state)
        if self.go_backwards:
            x = x[:, ::-1]
            mask = None if mask is None else mask[:, ::-1]
        if self._fusable():
            output, states = self._fused(x, states, mask)
        else:
            output, states = self._composite(x, states, mask)
        if mask is not None and self.zero_output_for_mask and self.return_sequences:
            output = output * mask[..., None].astype(output.dtype)
        return [output, *states] if self.return_state else output

    def _check_mask(self, x: Tensor, mask) -> np.ndarray | None:
        """The mask as a boolean (N, T) array, or None."""
        if mask is None:
            return None
        mask = np.asarray(getattr(mask, "data", mask))
        if mask.shape != x.shape[:2]:
            raise ValueError(f"`{type(self).__name__}` layer '{self.name}' expected a mask of "
                             f"shape (batch, timesteps) = {x.shape[:2]}; received "
                             f"{mask.shape}.")
        return mask.astype(bool)

    def _activation_names(self) -> tuple:
        return (_fused_name(self.activation),)

    def _fusable(self) -> bool:
        return all(name is not None for name in self._activation_names())

    def _last(self, sequence: Tensor) -> Tensor:
        """The final state from an op output (already final without return_sequences)."""
        return sequence[:, -1] if self.return_sequences else sequence

    def _composite(self, x: Tensor, states: list, mask: np.ndarray | None) -> tuple:
        """The loop over time in Tensor ops: one ``_step`` per time step (a masked
        sample keeps its states)."""
        z = x @ self.kernel
        if self.use_bias:
            z = z + self._input_bias()
        outputs = []
        for t in range(x.shape[1]):
            new = self._step(z[:, t], states)
            if mask is not None:
                new = [where(mask[:, t, None], n, s) for n, s in zip(new, states)]
            states = new
            outputs.append(states[0])
        output = stack(outputs, axis=1) if self.return_sequences else states[0]
        return output, states

    def _fused(self, x: Tensor, states: list, mask) -> tuple:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define _fused()")

    def _step(self, z: Tensor, states: list) -> list:  # pragma: no cover - abstract
        raise NotImplementedError(f"abstract: {type(self).__name__} must define _step()")

    # ------------------------------------------------------------ checks

    def _check_rank(self, shape: tuple) -> None:
        if len(shape) != 3:
            raise ValueError(f"`{type(self).__name__}` expected inputs of shape (batch, "
                             f"timesteps, features); received shape {tuple(shape)}.")

    def _check_features(self, shape: tuple) -> None:
        layer, features = type(self).__name__, self.kernel.shape[0]
        if shape[-1] != features:
            raise ValueError(f"`{layer}` expected inputs with {features} features (its kernel "
                             f"is {self.kernel.shape}); received shape {tuple(shape)}.")

    def _check_input(self, x: Tensor) -> None:
        self._check_rank(x.shape)
        self._check_features(x.shape)
        layer = type(self).__name__
        if x.shape[1] == 0:
            raise ValueError(f"`{layer}` expected at least one timestep; received shape "
                             f"{x.shape}.")

    def _initial_states(self, x: Tensor, initial_state) -> list:
        shape = (x.shape[0], self.units)
        if initial_state is None:
            dtype = np.result_type(x.dtype, self.kernel.dtype)
            return [Tensor(np.zeros(shape, dtype=dtype)) for _ in self.state_names]
        if not isinstance(initial_state, list | tuple):
            initial_state = [initial_state]
        states = [to_tensor(s) for s in initial_state]
        if len(states) != len(self.state_names) or any(s.shape != shape for s in states):
            names = ", ".join(self.state_names)
            raise ValueError(f"`{type(self).__name__}` expected initial_state [{names}], each "
                             f"of shape {shape}; received shapes {[s.shape for s in states]}.")
        return states

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units,
                "activation": self.activation_name, "use_bias": self.use_bias,
                **self.weight_options_config("kernel", "recurrent", "bias"),
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards,
                "zero_output_for_mask": self.zero_output_for_mask}


class _GatedRNN(_RNN):
    """An RNN with gates: adds ``recurrent_activation``."""

    def __init__(self, units: int, recurrent_activation="sigmoid", **kwargs):
        self.recurrent_activation = activations.get(recurrent_activation)
        self.recurrent_activation_name = activations.name_of(recurrent_activation)
        super().__init__(units, **kwargs)

    def _activation_names(self) -> tuple:
        return _fused_name(self.activation), _fused_name(self.recurrent_activation)

    def get_config(self) -> dict:
        return {**super().get_config(),
                "recurrent_activation": self.recurrent_activation_name}


class SimpleRNN(_RNN):
    """h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias).

    Weights: kernel (features, units), recurrent_kernel (units, units), bias (units,);
    torch's ``nn.RNN`` with weight_ih = kernel.T, weight_hh = recurrent_kernel.T.
    """

    def __init__(self, units: int, activation="tanh", use_bias: bool = True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, **kwargs):
        super().__init__(units, activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, return_sequences=return_sequences,
                         return_state=return_state, go_backwards=go_backwards, **kwargs)

    def _fused(self, x: Tensor, states: list, mask) -> tuple:
        out = SimpleRNNSequence.apply(x, self.kernel, self.recurrent_kernel, self.bias,
                                      states[0], activation=self._activation_names()[0],
                                      sequences=self.return_sequences,
                                      workspace=self._workspace, mask=mask)
        return out, [self._last(out)]

    def _step(self, z: Tensor, states: list) -> list:
        return [self.activation(z + states[0] @ self.recurrent_kernel)]


class LSTM(_GatedRNN):
    """Long short-term memory, Keras gate order i, f, c, o.

        i, f, o = recurrent_activation(x W + h U + b) for their blocks
        c_t = f c_{t-1} + i activation(x W_c + h U_c + b_c);  h_t = o activation(c_t)

    Weights: kernel (features, 4u), recurrent_kernel (u, 4u), bias (4u,);
    ``unit_forget_bias`` starts the forget-gate bias at 1. Same gate order as torch's
    ``nn.LSTM`` (weight_ih = kernel.T, weight_hh = recurrent_kernel.T, b_ih = bias).
    """

    gates = 4
    state_names = ("h", "c")

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias: bool = True, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, **kwargs):
        self.unit_forget_bias = bool(unit_forget_bias)
        super().__init__(units, recurrent_activation=recurrent_activation,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, return_sequences=return_sequences,
                         return_state=return_state, go_backwards=go_backwards, **kwargs)

    def _bias_initializer(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        init, u = initializers.get(self.bias_initializer), self.units
        return lambda shape: np.concatenate([init((u,)), np.ones(u), init((2 * u,))])

    def _fused(self, x: Tensor, states: list, mask) -> tuple:
        activation, recurrent_activation = self._activation_names()
        out = LSTMSequence.apply(x, self.kernel, self.recurrent_kernel, self.bias, *states,
                                 activation=activation,
                                 recurrent_activation=recurrent_activation,
                                 sequences=self.return_sequences, workspace=self._workspace,
                                 mask=mask)
        h = out[0]
        return h, [self._last(h), self._last(out[1])]

    def _step(self, z: Tensor, states: list) -> list:
        h, c = states
        u = self.units
        z = z + h @ self.recurrent_kernel
        i = self.recurrent_activation(z[:, :u])
        f = self.recurrent_activation(z[:, u:2 * u])
        g = self.activation(z[:, 2 * u:3 * u])
        o = self.recurrent_activation(z[:, 3 * u:])
        c = f * c + i * g
        return [o * self.activation(c), c]

    def get_config(self) -> dict:
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRU(_GatedRNN):
    """Gated recurrent unit, Keras gate order z, r, h;  h_t = z h_{t-1} + (1 - z) h~.

    With ``reset_after=True`` (Keras' default, and torch's ``nn.GRU``) the reset gate
    multiplies the recurrent product: h~ = activation(x W_h + b_in + r (h U_h + b_rec)),
    and bias is (2, 3u): the input row and the recurrent row. With
    ``reset_after=False`` it multiplies the state first: h~ = activation(x W_h +
    (r h) U_h + b), and bias is (3u,).
    """

    gates = 3

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, reset_after: bool = True, **kwargs):
        if not isinstance(reset_after, bool | np.bool_):
            raise ValueError(f"Invalid value for argument `reset_after` of `GRU`: expected "
                             f"True or False; received reset_after={reset_after!r}.")
        self.reset_after = bool(reset_after)
        super().__init__(units, recurrent_activation=recurrent_activation,
                         activation=activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, return_sequences=return_sequences,
                         return_state=return_state, go_backwards=go_backwards, **kwargs)

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _input_bias(self) -> Tensor | None:
        return self.bias[0] if self.reset_after else self.bias

    def _fused(self, x: Tensor, states: list, mask) -> tuple:
        activation, recurrent_activation = self._activation_names()
        out = GRUSequence.apply(x, self.kernel, self.recurrent_kernel, self.bias, states[0],
                                activation=activation,
                                recurrent_activation=recurrent_activation,
                                reset_after=self.reset_after, sequences=self.return_sequences,
                                workspace=self._workspace, mask=mask)
        return out, [self._last(out)]

    def _step(self, z: Tensor, states: list) -> list:
        (h,) = states
        u, kernel = self.units, self.recurrent_kernel
        if self.reset_after:
            rec = h @ kernel
            if self.use_bias:
                rec = rec + self.bias[1]
            update = self.recurrent_activation(z[:, :u] + rec[:, :u])
            reset = self.recurrent_activation(z[:, u:2 * u] + rec[:, u:2 * u])
            candidate = self.activation(z[:, 2 * u:] + reset * rec[:, 2 * u:])
        else:
            zr = z[:, :2 * u] + h @ kernel[:, :2 * u]
            update = self.recurrent_activation(zr[:, :u])
            reset = self.recurrent_activation(zr[:, u:])
            candidate = self.activation(z[:, 2 * u:] + (reset * h) @ kernel[:, 2 * u:])
        return [update * h + (1 - update) * candidate]

    def get_config(self) -> dict:
        return {**super().get_config(), "reset_after": self.reset_after}
