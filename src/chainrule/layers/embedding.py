"""Embedding: integer ids -> learned dense vectors (Keras ``Embedding``)."""

from __future__ import annotations

import numpy as np

from .. import functional as F
from ..ops.embedding import check_ids
from ..tensor import Tensor
from .base import Layer, single_shape


class Embedding(Layer):
    """Look up one learned vector per id: ids (...) integer -> (..., output_dim).

    ``embeddings`` is (input_dim, output_dim); ids must lie in [0, input_dim).
    Repeated ids accumulate gradient in their row. ``input_length`` (Keras 2) fixes
    the sequence length, so the layer builds at once. With ``mask_zero=True`` id 0 is
    padding: ``compute_mask`` gives ``ids != 0`` (N, T), which models hand to the
    layers after it that take ``mask=`` (as Keras; id 0 still has a row).
    ``embeddings_regularizer`` and ``embeddings_constraint`` act on ``embeddings``.
    """

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 input_length: int | None = None, mask_zero: bool = False,
                 embeddings_regularizer=None, embeddings_constraint=None, **kwargs):
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if int(value) != value or value <= 0:
                raise ValueError(f"Invalid value for argument `{arg}` of `Embedding`: expected "
                                 f"a positive integer; received {arg}={value}.")
        self.input_dim, self.output_dim = int(input_dim), int(output_dim)
        self.set_weight_options("embeddings", embeddings_initializer, embeddings_regularizer,
                                embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.input_length = None if input_length is None else int(input_length)
        self.embeddings = None
        if self.input_length is not None and kwargs.get("input_shape") is None:
            kwargs["input_shape"] = (self.input_length,)
        super().__init__(**kwargs)

    def build(self, input_shape: tuple) -> None:
        self.add_weight("embeddings", (self.input_dim, self.output_dim),
                        **self.weight_options("embeddings"))

    def compute_output_shape(self, input_shape: tuple) -> tuple:
        return (*single_shape(self, input_shape), self.output_dim)

    def compute_mask(self, inputs, mask=None):
        """``ids != 0`` (the shape of the ids) with ``mask_zero``; else None."""
        if not self.mask_zero:
            return None
        return np.asarray(getattr(inputs, "data", inputs)) != 0

    def forward(self, ids: Tensor) -> Tensor:
        ids = check_ids(ids.data, self.input_dim,
                        owner=f"`Embedding` layer '{self.name}'")
        return F.embedding(ids, self.embeddings)

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim,
                "output_dim": self.output_dim, **self.weight_options_config("embeddings"),
                "input_length": self.input_length, "mask_zero": self.mask_zero}
