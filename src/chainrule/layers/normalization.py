"""Normalization layers: BatchNormalization and LayerNormalization (Keras semantics)."""

from __future__ import annotations

from .. import functional as F
from ..tensor import Tensor
from .base import Layer, single_shape


def _check_axis(layer: Layer, input_shape: tuple, any_axis: bool) -> int:
    """The channel axis as a non-negative int: any axis but the batch axis when
    ``any_axis``, else only the last (-1 or ndim - 1)."""
    ndim = len(input_shape)
    axis = layer.axis
    allowed = range(1 - ndim, ndim) if any_axis else (-1, ndim - 1)
    if isinstance(axis, bool) or not isinstance(axis, int) or axis not in allowed \
            or (any_axis and axis % ndim == 0):
        expected = "an axis other than the batch axis 0" if any_axis else \
            "the last axis (-1, channels-last)"
        raise ValueError(f"Invalid value for argument `axis` of `{type(layer).__name__}`: "
                         f"expected {expected}; received axis={axis!r} for inputs of shape "
                         f"{tuple(input_shape)}.")
    return axis % ndim


def _check_channels(layer: Layer, shape: tuple, channels: int, axis: int = -1) -> None:
    if len(shape) <= axis or shape[axis] != channels:
        raise ValueError(f"`{type(layer).__name__}` layer '{layer.name}' was built for "
                         f"{channels} channels on axis {axis}; received shape "
                         f"{tuple(shape)}.")


class _Normalization:
    """Shared config and weights of the two normalization layers: gamma and beta (C,).

    A mixin placed before ``Layer`` (so it stays out of the layer registry).
    """

    supports_masking = True

    def __init__(self, axis: int = -1, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer="zeros", gamma_initializer="ones",
                 **kwargs):
        self.axis = axis
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer, self.gamma_initializer = beta_initializer, gamma_initializer
        self.gamma = self.beta = None
        super().__init__(**kwargs)

    any_axis = False  # whether ``axis`` may be any axis but the batch axis

    def build(self, input_shape: tuple) -> None:
        input_shape = single_shape(self, input_shape)
        self.channel_axis = _check_axis(self, input_shape, self.any_axis)
        if input_shape[self.channel_axis] is None:
            raise ValueError(f"`{type(self).__name__}` layer '{self.name}' needs a known "
                             f"size on axis {self.channel_axis}; received input shape "
                             f"{input_shape}.")
        self.channels = input_shape[self.channel_axis]
        if self.scale:
            self.add_weight("gamma", (self.channels,), self.gamma_initializer)
        if self.center:
            self.add_weight("beta", (self.channels,), self.beta_initializer)

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        input_shape = single_shape(self, input_shape)
        _check_channels(self, input_shape, self.channels, self.channel_axis)
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon,
                "center": self.center, "scale": self.scale,
                "beta_initializer": self.beta_initializer,
                "gamma_initializer": self.gamma_initializer}


class BatchNormalization(_Normalization, Layer):
    """Normalise each channel with batch statistics in training, moving ones otherwise.

    x (N, ..., C) -> y, same shape: y = gamma * (x - mean) / sqrt(var + epsilon) + beta,
    with C on ``axis`` (the last by default; ``axis=1`` for channels-first inputs, or
    any axis but the batch axis; mean and variance run over all the others).
    In training (``self.training`` and not frozen) mean/var are the batch's (biased
    variance) and the buffers follow Keras:
    moving = moving * momentum + batch * (1 - momentum), the biased batch variance
    feeding ``moving_variance``. In eval, or when frozen (``trainable = False``, as
    Keras), the moving statistics are used and never updated. torch's ``BatchNorm1d/2d``
    is ``axis=1`` with ``momentum = 1 - momentum`` and ``eps = epsilon``, except that
    torch's running variance takes the unbiased batch variance.
    ``synchronized=True`` (Keras 3; torch's SyncBatchNorm): when ``fit(distributed=True)``
    spreads each batch over several processes, the statistics are the global batch's,
    not each process's share's.
    """

    any_axis = True

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros",
                 moving_variance_initializer="ones", synchronized: bool = False, **kwargs):
        if not 0 <= momentum <= 1:
            raise ValueError(f"Invalid value for argument `momentum` of `BatchNormalization`: "
                             f"expected a float in [0, 1]; received momentum={momentum}.")
        self.momentum = float(momentum)
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.moving_mean = self.moving_variance = None
        self.synchronized = bool(synchronized)
        super().__init__(axis=axis, epsilon=epsilon, center=center, scale=scale,
                         beta_initializer=beta_initializer,
                         gamma_initializer=gamma_initializer, **kwargs)

    def build(self, input_shape: tuple) -> None:
        super().build(input_shape)
        self.add_state("moving_mean", (self.channels,), self.moving_mean_initializer)
        self.add_state("moving_variance", (self.channels,), self.moving_variance_initializer)

    def forward(self, x: Tensor) -> Tensor:
        _check_channels(self, x.shape, self.channels, self.channel_axis)
        return F.batch_norm(x, self.moving_mean, self.moving_variance, self.gamma, self.beta,
                            training=self.training and self._trainable,
                            momentum=self.momentum, epsilon=self.epsilon,
                            axis=self.channel_axis, synchronized=self.synchronized)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": self.moving_mean_initializer,
                "moving_variance_initializer": self.moving_variance_initializer,
                "synchronized": self.synchronized}


class LayerNormalization(_Normalization, Layer):
    """Normalise each sample over its last axis: x (..., C) -> y, same shape.

    y = gamma * (x - mean) / sqrt(var + epsilon) + beta, mean and biased variance
    over C; the same in training and eval. Only ``axis=-1`` (Keras' default).
    """

    def forward(self, x: Tensor) -> Tensor:
        _check_channels(self, x.shape, self.channels, self.channel_axis)
        return F.layer_norm(x, self.gamma, self.beta, epsilon=self.epsilon)
