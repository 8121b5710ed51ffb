"""Deep belief net: RBMs stacked and trained greedily, one layer at a time.

Layer i is an RBM whose visible units are the hidden units of layer i - 1; it is
trained (unsupervised) on the hidden probabilities p(h | v) that the trained
layers below produce for the data. ``to_model`` then turns the stack into a
feed-forward ``Sequential`` — each RBM's W and hidden bias become a Dense layer's
kernel and bias — with a fresh softmax layer on top, to fine-tune with labels.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from ..backend import get_default_dtype
from ..io import ModelFormatError
from ..layers import Dense
from ..models import Sequential
from ._format import load_arrays, rbm_shapes, save_arrays
from .rbm import RBM

MAX_LAYERS = 1024  # RBMs in a saved DBN


class DBN:
    """A stack of RBMs of ``layer_sizes`` = [n_visible, n_hidden_1, n_hidden_2, ...]."""

    def __init__(self, layer_sizes: Sequence[int]):
        sizes = [int(s) for s in layer_sizes]
        if len(sizes) < 2 or any(s <= 0 for s in sizes):
            raise ValueError(f"Invalid value for argument `layer_sizes` of `DBN`: expected at "
                             f"least two positive sizes, e.g. [784, 256, 128]; received "
                             f"{list(layer_sizes)}.")
        self.layer_sizes = sizes
        self.rbms = [RBM(n_in, n_out) for n_in, n_out in zip(sizes[:-1], sizes[1:])]

    def __repr__(self) -> str:
        return f"DBN(layer_sizes={self.layer_sizes})"

    def pretrain(self, X, epochs_per_layer: int | Sequence[int] = 10, batch_size: int = 10,
                 lr: float = 0.1, k: int = 1, persistent: bool = False,
                 verbose: int = 0) -> DBN:
        """Train each RBM in turn on the hidden probabilities of the one below.

        X (N, layer_sizes[0]); ``epochs_per_layer`` one int or one per RBM.
        """
        epochs = ([int(epochs_per_layer)] * len(self.rbms)
                  if np.isscalar(epochs_per_layer) else [int(e) for e in epochs_per_layer])
        if len(epochs) != len(self.rbms):
            raise ValueError(f"`DBN.pretrain` expects one epoch count or {len(self.rbms)} "
                             f"(one per RBM); received epochs_per_layer={epochs_per_layer}.")
        inputs = X
        for i, (rbm, n_epochs) in enumerate(zip(self.rbms, epochs)):
            if verbose:
                print(f"DBN layer {i + 1}/{len(self.rbms)}: RBM {rbm.n_visible}-{rbm.n_hidden}")
            rbm.fit(inputs, epochs=n_epochs, batch_size=batch_size, lr=lr, k=k,
                    persistent=persistent, verbose=verbose)
            inputs = rbm.transform(inputs)
        return self

    def transform(self, X) -> np.ndarray:
        """The top layer's hidden probabilities: (N, layer_sizes[0]) -> (N, layer_sizes[-1])."""
        for rbm in self.rbms:
            X = rbm.transform(X)
        return X

    def to_model(self, n_classes: int, activation: str = "sigmoid"):
        """A ``Sequential`` of Dense layers starting exactly from the RBMs' weights
        (kernel = W, bias = hidden bias), then ``Dense(n_classes, "softmax")``.

        Uncompiled: compile it with a loss such as "sparse_categorical_crossentropy".
        """
        model = Sequential()
        for i, rbm in enumerate(self.rbms):
            layer = Dense(rbm.n_hidden, activation=activation,
                          **({"input_dim": rbm.n_visible} if i == 0 else {}))
            model.add(layer)
            if not layer.built:
                layer.build((None, rbm.n_visible))
                layer.built = True
            layer.kernel.data = rbm.W.astype(layer.kernel.dtype, copy=True)
            layer.bias.data = rbm.hidden_bias.astype(layer.bias.dtype, copy=True)
        model.add(Dense(int(n_classes), activation="softmax"))
        return model

    # ------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike) -> None:
        """Every RBM's weights and the layer sizes in one zip file, atomically."""
        arrays = {f"{i}.{name}": getattr(rbm, name) for i, rbm in enumerate(self.rbms)
                  for name in ("W", "visible_bias", "hidden_bias")}
        save_arrays(path, "DBN", {"layer_sizes": self.layer_sizes}, arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> DBN:
        """Read a file written by :meth:`save`; a bad file raises ``ModelFormatError``.
        The stored arrays are checked against the saved sizes before anything is
        allocated, and no random number is drawn."""
        arrays = load_arrays(path, "DBN", _shapes, get_default_dtype())
        dbn = cls.__new__(cls)
        dbn.rbms = [RBM.from_arrays(*(arrays[f"{i}.{name}"] for name in
                                      ("W", "visible_bias", "hidden_bias")))
                    for i in range(len(arrays) // 3)]
        dbn.layer_sizes = [dbn.rbms[0].n_visible, *(rbm.n_hidden for rbm in dbn.rbms)]
        return dbn


def _shapes(config: dict, where: str) -> dict[str, tuple]:
    """The arrays a saved DBN's ``layer_sizes`` imply."""
    sizes = config.get("layer_sizes")
    if not isinstance(sizes, list) or not 2 <= len(sizes) <= MAX_LAYERS or not all(
            type(s) is int and s > 0 for s in sizes):
        raise ModelFormatError(f"{where}: config 'layer_sizes' must be a list of 2 to "
                               f"{MAX_LAYERS} positive integers; found {sizes!r:.100}.")
    return {name: shape for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))
            for name, shape in rbm_shapes(f"{i}.", n_in, n_out).items()}
