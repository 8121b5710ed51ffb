"""Generative adversarial network: a generator G learns to fool a discriminator D.

Per mini-batch of real samples x and fresh noise z ~ N(0, I):

1. discriminator step, G fixed:  L_D = BCE(D(x), 1 - s) + BCE(D(G(z)), 0)
2. generator step, D frozen:     L_G = BCE(D(G(z')), 1) = -log σ(D(G(z')))

D outputs one logit per sample (no sigmoid); BCE is the fused, stable
sigmoid-cross-entropy on logits; s is the one-sided label smoothing (0 by
default). Step 2 is the non-saturating loss of Goodfellow
et al. (2014): it keeps G's gradient large while D still wins easily. D is frozen
(``trainable = False``) during step 2, so its weights get no gradient and no update.

Training runs through ``Model.fit``, as Keras' GAN example does: the GAN overrides
only ``train_step`` (both steps on one batch), which returns ``{"d_loss", "g_loss"}``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from .. import backend
from ..autograd import no_grad
from ..callbacks import History
from ..data import DataLoader
from ..losses import BinaryCrossentropy
from ..models import Model
from ..models.sequential import output_shape_of
from ..models.training import inference_mode
from ..module import Module
from ..optim import Adam, Optimizer
from ..optim import get as get_optimizer


@contextlib.contextmanager
def _frozen(module: Module) -> Iterator[None]:
    """``module.trainable = False`` for the block, then every sub-module's and
    parameter's own setting put back (layers the user froze stay frozen; weights a
    lazy layer created inside the block follow their layer's setting)."""
    modules = [(m, m.trainable) for m in module.modules()]
    params = {id(p): p.requires_grad for p in module.parameters()}
    module.trainable = False
    try:
        yield
    finally:
        for m, trainable in modules:
            object.__setattr__(m, "_trainable", trainable)
            for p in m._parameters.values():
                p.requires_grad = params.get(id(p), trainable)


def _default_optimizer() -> Adam:
    """Adam(lr=2e-4, betas=(0.5, 0.999)): the DCGAN paper's settings."""
    return Adam(lr=2e-4, betas=(0.5, 0.999))


class GAN(Model):
    """``generator`` maps (N, latent_dim) noise to samples; ``discriminator`` maps
    samples to (N, 1) logits. ``fit(X)`` trains both; ``generate(n)`` samples."""

    def __init__(self, generator: Module, discriminator: Module, latent_dim: int,
                 d_optimizer=None, g_optimizer=None, label_smoothing: float = 0.0,
                 name: str | None = None):
        for arg, value in (("generator", generator), ("discriminator", discriminator)):
            if not isinstance(value, Module):
                raise TypeError(f"Invalid value for argument `{arg}` of `GAN`: expected a "
                                f"Module (e.g. a Sequential); received {type(value).__name__}.")
        if int(latent_dim) <= 0:
            raise ValueError(f"Invalid value for argument `latent_dim` of `GAN`: expected a "
                             f"positive integer; received latent_dim={latent_dim}.")
        super().__init__(name=name)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = int(latent_dim)
        self.compile(d_optimizer, g_optimizer, label_smoothing)

    def compile(self, d_optimizer=None, g_optimizer=None, label_smoothing: float = 0.0) -> None:
        """Choose the two optimizers (names or objects; default Adam(2e-4, betas=(0.5,
        0.999)) each) and one-sided label smoothing (real targets 1 - label_smoothing)."""
        if not 0 <= label_smoothing < 0.5:
            raise ValueError(f"Invalid value for argument `label_smoothing` of `GAN.compile`: "
                             f"expected a float in [0, 0.5); received {label_smoothing}.")
        self.d_optimizer = self._optimizer(d_optimizer, self.discriminator)
        self.g_optimizer = self._optimizer(g_optimizer, self.generator)
        self.label_smoothing = float(label_smoothing)
        self.loss = BinaryCrossentropy(from_logits=True)

    @staticmethod
    def _optimizer(identifier, module: Module) -> Optimizer:
        optimizer = _default_optimizer() if identifier is None else get_optimizer(identifier)
        optimizer.attach(module.parameters())
        return optimizer

    def forward(self, z):
        return self.generator(z)

    def compute_output_shape(self, input_shape):
        """The generator's output shape for noise of ``input_shape``, building the
        generator, then the discriminator on it, from shapes alone (``build`` runs no
        data)."""
        samples = output_shape_of(self.generator, input_shape)
        output_shape_of(self.discriminator, samples)
        return samples

    def sample_latent(self, n: int) -> np.ndarray:
        """(n, latent_dim) standard normal noise from chainrule's seeded generator."""
        return backend.rng().standard_normal((int(n), self.latent_dim),
                                             dtype=backend.get_default_dtype())

    def _logits(self, x):
        logits = self.discriminator(x)
        if logits.ndim != 2 or logits.shape[1] != 1:
            raise ValueError(f"`GAN` expects the discriminator to end in one logit per "
                             f"sample, shape (N, 1); it returned shape {logits.shape}.")
        return logits

    def _require_compiled(self, what: str) -> None:
        """The two optimizers and the loss are set in ``__init__``: always compiled."""

    def train_step(self, real: np.ndarray, y=None, sample_weight=None) -> dict:
        """One discriminator step and one generator step on a batch of real samples;
        returns ``{"d_loss": ..., "g_loss": ...}``."""
        d_loss = self.discriminator_step(real)
        return {"d_loss": d_loss, "g_loss": self.generator_step(len(real))}

    def discriminator_step(self, real: np.ndarray) -> float:
        """Update D on ``real`` (target 1 - label_smoothing) and as many generated
        samples (target 0); G is run without a graph, so it gets no gradient."""
        n, dtype = len(real), backend.get_default_dtype()
        with no_grad():
            fake = self.generator(self.sample_latent(n)).data
        d_loss = (self.loss(np.full((n, 1), 1.0 - self.label_smoothing, dtype),
                            self._logits(real))
                  + self.loss(np.zeros((n, 1), dtype), self._logits(fake)))
        self.d_optimizer.zero_grad()
        d_loss.backward()
        self.d_optimizer.step()
        return float(d_loss.data)

    def generator_step(self, n: int) -> float:
        """Update G on ``n`` fresh samples with the non-saturating loss -log σ(D(G(z)));
        D is frozen meanwhile (no gradient, no update)."""
        with _frozen(self.discriminator):
            g_loss = self.loss(np.ones((n, 1), backend.get_default_dtype()),
                               self._logits(self.generator(self.sample_latent(n))))
            self.g_optimizer.zero_grad()
            g_loss.backward()
            self.g_optimizer.step()
        return float(g_loss.data)

    def fit(self, x=None, y=None, batch_size: int = 64, epochs: int = 1, verbose: int = 1,
            callbacks=None, shuffle: bool = True, **unused) -> History:
        """Train on real samples ``x`` (N, ...) for ``epochs`` through ``Model.fit``; the
        last partial batch is dropped. Returns a History with per-epoch mean "d_loss"
        and "g_loss"."""
        if unused:
            raise TypeError(f"GAN.fit got unexpected argument(s) {sorted(unused)}.")
        x = np.asarray(x)
        if x.ndim < 2 or x.dtype.kind not in "fiu":
            raise ValueError(f"`GAN.fit` expects real samples as a numeric array of shape "
                             f"(N, ...); received shape {x.shape}, dtype {x.dtype}.")
        batch_size = int(batch_size)
        if not 1 <= batch_size <= len(x):
            raise ValueError(f"`GAN.fit` expects 1 <= batch_size <= {len(x)} (the number of "
                             f"samples); received batch_size={batch_size}.")
        batches = DataLoader(x, batch_size=batch_size, shuffle=shuffle, drop_last=True)
        return super().fit(batches, epochs=epochs, verbose=verbose, callbacks=callbacks)

    def generate(self, n: int, z=None, batch_size: int = 256) -> np.ndarray:
        """``n`` samples G(z) as a NumPy array (eval mode, no graph); ``z`` (n,
        latent_dim) fixes the noise, e.g. to watch the same digits improve."""
        z = self.sample_latent(n) if z is None else np.asarray(z, backend.get_default_dtype())
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"`GAN.generate` expects noise of shape (n, {self.latent_dim}); "
                             f"received shape {z.shape}.")
        with inference_mode(self):
            return np.concatenate([np.array(self.generator(z[i:i + batch_size]).data)
                                   for i in range(0, len(z), batch_size)], axis=0)
