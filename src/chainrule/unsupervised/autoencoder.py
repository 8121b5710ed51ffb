"""Autoencoder: a model that learns to rebuild its input through a narrow code.

x -> encoder -> code -> decoder -> x̂, trained to make x̂ close to x (``fit(X)``
uses X as its own target). Put a ``GaussianNoise`` (or ``Dropout``, for masking
noise) layer first in the encoder and it becomes a *denoising* autoencoder: the
noise is applied only in training, while the target stays the clean x.
"""

from __future__ import annotations

import numpy as np

from ..layers import deserialize_layer, register_layer, serialize_layer
from ..models import Model
from ..models.sequential import output_shape_of
from ..models.training import predict
from ..module import Module


@register_layer  # so cr.models.load_model can rebuild a saved Autoencoder
class Autoencoder(Model):
    """decoder(encoder(x)); ``encoder`` and ``decoder`` are any Modules (often Sequential).

    Compile with a reconstruction loss ("mse", or "binary_crossentropy" for
    pixels in [0, 1]) and call ``fit(X)``. ``save`` / ``cr.models.load_model``
    work when the encoder and decoder can be saved (e.g. Sequentials of
    chainrule layers).
    """

    def __init__(self, encoder: Module, decoder: Module, name: str | None = None):
        for arg, value in (("encoder", encoder), ("decoder", decoder)):
            if not isinstance(value, Module):
                raise TypeError(f"Invalid value for argument `{arg}` of `Autoencoder`: "
                                f"expected a Module (e.g. a Sequential); received "
                                f"{type(value).__name__}.")
        super().__init__(name=name)
        self.encoder = encoder
        self.decoder = decoder

    @property
    def output_activation(self) -> str | None:
        """The decoder's output activation (a sigmoid for pixels in [0, 1]), so that
        binary_crossentropy is computed from its logits."""
        return getattr(self.decoder, "output_activation", None)

    def compute_output_shape(self, input_shape):
        """The decoder's output shape for the encoder's, building both on the way: from
        shapes alone when they are chainrule layers or models, so ``build`` and
        ``load_model`` run no data."""
        return output_shape_of(self.decoder, output_shape_of(self.encoder, input_shape))

    def forward(self, x, logits: bool = False):
        code = self.encoder(x)
        return self.decoder(code, logits=True) if logits else self.decoder(code)

    def fit(self, x=None, y=None, **kwargs):
        """``Model.fit`` with the input as the target when ``y`` is None; a
        ``validation_data`` given as one array is likewise its own target."""
        val = kwargs.get("validation_data")
        if val is not None and not isinstance(val, tuple | list):
            kwargs["validation_data"] = (val, val)
        return super().fit(x, x if y is None else y, **kwargs)

    def evaluate(self, x=None, y=None, **kwargs):
        """``Model.evaluate`` against the input itself when ``y`` is None."""
        return super().evaluate(x, x if y is None else y, **kwargs)

    def get_config(self) -> dict:
        return {"name": self.name, "encoder": serialize_layer(self.encoder),
                "decoder": serialize_layer(self.decoder)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Autoencoder:
        return cls(deserialize_layer(config.get("encoder"), custom_objects),
                   deserialize_layer(config.get("decoder"), custom_objects),
                   name=config.get("name"))

    def encode(self, x, batch_size: int = 256) -> np.ndarray:
        """The codes encoder(x) as a NumPy array (eval mode: no noise, no graph)."""
        return predict(self, x, batch_size, forward=self.encoder)

    def decode(self, codes, batch_size: int = 256) -> np.ndarray:
        """decoder(codes) as a NumPy array (eval mode, no graph)."""
        return predict(self, codes, batch_size, forward=self.decoder)

    def reconstruct(self, x, batch_size: int = 256) -> np.ndarray:
        """decoder(encoder(x)) as a NumPy array (eval mode, no graph)."""
        return self.predict(x, batch_size)
