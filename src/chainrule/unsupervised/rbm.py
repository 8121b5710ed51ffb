"""Bernoulli–Bernoulli restricted Boltzmann machine, trained by contrastive divergence.

Pure NumPy on purpose: the RBM's learning signal is not the gradient of a loss
that backpropagation could compute. It is the difference between two
expectations of ``v hᵀ`` — one with the hidden units driven by the data (the
positive phase), one after k steps of Gibbs sampling (the negative phase):

    E(v, h) = -vᵀ W h - bᵥᵀ v - bₕᵀ h
    F(v)    = -bᵥᵀ v - Σⱼ softplus((vᵀ W + bₕ)ⱼ)                (free energy)
    ΔW      = lr · (⟨v₀ p(h|v₀)ᵀ⟩ - ⟨vₖ p(h|vₖ)ᵀ⟩)             (CD-k, batch mean)

Each Gibbs half-step is one GEMM over the whole batch, in float32.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..backend import get_default_dtype, rng
from ._format import load_arrays, positive_int, rbm_shapes, save_arrays
from .blas import blas_threads_for_batch

# Random numbers are drawn for this many batches at a time: one generator call
# per chunk instead of one per batch keeps Python overhead off the hot loop.
_CHUNK_BATCHES = 64
_MONITOR_ROWS = 1000
def _sigmoid_(x: np.ndarray) -> np.ndarray:
    """In-place logistic σ(x) = ½ + ½ tanh(x / 2) (no overflow for large |x|)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + eˣ), stable for any finite x."""
    return np.logaddexp(0, x)


def cd_k_reference(W: np.ndarray, visible_bias: np.ndarray, hidden_bias: np.ndarray,
                   v0: np.ndarray, lr: float, u_hidden: np.ndarray, u_visible: np.ndarray,
                   chains: np.ndarray | None = None) -> tuple:
    """One CD-k update written as the textbook does (Hinton's practical guide, §3).

    v0 (B, n_visible) is the batch; u_hidden (k, B, n_hidden) and u_visible (k, B,
    n_visible) are the uniform draws, a unit being on when its draw is below its
    probability. CD-k starts the Gibbs chain from h ~ p(h|v0); persistent CD from
    ``chains`` (B, n_hidden), which then moves on one more step. Returns the new
    (W, visible_bias, hidden_bias, chains). ``RBM._train_batches`` is the fast version.
    """
    def sigmoid(a):
        return 1 / (1 + np.exp(-a))

    hidden_draws = list(u_hidden)
    ph0 = sigmoid(v0 @ W + hidden_bias)  # positive phase: p(h | v0)
    h = (hidden_draws.pop(0) < ph0).astype(v0.dtype) if chains is None else chains
    for u_v in u_visible:  # k steps of Gibbs sampling: v ~ p(v | h), then h ~ p(h | v)
        v = (u_v < sigmoid(h @ W.T + visible_bias)).astype(v0.dtype)
        phk = sigmoid(v @ W + hidden_bias)
        if hidden_draws:
            h = (hidden_draws.pop(0) < phk).astype(v0.dtype)
    step = lr / len(v0)  # the batch mean of <v h>_data - <v h>_model
    return (W + step * (v0.T @ ph0 - v.T @ phk),
            visible_bias + step * (v0 - v).sum(axis=0),
            hidden_bias + step * (ph0 - phk).sum(axis=0),
            None if chains is None else h)


class RBM:
    """A Bernoulli RBM with ``n_visible`` binary visible and ``n_hidden`` binary hidden units.

    Parameters: ``W`` (n_visible, n_hidden), ``visible_bias`` (n_visible,),
    ``hidden_bias`` (n_hidden,), in the default dtype (float32). Weights start
    from N(0, 0.01²) and biases from zero, as in scikit-learn's ``BernoulliRBM``.
    """

    def __init__(self, n_visible: int, n_hidden: int):
        for arg, value in (("n_visible", n_visible), ("n_hidden", n_hidden)):
            if int(value) <= 0:
                raise ValueError(f"Invalid value for argument `{arg}` of `RBM`: expected a "
                                 f"positive integer; received {arg}={value}.")
        n_visible, n_hidden = int(n_visible), int(n_hidden)
        dtype = get_default_dtype()
        self._set_parameters(rng().normal(0.0, 0.01, (n_visible, n_hidden)).astype(dtype),
                             np.zeros(n_visible, dtype), np.zeros(n_hidden, dtype))

    def _set_parameters(self, W: np.ndarray, visible_bias: np.ndarray,
                        hidden_bias: np.ndarray) -> None:
        """Take these parameters (W (n_visible, n_hidden), the biases) and a fresh history."""
        self.n_visible, self.n_hidden = W.shape
        self.W, self.visible_bias, self.hidden_bias = W, visible_bias, hidden_bias
        self.history: dict[str, list[float]] = {"reconstruction_error": [], "epoch_time": []}
        self._chains: np.ndarray | None = None  # persistent CD's hidden states

    @classmethod
    def from_arrays(cls, W: np.ndarray, visible_bias: np.ndarray,
                    hidden_bias: np.ndarray) -> RBM:
        """An RBM holding these parameters (shapes as ``load`` checks them); draws nothing."""
        rbm = cls.__new__(cls)
        rbm._set_parameters(W, visible_bias, hidden_bias)
        return rbm

    def __repr__(self) -> str:
        return f"RBM(n_visible={self.n_visible}, n_hidden={self.n_hidden})"

    # ------------------------------------------------------------ inference

    def _check(self, X, what: str = "X") -> np.ndarray:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_visible:
            raise ValueError(f"`RBM` expected {what} of shape (N, {self.n_visible}) "
                             f"(n_visible={self.n_visible}); received shape {X.shape}.")
        return X.astype(self.W.dtype, copy=False)

    def transform(self, X) -> np.ndarray:
        """Hidden probabilities p(h=1 | v=X): (N, n_visible) -> (N, n_hidden)."""
        return _sigmoid_(self._check(X) @ self.W + self.hidden_bias)

    def _visible_probs(self, H: np.ndarray) -> np.ndarray:
        return _sigmoid_(H @ self.W.T + self.visible_bias)

    def reconstruct(self, X) -> np.ndarray:
        """One mean-field up-down pass p(v | p(h | X)): (N, n_visible) -> (N, n_visible)."""
        return self._visible_probs(self.transform(X))

    def free_energy(self, v) -> np.ndarray:
        """F(v) = -v·bᵥ - Σⱼ softplus(v W + bₕ)ⱼ, one value per row: (N, n_visible) -> (N,)."""
        v = self._check(v, "v")
        return -(v @ self.visible_bias) - _softplus(v @ self.W + self.hidden_bias).sum(axis=1)

    def pseudo_likelihood(self, v) -> np.ndarray:
        """Stochastic log pseudo-likelihood per row, as scikit-learn's ``score_samples``.

        One random bit i of each row is flipped (v̂) and the value is
        n_visible · log σ(F(v̂) - F(v)); its mean over rows and draws estimates
        Σᵢ log p(vᵢ | v₋ᵢ). Draws come from chainrule's seeded generator. (N,).
        """
        v = self._check(v, "v")
        flipped = v.copy()
        rows = np.arange(v.shape[0])
        cols = rng().integers(0, self.n_visible, v.shape[0])
        flipped[rows, cols] = 1 - flipped[rows, cols]
        delta = self.free_energy(flipped).astype(np.float64) - self.free_energy(v)
        return -self.n_visible * np.logaddexp(0, -delta)  # log σ(x) = -softplus(-x)

    def sample(self, n: int, gibbs_steps: int = 1000) -> np.ndarray:
        """Run ``n`` Gibbs chains from uniform random binary images for ``gibbs_steps``
        steps; return the last visible probabilities, (n, n_visible)."""
        gen = rng()
        v = (gen.random((n, self.n_visible)) < 0.5).astype(self.W.dtype)
        pv = v
        for _ in range(max(int(gibbs_steps), 1)):
            ph = self.transform(v)
            h = (gen.random(ph.shape, dtype=ph.dtype) < ph).astype(ph.dtype)
            pv = self._visible_probs(h)
            v = (gen.random(pv.shape, dtype=pv.dtype) < pv).astype(pv.dtype)
        return pv

    # ------------------------------------------------------------ training

    def fit(self, X, epochs: int = 10, batch_size: int = 10, lr: float = 0.1, k: int = 1,
            persistent: bool = False, shuffle: bool = True, verbose: int = 0) -> RBM:
        """Train with CD-k (or persistent CD when ``persistent``) on binary/[0, 1] data.

        X (N, n_visible). Each epoch visits every row once in mini-batches;
        ``history["reconstruction_error"]`` gets the mean squared one-step
        reconstruction error of (up to) the first 1,000 rows after each epoch.
        Persistent CD keeps ``batch_size`` Gibbs chains from batch to batch (and
        across calls to ``fit``), as scikit-learn's ``BernoulliRBM`` does.
        """
        X = self._check(X)
        if int(k) < 1 or int(batch_size) < 1:
            raise ValueError(f"`RBM.fit` expects k >= 1 and batch_size >= 1; received "
                             f"k={k}, batch_size={batch_size}.")
        k, batch_size = int(k), min(int(batch_size), len(X))
        if persistent and (self._chains is None or len(self._chains) != batch_size):
            self._chains = np.zeros((batch_size, self.n_hidden), self.W.dtype)
        monitor = X[:_MONITOR_ROWS]
        with blas_threads_for_batch(batch_size):  # small GEMMs: one thread (see blas.py)
            for epoch in range(int(epochs)):
                start = time.perf_counter()
                order = rng().permutation(len(X)) if shuffle else None
                self._epoch(X if order is None else X[order], batch_size, float(lr), k,
                            persistent)
                self._log_epoch(monitor, time.perf_counter() - start, epoch, epochs, verbose)
        return self

    def _log_epoch(self, monitor: np.ndarray, elapsed: float, epoch: int, epochs: int,
                   verbose: int) -> None:
        error = float(np.mean((self.reconstruct(monitor) - monitor) ** 2))
        self.history["reconstruction_error"].append(error)
        self.history["epoch_time"].append(elapsed)
        if verbose:
            print(f"RBM epoch {epoch + 1}/{epochs}: reconstruction error {error:.4f}, "
                  f"{elapsed:.2f}s")

    def _epoch(self, X: np.ndarray, batch_size: int, lr: float, k: int,
               persistent: bool) -> None:
        """One pass over X (already shuffled) in mini-batches of ``batch_size``."""
        n_full = len(X) // batch_size
        for first in range(0, n_full, _CHUNK_BATCHES):
            count = min(_CHUNK_BATCHES, n_full - first)
            rows = X[first * batch_size:(first + count) * batch_size]
            self._train_batches(rows.reshape(count, batch_size, -1), lr, k, persistent)
        rest = X[n_full * batch_size:]
        if len(rest):
            self._train_batches(rest[None], lr, k, persistent)

    def _train_batches(self, batches: np.ndarray, lr: float, k: int,
                       persistent: bool) -> None:
        """CD-k updates for ``batches`` (n_batches, B, n_visible), one after another.

        :func:`cd_k_reference` is the same update written plainly; this version
        draws the random numbers for many batches at once, reuses its buffers, and
        shares one GEMM between the positive and negative statistics: with
        V = [v₀; vₖ] and H = [p(h|v₀); -p(h|vₖ)] stacked along the batch axis, Vᵀ H
        is v₀ᵀ p(h|v₀) - vₖᵀ p(h|vₖ).
        """
        W, bv, bh, dtype = self.W, self.visible_bias, self.hidden_bias, self.W.dtype
        n_batches, B, n_vis = batches.shape
        gen = rng()
        u_hidden = gen.random((n_batches, k, B, self.n_hidden), dtype=dtype)
        u_visible = gen.random((n_batches, k, B, n_vis), dtype=dtype)
        V = np.empty((2 * B, n_vis), dtype)
        H = np.empty((2 * B, self.n_hidden), dtype)
        h = np.empty((B, self.n_hidden), dtype)
        grad = np.empty_like(W)
        step = dtype.type(lr / B)
        chains = self._chains[:B] if persistent else None
        v0, vk, h0, hk = V[:B], V[B:], H[:B], H[B:]
        for i in range(n_batches):
            v0[...] = batches[i]
            np.dot(v0, W, out=h0)
            h0 += bh
            _sigmoid_(h0)  # p(h | v0)
            draw = 0  # CD-k takes k hidden draws from v0 on; persistent CD, k from the chains
            if chains is None:
                np.less(u_hidden[i, 0], h0, out=h)  # h ~ p(h | v0)
                draw = 1
            else:
                h[...] = chains
            for step_k in range(k):
                np.dot(h, W.T, out=vk)
                vk += bv
                _sigmoid_(vk)
                np.less(u_visible[i, step_k], vk, out=vk)  # v ~ p(v | h)
                np.dot(vk, W, out=hk)
                hk += bh
                _sigmoid_(hk)  # p(h | v)
                if draw < k:  # another step follows, or the persistent chain moves on
                    np.less(u_hidden[i, draw], hk, out=h)
                    draw += 1
            if chains is not None:
                chains[...] = h
            bv += step * (v0.sum(axis=0) - vk.sum(axis=0))
            bh += step * (h0.sum(axis=0) - hk.sum(axis=0))
            np.negative(hk, out=hk)
            H *= step
            np.dot(V.T, H, out=grad)
            W += grad

    # ------------------------------------------------------------ saving

    def get_config(self) -> dict:
        return {"n_visible": self.n_visible, "n_hidden": self.n_hidden}

    def save(self, path: str | os.PathLike) -> None:
        """Write the RBM to one zip file (JSON config + safetensors weights), atomically."""
        save_arrays(path, "RBM", self.get_config(), {
            "W": self.W, "visible_bias": self.visible_bias, "hidden_bias": self.hidden_bias})

    @classmethod
    def load(cls, path: str | os.PathLike) -> RBM:
        """Read a file written by :meth:`save`; a bad file raises ``ModelFormatError``.
        The stored arrays are checked against the saved sizes before anything is
        allocated, and no random number is drawn."""
        def shapes(config: dict, where: str) -> dict:
            return rbm_shapes("", positive_int(config, "n_visible", where),
                              positive_int(config, "n_hidden", where))

        arrays = load_arrays(path, "RBM", shapes, get_default_dtype())
        return cls.from_arrays(arrays["W"], arrays["visible_bias"], arrays["hidden_bias"])
