"""Wrappers, as Keras: ``Bidirectional`` (a recurrent layer run both ways) and
``TimeDistributed`` (a layer applied to every time step)."""

from __future__ import annotations

from ..tensor import Tensor, concat
from .base import Layer
from .serialization import deserialize_layer, serialize_layer

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _is_recurrent(layer) -> bool:
    return isinstance(layer, Layer) and all(
        hasattr(layer, a) for a in ("go_backwards", "return_sequences", "return_state",
                                    "units", "state_names"))


def _copy(layer: Layer, name: str, **changes) -> Layer:
    """A fresh layer of ``layer``'s class and config, renamed, with ``changes``."""
    config = {**layer.get_config(), "name": name, **changes}
    config.pop("input_shape", None)
    return type(layer).from_config(config)


def _merge(forward: Tensor, backward: Tensor, mode: str | None):
    if mode == "concat":
        return concat([forward, backward], axis=-1)
    if mode == "sum":
        return forward + backward
    if mode == "mul":
        return forward * backward
    if mode == "ave":
        return (forward + backward) * 0.5
    return [forward, backward]


class Bidirectional(Layer):
    """Run a recurrent ``layer`` forwards and a copy of it backwards over the sequence
    and merge their outputs: (N, T, F) -> (N, 2 units) with ``merge_mode="concat"``
    (N, units for "sum", "mul", "ave"; the two outputs as a list for None), or per step
    with return_sequences.

    Weights, as Keras: ``forward_layer`` (a fresh copy of ``layer``) and
    ``backward_layer`` (``backward_layer`` if given, else a copy with go_backwards
    flipped), so state-dict keys read "forward_layer.kernel", "backward_layer.kernel".
    The backward outputs are put back in time order before merging, so step t of the
    output sees x_0..x_t forwards and x_t..x_T backwards: torch's ``bidirectional=True``
    modules, with the forward direction's weights in ``*_l0`` and the backward one's in
    ``*_l0_reverse``. A ``mask`` reaches both layers; with return_sequences their
    masked steps output zeros (Keras sets ``zero_output_for_mask`` on both). With
    ``return_state``: ``[output, *forward states, *backward states]``.
    """

    def __init__(self, layer: Layer, merge_mode: str | None = "concat",
                 backward_layer: Layer | None = None, **kwargs):
        if not _is_recurrent(layer):
            raise ValueError(f"`Bidirectional` wraps a recurrent layer (SimpleRNN, LSTM, GRU); "
                             f"received {layer!r:.80}.")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Invalid value for argument `merge_mode` of `Bidirectional`: "
                             f"expected one of {MERGE_MODES}; received merge_mode="
                             f"{merge_mode!r}.")
        name = layer.name.removeprefix("forward_")
        forward = _copy(layer, f"forward_{name}")
        if backward_layer is None:
            backward = _copy(layer, f"backward_{name}", go_backwards=not layer.go_backwards)
        else:
            self._check_backward(layer, backward_layer)
            backward = backward_layer
        for sub in (forward, backward):  # Keras' force_zero_output_for_mask
            sub.zero_output_for_mask = sub.return_sequences
        self.forward_layer, self.backward_layer = forward, backward
        self.merge_mode = merge_mode
        self.custom_backward = backward_layer is not None
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        if layer.input_shape is not None:  # Bidirectional(LSTM(8, input_shape=...)) builds
            kwargs.setdefault("input_shape", layer.input_shape)
        super().__init__(**kwargs)

    @staticmethod
    def _check_backward(layer: Layer, backward: Layer) -> None:
        if not _is_recurrent(backward) or any(
                getattr(layer, a) != getattr(backward, a)
                for a in ("return_sequences", "return_state")) or \
                backward.go_backwards == layer.go_backwards:
            raise ValueError(f"`Bidirectional`: backward_layer must be a recurrent layer with "
                             f"the same return_sequences and return_state as layer, and the "
                             f"opposite go_backwards; received layer {layer!r:.80} and "
                             f"backward_layer {backward!r:.80}.")

    def build(self, input_shape: tuple) -> None:
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(tuple(input_shape))
                sub.built = True

    def forward(self, x: Tensor, initial_state=None, mask=None):
        forward_state = backward_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_state, backward_state = initial_state[:half], initial_state[half:]
        y = self.forward_layer(x, initial_state=forward_state, mask=mask)
        y_rev = self.backward_layer(x, initial_state=backward_state, mask=mask)
        states = []
        if self.return_state:
            (y, *forward_states), (y_rev, *backward_states) = y, y_rev
            states = forward_states + backward_states
        if self.return_sequences:
            y_rev = y_rev[:, ::-1]
        merged = _merge(y, y_rev, self.merge_mode)
        if not self.return_state:
            return merged
        return [*merged, *states] if self.merge_mode is None else [merged, *states]

    def compute_output_shape(self, input_shape: tuple):
        batch, steps = input_shape[0], input_shape[1]
        subs = (self.forward_layer, self.backward_layer)
        one = (batch, steps) if self.return_sequences else (batch,)
        if self.merge_mode is None:
            shapes = [(*one, sub.units) for sub in subs]
        else:
            width = sum(sub.units for sub in subs) if self.merge_mode == "concat" \
                else self.forward_layer.units
            shapes = [(*one, width)]
        if self.return_state:
            shapes += [(batch, sub.units) for sub in subs for _ in sub.state_names]
        return shapes[0] if len(shapes) == 1 else shapes

    def compute_mask(self, inputs, mask=None):
        output_mask = mask if self.return_sequences else None
        outputs = 2 if self.merge_mode is None else 1
        if not self.return_state and outputs == 1:
            return output_mask
        states = 2 * len(self.forward_layer.state_names) if self.return_state else 0
        return [output_mask] * outputs + [None] * states

    def get_config(self) -> dict:
        config = {**super().get_config(), "layer": serialize_layer(self.forward_layer),
                  "merge_mode": self.merge_mode}
        if self.custom_backward:
            config["backward_layer"] = serialize_layer(self.backward_layer)
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Bidirectional:
        config = dict(config)
        config["layer"] = deserialize_layer(config.get("layer"), custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = deserialize_layer(config["backward_layer"],
                                                         custom_objects)
        return cls(**config)


class TimeDistributed(Layer):
    """Apply ``layer`` to every time step: (N, T, ...) -> (N, T, ...'), the steps run as
    one batch of N * T (so its weights are shared across time)."""

    def __init__(self, layer: Layer, **kwargs):
        if not isinstance(layer, Layer):
            raise ValueError(f"`TimeDistributed` wraps a layer; received {layer!r:.80}.")
        self.layer = layer
        super().__init__(**kwargs)

    def _check(self, shape: tuple) -> None:
        if len(shape) < 3:
            raise ValueError(f"`TimeDistributed` expects inputs of at least rank 3 (batch, "
                             f"timesteps, ...); received shape {tuple(shape)}.")

    def build(self, input_shape: tuple) -> None:
        self._check(input_shape)
        if not self.layer.built:
            self.layer.build((None, *input_shape[2:]))
            self.layer.built = True

    def forward(self, x: Tensor) -> Tensor:
        self._check(x.shape)
        n, t = x.shape[:2]
        y = self.layer(x.reshape(n * t, *x.shape[2:]))
        return y.reshape(n, t, *y.shape[1:])

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        self._check(input_shape)
        batch, steps = input_shape[:2]
        rows = None if batch is None or steps is None else batch * steps
        inner = self.layer.compute_output_shape((rows, *input_shape[2:]))
        return (batch, steps, *inner[1:])

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": serialize_layer(self.layer)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> TimeDistributed:
        return cls(**{**config, "layer": deserialize_layer(config.get("layer"),
                                                           custom_objects)})

