"""Recurrent ops: SimpleRNN, LSTM and GRU over a whole sequence, one graph node each.

Why fused: the same layer written with Tensor ops records about ten nodes per time
step, and a training step runs 2-3x slower (benchmarks/bench_recurrent.py). Here ``forward`` loops
over time on raw arrays, keeping what backward needs in preallocated arrays, and
``backward`` runs backpropagation through time in one reverse loop. Around the loop
sit the large GEMMs: the input projection of every step at once before it, and
the kernel and recurrent-kernel gradients (sums over all steps) after it.

Conventions (Keras): x is (N, T, F); ``kernel`` (F, G*u) and ``recurrent_kernel``
(u, G*u) hold the G gate blocks side by side, LSTM in the order i, f, c, o and GRU
z, r, h. The ops return the hidden state of every step, (N, T, u), when
``sequences`` is true, else that of the last step, (N, u); the LSTM op returns
its hidden and cell states stacked on a new first axis.

Inside, states and gates are stored transposed, "feature-major": a state is
(u, N) and the gates of one step (G*u, N), so each gate is a contiguous (u, N)
block and every elementwise op runs on contiguous memory (NumPy is 2-4x slower on
the strided column blocks of an (N, G*u) array). The per-step product is then
``recurrent_kernel.T @ h``, and the equations in the docstrings below, written
for row vectors as Keras does, hold column by column.

Masks (Keras): each op takes ``mask``, (N, T) boolean or None. Where it is False the
step does not count for that sample: its states pass through unchanged (h_t =
h_{t-1}, and c_t = c_{t-1} for LSTM), so the output there repeats the previous one,
and in backward the gradient reaching those states goes straight to step t - 1 while
the step's gates get none. The step is still computed for the whole batch (one
GEMM), then the masked samples' states are copied back over it.

Activation derivatives are taken from the activation's output y (tanh' = 1 - y^2,
sigmoid' = y (1 - y)), so only outputs are stored. Scratch arrays come from the
``workspace`` the calling layer owns (see :class:`Workspace`), never from a
module-level pool.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function, ShapeError


def _sigmoid(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    """sigmoid(a) = (1 + tanh(a / 2)) / 2: never overflows, and faster than exp."""
    np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _sigmoid_grad(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    g *= y
    g *= 1 - y
    return g


def _tanh_grad(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    g *= 1 - y * y
    return g


def _linear(a: np.ndarray, out: np.ndarray) -> np.ndarray:
    if out is not a:
        np.copyto(out, a)
    return out


# name -> (out = f(a), in place;  g *= f'(a) in place, from the output y = f(a))
ACTIVATIONS = {
    "tanh": (lambda a, out: np.tanh(a, out=out), _tanh_grad),
    "sigmoid": (_sigmoid, _sigmoid_grad),
    "relu": (lambda a, out: np.maximum(a, 0, out=out), lambda y, g: np.multiply(g, y > 0, out=g)),
    "linear": (_linear, lambda y, g: g),
}


def _row_sums(a: np.ndarray) -> np.ndarray:
    """a.sum(axis=1) of a wide (K, T*N) matrix as a GEMV: 3x faster (K=512, T*N=3200)."""
    return a @ np.ones(a.shape[1], dtype=a.dtype)


def _gate_weights(kernel, recurrent_kernel, bias, shift: int, halved: int):
    """Copies of the weights with their gate columns (the last axis) rolled by ``shift``, and
    the first ``halved`` of them times 0.5 when ``halved``: a sigmoid gate is then
    (1 + tanh(z)) / 2 of the product, one tanh over all gates instead of a multiply, tanh,
    multiply, add."""
    weights = [None if w is None else np.roll(w, shift, axis=-1)
               for w in (kernel, recurrent_kernel, bias)]
    if halved:
        for w in weights:
            if w is not None:
                w[..., :halved] *= 0.5
    return weights


def _tanh_gates(z: np.ndarray, sigmoid_rows: int) -> None:
    """In place: tanh over the whole (K, N) block, then (1 + y) / 2 on its first rows, the
    sigmoid gates, whose weights were halved (see :func:`_gate_weights`)."""
    np.tanh(z, out=z)
    s = z[:sigmoid_rows]
    s *= 0.5
    s += 0.5


class Workspace:
    """Large scratch arrays recycled from one call of an op to the next.

    A freshly allocated multi-megabyte array costs a page fault per 4 KiB page on
    first touch (up to 5 ms of a 20 ms LSTM training step at batch 64, T=50, 128
    units, measured). The arrays only an op itself sees (gates, gate gradients)
    come from the workspace passed to the op and go back once backward has run
    (``release``); outputs never do. Each recurrent layer owns one, so the memory
    lives exactly as long as the layer; an op called without one allocates fresh
    arrays. Bounded: when more than ``limit_bytes`` would be kept, it is emptied
    and refilled, so shapes that stop occurring do not pin memory.
    """

    def __init__(self, limit_bytes: int = 256 * 2**20):
        self.free: dict[tuple, list] = {}
        self.nbytes, self.limit = 0, limit_bytes

    def empty(self, shape: tuple, dtype) -> np.ndarray:
        stack = self.free.get((tuple(shape), np.dtype(dtype).str))
        if stack:
            array = stack.pop()
            self.nbytes -= array.nbytes
            return array
        return np.empty(shape, dtype=dtype)

    def give(self, arrays) -> None:
        for array in arrays:
            if self.nbytes + array.nbytes > self.limit:
                self.free.clear()
                self.nbytes = 0
            self.free.setdefault((array.shape, array.dtype.str), []).append(array)
            self.nbytes += array.nbytes


class _Recurrence(Function):
    """Shared plumbing: scratch arrays, the input projection, outputs and gradients."""

    workspace: Workspace | None = None  # set by forward from its ``workspace`` option

    def _scratch(self, shape: tuple, dtype) -> np.ndarray:
        """An uninitialised array private to this op, recycled after backward when the op
        was given a workspace."""
        if self.workspace is None:
            return np.empty(shape, dtype=dtype)
        array = self.workspace.empty(shape, dtype)
        vars(self).setdefault("scratch", []).append(array)
        return array

    def release(self) -> None:
        if self.workspace is not None:
            self.workspace.give(vars(self).get("scratch", ()))
        super().release()

    def _project(self, x, kernel, bias):
        """x (N, T, F) -> kernel.T @ x_t + bias for every step, (T, K, N).

        The bias rides in the GEMM as one more kernel row against a row of ones under
        x: adding it afterwards took 0.27 ms more (T=50, N=64, K=512, one thread).
        """
        n, t, f = x.shape
        dtype = np.result_type(x, kernel)
        rows = f if bias is None else f + 1
        x_steps = self._scratch((t, rows, n), dtype)  # x as (T, F, N), then the ones
        np.copyto(x_steps[:, :f], x.transpose(1, 2, 0))
        self.x_steps = x_steps[:, :f]
        if bias is not None:
            x_steps[:, f] = 1
            kernel = np.concatenate([kernel, bias.reshape(1, -1).astype(kernel.dtype)])
        return np.matmul(kernel.T, x_steps, out=self._scratch((t, kernel.shape[1], n), dtype))

    def _grad_storage(self, like):
        """Room for every step's gate gradient: (K, T, N) from gates (T, K, N), so the
        weight gradients below are single GEMMs on its (K, T*N) view."""
        return self._scratch((like.shape[1], like.shape[0], like.shape[2]), like.dtype)

    def _input_grads(self, dz, kernel, bias_shape):
        """From dz = dL/dz (K, T, N): dx, dkernel, dbias, and dz as (K, T*N)."""
        k, t, n = dz.shape
        dz2d = dz.reshape(k, t * n)
        dx = dkernel = dbias = None
        if self.needs_input_grad[0]:
            dx = (kernel @ dz2d).reshape(-1, t, n).transpose(2, 1, 0)
        if self.needs_input_grad[1]:
            x2d = self.x_steps.transpose(1, 0, 2).reshape(-1, t * n)
            dkernel = (dz2d @ x2d.T).T  # 1.7x faster than x2d @ dz2d.T (F=32, K=512)
        if bias_shape is not None and self.needs_input_grad[3]:
            dbias = _row_sums(dz2d).reshape(bias_shape)
        return dx, dkernel, dbias, dz2d

    def _sum_over_steps(self, states, dz2d):
        """sum_t states_t dz_t^T: states (T, u, N), dz2d (K, T*N) -> (u, K), one GEMM."""
        t, u, n = states.shape
        rows = self._scratch((u, t, n), states.dtype)
        np.copyto(rows, states.transpose(1, 0, 2))  # whole rows of N: a cheap copy
        return (dz2d @ rows.reshape(u, t * n).T).T  # 1.2x faster than rows.T @ dz2d.T

    def _set_mask(self, mask, x) -> None:
        """Keep the (N, T) boolean mask as (T, N) rows (None: every step counts)."""
        if mask is not None and np.shape(mask) != x.shape[:2]:
            raise ShapeError(f"{type(self).__name__}: mask of shape {np.shape(mask)} does not "
                             f"match inputs of shape {x.shape}; expected (N, T) = "
                             f"{x.shape[:2]}.")
        self.mask = None if mask is None else np.ascontiguousarray(np.asarray(mask, bool).T)

    def _carry(self, states, t: int) -> None:
        """Masked samples keep their states through step t: states[t + 1] = states[t]
        there (states (T + 1, ..., N))."""
        if self.mask is not None:
            np.copyto(states[t + 1], states[t], where=~self.mask[t])

    def _hold(self, t: int, *grads) -> list:
        """Split the gradients reaching step t's states: the masked samples' share passes
        to step t - 1 unchanged (returned; None without a mask); the rest stays, in place,
        for the step's BPTT."""
        if self.mask is None:
            return None
        keep = self.mask[t]
        held = [g * ~keep for g in grads]
        for g in grads:
            g *= keep
        return held

    def _states(self, shape: tuple, dtype, sequences: bool) -> np.ndarray:
        """Storage for the states (T + 1, ..., u, N); the output is a view of it when
        ``sequences``, so only then is it a fresh array rather than scratch."""
        return np.empty(shape, dtype=dtype) if sequences else self._scratch(shape, dtype)

    @staticmethod
    def _output(states, sequences):
        """Stored states (T + 1, ..., u, N), initial first -> (..., N, T, u) or (..., N, u)."""
        if sequences:
            return np.moveaxis(states[1:], (-1, 0), (-3, -2))
        return np.swapaxes(states[-1], -1, -2).copy()

    def _output_grads(self, grad, steps):
        """Per-step gradients of the output in the stored layout: t -> (..., u, N) or None."""
        if self.sequences:
            per_step = np.ascontiguousarray(np.moveaxis(grad, (-3, -2), (-1, 0)))
            return lambda t: per_step[t]
        last = np.swapaxes(grad, -1, -2)
        return lambda t: last if t == steps - 1 else None


class SimpleRNNSequence(_Recurrence):
    """h_t = a(x_t W + h_{t-1} U + b);  BPTT: dz_t = (dh_t + dz_{t+1} U^T) a'(h_t).

    forward(x, kernel, recurrent_kernel, bias, h0, activation="tanh", sequences=False,
    workspace=None):
    kernel (F, u), recurrent_kernel (u, u), bias (u,) or None, h0 (N, u).
    dW = sum_t x_t^T dz_t,  dU = sum_t h_{t-1}^T dz_t,  db = sum_t dz_t,  dh0 = dz_1 U^T.
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, activation="tanh",
                sequences=False, workspace=None, mask=None):
        self.workspace = workspace
        self._set_mask(mask, x)
        act = ACTIVATIONS[activation][0]
        z = self._project(x, kernel, bias)
        hs = self._states((z.shape[0] + 1, *h0.shape[::-1]), z.dtype, sequences)
        hs[0] = h0.T
        rec = self._scratch(z.shape[1:], z.dtype)
        for t in range(z.shape[0]):
            z[t] += np.matmul(recurrent_kernel.T, hs[t], out=rec)
            act(z[t], out=hs[t + 1])
            self._carry(hs, t)
        self.save_for_backward(kernel, recurrent_kernel, None if bias is None else bias.shape, hs)
        self.activation, self.sequences = activation, sequences
        return self._output(hs, sequences)

    def backward(self, grad):
        kernel, u_kernel, bias_shape, hs = self.saved
        act_grad = ACTIVATIONS[self.activation][1]
        steps = hs.shape[0] - 1
        output_grad = self._output_grads(grad, steps)
        dz = self._grad_storage(hs[1:])
        dh, dh_next = np.zeros_like(hs[0]), np.empty_like(hs[0])
        for t in reversed(range(steps)):
            g = output_grad(t)
            if g is not None:
                dh += g
            held = self._hold(t, dh)
            d = act_grad(hs[t + 1], dh)
            dz[:, t] = d
            dh, dh_next = np.matmul(u_kernel, d, out=dh_next), dh
            if held:
                dh += held[0]
        dx, dkernel, dbias, dz2d = self._input_grads(dz, kernel, bias_shape)
        du = self._sum_over_steps(hs[:-1], dz2d) if self.needs_input_grad[2] else None
        return dx, dkernel, du, dbias, dh.T


class LSTMSequence(_Recurrence):
    """Keras LSTM (gates i, f, c, o) over a sequence; returns h and c stacked on axis 0.

    forward(x, kernel, recurrent_kernel, bias, h0, c0, activation="tanh",
    recurrent_activation="sigmoid", sequences=False, workspace=None) -> (2, N, T, u) or
    (2, N, u).
    With a = activation and s = recurrent_activation, per step:
        [zi, zf, zc, zo] = x_t W + h_{t-1} U + b
        i, f, o = s(zi), s(zf), s(zo);   g = a(zc)
        c_t = f c_{t-1} + i g;            h_t = o a(c_t)
    Backward, dh and dc being all that reaches h_t and c_t (outputs and step t+1):
        dc += dh o a'(c_t);   do = dh a(c_t)
        di = dc g,  df = dc c_{t-1},  dg = dc i;   dc_{t-1} = dc f
        dz_t = [di s'(zi), df s'(zf), dg a'(zc), do s'(zo)];   dh_{t-1} = dz_t U^T
        dW = sum_t x_t^T dz_t,  dU = sum_t h_{t-1}^T dz_t,  db = sum_t dz_t.

    Inside, the gates are kept in the order o, i, f, g, so that the sigmoid gates form one
    block: one call takes their nonlinearity forward and its derivative backward.
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, c0, activation="tanh",
                recurrent_activation="sigmoid", sequences=False, workspace=None, mask=None):
        self.workspace = workspace
        self._set_mask(mask, x)
        u = h0.shape[-1]
        fused = activation == "tanh" and recurrent_activation == "sigmoid"
        # Keras [i, f, c, o] -> [o, i, f, g]: the gate columns rolled by u
        w, u_w, b = _gate_weights(kernel, recurrent_kernel, bias, u, 3 * u if fused else 0)
        gates = self._project(x, w, b)  # (T, 4u, N), [o, i, f, g] once activated
        steps, n = gates.shape[0], h0.shape[0]
        hc = self._states((steps + 1, 2, u, n), gates.dtype, sequences)  # [h, c]
        hc[0, 0], hc[0, 1] = h0.T, c0.T
        act_c = self._scratch((steps, u, n), gates.dtype)  # a(c_t)
        rec, ig = self._scratch((4 * u, n), gates.dtype), self._scratch((u, n), gates.dtype)
        self._run(gates, hc, act_c, u_w.T, (rec, ig), fused, activation, recurrent_activation)
        self.save_for_backward(*_gate_weights(kernel, recurrent_kernel, None, u, 0)[:2],
                               None if bias is None else bias.shape, hc, gates, act_c)
        self.activations = activation, recurrent_activation
        self.sequences = sequences
        return self._output(hc, sequences)

    def _run(self, gates, hc, act_c, u_t, buffers, fused, activation, recurrent_activation):
        """The forward recurrence: gates (T, 4u, N) hold x_t W + b and become the activated
        [o, i, f, g]; hc[t + 1] gets [h_t, c_t], act_c[t] a(c_t)."""
        act, ract = ACTIVATIONS[activation][0], ACTIVATIONS[recurrent_activation][0]
        u = act_c.shape[1]
        rec, ig = buffers
        for t in range(gates.shape[0]):
            z = gates[t]
            z += np.matmul(u_t, hc[t, 0], out=rec)
            if fused:
                _tanh_gates(z, 3 * u)
            else:
                ract(z[:3 * u], out=z[:3 * u])
                act(z[3 * u:], out=z[3 * u:])
            o, i, f, g = z[:u], z[u:2 * u], z[2 * u:3 * u], z[3 * u:]
            c = np.multiply(f, hc[t, 1], out=hc[t + 1, 1])
            c += np.multiply(i, g, out=ig)
            np.multiply(o, act(c, out=act_c[t]), out=hc[t + 1, 0])
            self._carry(hc, t)

    def backward(self, grad):
        kernel, u_kernel, bias_shape, hc, gates, act_c = self.saved
        act_grad, ract_grad = (ACTIVATIONS[a][1] for a in self.activations)
        steps, u = act_c.shape[0], act_c.shape[1]
        output_grad = self._output_grads(grad, steps)
        dz = self._grad_storage(gates)
        d = np.empty_like(gates[0])  # this step's [do, di, df, dg]
        dh, dc = np.zeros_like(hc[0, 0]), np.zeros_like(hc[0, 1])
        dh_next, tmp = np.empty_like(dh), np.empty_like(dh)
        for t in reversed(range(steps)):
            g_out = output_grad(t)
            if g_out is not None:
                dh += g_out[0]
                dc += g_out[1]
            held = self._hold(t, dh, dc)
            z = gates[t]
            i, f, g = z[u:2 * u], z[2 * u:3 * u], z[3 * u:]
            dc += act_grad(act_c[t], np.multiply(dh, z[:u], out=tmp))
            np.multiply(dh, act_c[t], out=d[:u])
            np.multiply(dc, g, out=d[u:2 * u])
            np.multiply(dc, hc[t, 1], out=d[2 * u:3 * u])
            np.multiply(dc, i, out=d[3 * u:])
            ract_grad(z[:3 * u], d[:3 * u])
            act_grad(g, d[3 * u:])
            dz[:, t] = d
            dc *= f
            dh, dh_next = np.matmul(u_kernel, d, out=dh_next), dh
            if held:
                dh += held[0]
                dc += held[1]
        dx, dkernel, dbias, dz2d = self._input_grads(dz, kernel, bias_shape)
        du = self._sum_over_steps(hc[:-1, 0], dz2d) if self.needs_input_grad[2] else None
        # internal [o, i, f, g] -> Keras [i, f, c, o]
        dkernel, du, dbias = _gate_weights(dkernel, du, dbias, -u, 0)
        return dx, dkernel, du, dbias, dh.T, dc.T


class GRUSequence(_Recurrence):
    """Keras GRU (gates z, r, h) over a sequence; h_t = z h_{t-1} + (1 - z) h~.

    forward(x, kernel, recurrent_kernel, bias, h0, activation="tanh",
    recurrent_activation="sigmoid", reset_after=True, sequences=False, workspace=None). With
    a = activation, s = recurrent_activation, [xz, xr, xh] = x_t W + b_in:
      reset_after (bias (2, 3u): input row b_in, recurrent row b_rec; torch's nn.GRU):
        [hz, hr, hh] = h_{t-1} U + b_rec;   z = s(xz + hz),  r = s(xr + hr)
        h~ = a(xh + r hh)
      not reset_after (bias (3u,) = b_in):
        z = s(xz + h_{t-1} U_z),  r = s(xr + h_{t-1} U_r),  h~ = a(xh + (r h_{t-1}) U_h)
    Backward, dh being all that reaches h_t (d~ marks a pre-activation gradient):
        dz~ = dh (h_{t-1} - h~) s'(z),   dh~ = dh (1 - z) a'(h~)
        reset_after:  dr~ = dh~ hh s'(r);   d[hz, hr, hh] = [dz~, dr~, dh~ r]
                      dh_{t-1} = dh z + d[hz, hr, hh] U^T,  dU = sum_t h_{t-1}^T d[hz, hr, hh]
        otherwise:    d(r h) = dh~ U_h^T,   dr~ = d(r h) h_{t-1} s'(r)
                      dh_{t-1} = dh z + d(r h) r + [dz~, dr~] U_zr^T
                      dU_zr = sum_t h_{t-1}^T [dz~, dr~],  dU_h = sum_t (r h_{t-1})^T dh~
        dW = sum_t x_t^T [dz~, dr~, dh~],  db_in = sum_t [dz~, dr~, dh~].
    """

    def forward(self, x, kernel, recurrent_kernel, bias, h0, activation="tanh",
                recurrent_activation="sigmoid", reset_after=True, sequences=False,
                workspace=None, mask=None):
        self.workspace = workspace
        self._set_mask(mask, x)
        act, ract = ACTIVATIONS[activation][0], ACTIVATIONS[recurrent_activation][0]
        u = h0.shape[-1]
        in_bias = bias[0] if bias is not None and reset_after else bias
        gates = self._project(x, kernel, in_bias)  # (T, 3u, N), [z, r, h~] once activated
        steps = gates.shape[0]
        hs = self._states((steps + 1, u, h0.shape[0]), gates.dtype, sequences)
        hs[0] = h0.T
        # what backward needs besides the gates: h U + b_rec (reset_after) or r h
        kept = self._scratch((steps, 3 * u if reset_after else u, h0.shape[0]), gates.dtype)
        for t in range(steps):
            z, h_prev = gates[t], hs[t]
            if reset_after:
                rec = np.matmul(recurrent_kernel.T, h_prev, out=kept[t])
                if bias is not None:
                    rec += bias[1][:, None]
                z[:2 * u] += rec[:2 * u]
                ract(z[:2 * u], out=z[:2 * u])
                z[2 * u:] += z[u:2 * u] * rec[2 * u:]
            else:
                z[:2 * u] += recurrent_kernel[:, :2 * u].T @ h_prev
                ract(z[:2 * u], out=z[:2 * u])
                np.multiply(z[u:2 * u], h_prev, out=kept[t])
                z[2 * u:] += recurrent_kernel[:, 2 * u:].T @ kept[t]
            candidate = act(z[2 * u:], out=z[2 * u:])
            h = np.subtract(h_prev, candidate, out=hs[t + 1])
            h *= z[:u]
            h += candidate
            self._carry(hs, t)
        self.save_for_backward(kernel, recurrent_kernel, None if bias is None else bias.shape,
                               hs, gates, kept)
        self.activations, self.reset_after = (activation, recurrent_activation), reset_after
        self.sequences = sequences
        return self._output(hs, sequences)

    def backward(self, grad):
        kernel, u_kernel, bias_shape, hs, gates, kept = self.saved
        act_grad, ract_grad = (ACTIVATIONS[a][1] for a in self.activations)
        steps, u = gates.shape[0], hs.shape[1]
        output_grad = self._output_grads(grad, steps)
        dz = self._grad_storage(gates)  # d(x W + b_in)
        drec = self._grad_storage(gates) if self.reset_after else None  # d(h U + b_rec)
        d, d_rec = np.empty_like(gates[0]), np.empty_like(gates[0])  # this step's
        dh = np.zeros_like(hs[0])
        for t in reversed(range(steps)):
            g_out = output_grad(t)
            if g_out is not None:
                dh += g_out
            held = self._hold(t, dh)
            z, r, candidate, h_prev = gates[t, :u], gates[t, u:2 * u], gates[t, 2 * u:], hs[t]
            act_grad(candidate, np.multiply(dh, 1 - z, out=d[2 * u:]))
            ract_grad(z, np.multiply(dh, h_prev - candidate, out=d[:u]))
            dh_prev = dh * z
            if self.reset_after:
                ract_grad(r, np.multiply(d[2 * u:], kept[t, 2 * u:], out=d[u:2 * u]))
                d_rec[:2 * u] = d[:2 * u]
                np.multiply(d[2 * u:], r, out=d_rec[2 * u:])
                drec[:, t] = d_rec
                dh_prev += u_kernel @ d_rec
            else:
                d_rh = u_kernel[:, 2 * u:] @ d[2 * u:]
                ract_grad(r, np.multiply(d_rh, h_prev, out=d[u:2 * u]))
                dh_prev += d_rh * r
                dh_prev += u_kernel[:, :2 * u] @ d[:2 * u]
            dz[:, t] = d
            dh = dh_prev
            if held:
                dh += held[0]
        in_bias_shape = bias_shape[1:] if self.reset_after and bias_shape else bias_shape
        dx, dkernel, dbias, dz2d = self._input_grads(dz, kernel, in_bias_shape)
        du = None
        if self.reset_after:
            drec2d = drec.reshape(3 * u, -1)
            if self.needs_input_grad[2]:
                du = self._sum_over_steps(hs[:-1], drec2d)
            if dbias is not None:
                dbias = np.stack([dbias, _row_sums(drec2d)])
        elif self.needs_input_grad[2]:
            du = np.concatenate([self._sum_over_steps(hs[:-1], dz2d[:2 * u]),
                                 self._sum_over_steps(kept, dz2d[2 * u:])], axis=1)
        return dx, dkernel, du, dbias, dh.T


# ---------------------------------------------------------------- textbook references
# The three ops above, written the way a textbook (or Keras' cell) writes them: batch-
# major arrays, one step at a time, no preallocated buffers or in-place updates.
# ``*_reference`` runs forward and returns the states and what BPTT needs;
# ``*_bptt_reference`` takes dL/dh_t for every step (zero where the loss does not read
# h_t). Slow; tests check the fused ops against them (tests/test_recurrent.py), and
# they are the place to read first.

PLAIN_ACTIVATIONS = {  # name -> (f(a), f'(a) written from y = f(a))
    "tanh": (np.tanh, lambda y: 1 - y * y),
    "sigmoid": (lambda a: 1 / (1 + np.exp(-a)), lambda y: y * (1 - y)),
    "relu": (lambda a: np.maximum(a, 0), lambda y: (y > 0).astype(y.dtype)),
    "linear": (lambda a: a, np.ones_like),
}


def _zero_grads(x, kernel, recurrent_kernel):
    return np.zeros_like(x), np.zeros_like(kernel), np.zeros_like(recurrent_kernel)


def _counts(mask, t: int):
    """Whether step t counts for each sample, (N, 1) (True everywhere without a mask): a
    masked step keeps the states it was given, and passes their gradients straight back."""
    return True if mask is None else np.asarray(mask, bool)[:, t, None]


def simple_rnn_reference(x, kernel, recurrent_kernel, bias, h0, activation="tanh",
                         mask=None):
    """h_t = a(x_t W + h_{t-1} U + b):  x (N, T, F), h0 (N, u) -> hs (N, T, u); where
    ``mask`` (N, T) is False, h_t = h_{t-1}."""
    a = PLAIN_ACTIVATIONS[activation][0]
    b = 0 if bias is None else bias
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = np.where(_counts(mask, t), a(x[:, t] @ kernel + h @ recurrent_kernel + b), h)
        hs.append(h)
    return np.stack(hs, axis=1)


def simple_rnn_bptt_reference(x, kernel, recurrent_kernel, h0, hs, dhs, activation="tanh",
                              mask=None):
    """Gradients of ``simple_rnn_reference`` given its hs and dhs = dL/dh_t (N, T, u):
    -> (dx, dkernel, drecurrent_kernel, dbias, dh0)."""
    da = PLAIN_ACTIVATIONS[activation][1]
    dx, dw, du = _zero_grads(x, kernel, recurrent_kernel)
    db, dh = 0, np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        h_prev = hs[:, t - 1] if t else h0
        counts, dh = _counts(mask, t), dh + dhs[:, t]
        dz = np.where(counts, dh * da(hs[:, t]), 0)  # through h_t = a(z_t)
        dx[:, t] = dz @ kernel.T
        dw, du, db = dw + x[:, t].T @ dz, du + h_prev.T @ dz, db + dz.sum(axis=0)
        dh = dz @ recurrent_kernel.T + np.where(counts, 0, dh)  # through h_t = h_{t-1}
    return dx, dw, du, db, dh


def lstm_reference(x, kernel, recurrent_kernel, bias, h0, c0, activation="tanh",
                   recurrent_activation="sigmoid", mask=None):
    """Keras LSTM, gates i, f, c, o:  -> (hs, cs, gates): hs, cs (N, T, u) and each
    step's activated gates (i, f, g, o); where ``mask`` (N, T) is False, h and c stay."""
    a, s = PLAIN_ACTIVATIONS[activation][0], PLAIN_ACTIVATIONS[recurrent_activation][0]
    b, u = 0 if bias is None else bias, h0.shape[1]
    h, c, hs, cs, gates = h0, c0, [], [], []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent_kernel + b
        i, f, g, o = s(z[:, :u]), s(z[:, u:2 * u]), a(z[:, 2 * u:3 * u]), s(z[:, 3 * u:])
        counts = _counts(mask, t)
        c_new = f * c + i * g
        h, c = np.where(counts, o * a(c_new), h), np.where(counts, c_new, c)
        hs.append(h)
        cs.append(c)
        gates.append((i, f, g, o))
    return np.stack(hs, axis=1), np.stack(cs, axis=1), gates


def lstm_bptt_reference(x, kernel, recurrent_kernel, h0, c0, forward, dhs, dcs,
                        activation="tanh", recurrent_activation="sigmoid", mask=None):
    """Gradients of ``lstm_reference`` given its output ``forward`` and dL/dh_t, dL/dc_t
    (N, T, u): -> (dx, dkernel, drecurrent_kernel, dbias, dh0, dc0)."""
    a, da = PLAIN_ACTIVATIONS[activation]
    ds = PLAIN_ACTIVATIONS[recurrent_activation][1]
    hs, cs, gates = forward
    dx, dw, du = _zero_grads(x, kernel, recurrent_kernel)
    db, dh, dc = 0, np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(x.shape[1])):
        i, f, g, o = gates[t]
        h_prev, c_prev = (hs[:, t - 1], cs[:, t - 1]) if t else (h0, c0)
        counts, ac = _counts(mask, t), a(cs[:, t])
        dh_all, dc_all = dh + dhs[:, t], dc + dcs[:, t]
        dh = np.where(counts, dh_all, 0)
        dc = np.where(counts, dc_all, 0) + dh * o * da(ac)  # through h_t = o a(c_t)
        dz = np.concatenate([dc * g * ds(i), dc * c_prev * ds(f), dc * i * da(g),
                             dh * ac * ds(o)], axis=1)  # through c_t = f c_{t-1} + i g
        dx[:, t] = dz @ kernel.T
        dw, du, db = dw + x[:, t].T @ dz, du + h_prev.T @ dz, db + dz.sum(axis=0)
        dh = dz @ recurrent_kernel.T + np.where(counts, 0, dh_all)  # masked: h_t = h_{t-1}
        dc = dc * f + np.where(counts, 0, dc_all)
    return dx, dw, du, db, dh, dc


def gru_reference(x, kernel, recurrent_kernel, bias, h0, activation="tanh",
                  recurrent_activation="sigmoid", reset_after=True, mask=None):
    """Keras GRU, gates z, r, h:  h_t = z h_{t-1} + (1 - z) h~  -> (hs, steps): hs
    (N, T, u) and each step's (z, r, h~, recurrent product). ``bias`` is (2, 3u) (input
    row, recurrent row) when ``reset_after``, else (3u,). Where ``mask`` (N, T) is
    False, h_t = h_{t-1}."""
    a, s = PLAIN_ACTIVATIONS[activation][0], PLAIN_ACTIVATIONS[recurrent_activation][0]
    u = h0.shape[1]
    b_in, b_rec = (0, 0) if bias is None else (bias[0], bias[1]) if reset_after else (bias, 0)
    h, hs, steps = h0, [], []
    for t in range(x.shape[1]):
        xz = x[:, t] @ kernel + b_in
        if reset_after:  # the reset gate scales h U + b_rec
            rec = h @ recurrent_kernel + b_rec
            z, r = s(xz[:, :u] + rec[:, :u]), s(xz[:, u:2 * u] + rec[:, u:2 * u])
            candidate = a(xz[:, 2 * u:] + r * rec[:, 2 * u:])
        else:  # the reset gate scales h before U_h
            rec = h @ recurrent_kernel[:, :2 * u]
            z, r = s(xz[:, :u] + rec[:, :u]), s(xz[:, u:2 * u] + rec[:, u:])
            candidate = a(xz[:, 2 * u:] + (r * h) @ recurrent_kernel[:, 2 * u:])
        h = np.where(_counts(mask, t), z * h + (1 - z) * candidate, h)
        hs.append(h)
        steps.append((z, r, candidate, rec))
    return np.stack(hs, axis=1), steps


def gru_bptt_reference(x, kernel, recurrent_kernel, h0, forward, dhs, activation="tanh",
                       recurrent_activation="sigmoid", reset_after=True, mask=None):
    """Gradients of ``gru_reference`` given its output ``forward`` and dL/dh_t (N, T, u):
    -> (dx, dkernel, drecurrent_kernel, dbias, dh0); dbias (2, 3u) or (3u,) as the bias."""
    da = PLAIN_ACTIVATIONS[activation][1]
    ds = PLAIN_ACTIVATIONS[recurrent_activation][1]
    hs, steps = forward
    u = h0.shape[1]
    dx, dw, du = _zero_grads(x, kernel, recurrent_kernel)
    db_in, db_rec, dh = 0, 0, np.zeros_like(h0)
    for t in reversed(range(x.shape[1])):
        z, r, candidate, rec = steps[t]
        h_prev = hs[:, t - 1] if t else h0
        counts, dh_all = _counts(mask, t), dh + dhs[:, t]
        dh = np.where(counts, dh_all, 0)
        dz = dh * (h_prev - candidate) * ds(z)  # d(pre-activation of z)
        dcand = dh * (1 - z) * da(candidate)  # d(pre-activation of h~)
        dh_prev = dh * z
        if reset_after:
            dr = dcand * rec[:, 2 * u:] * ds(r)
            drec = np.concatenate([dz, dr, dcand * r], axis=1)  # d(h U + b_rec)
            du, db_rec = du + h_prev.T @ drec, db_rec + drec.sum(axis=0)
            dh_prev = dh_prev + drec @ recurrent_kernel.T
        else:
            d_rh = dcand @ recurrent_kernel[:, 2 * u:].T  # d(r h)
            dr = d_rh * h_prev * ds(r)
            dzr = np.concatenate([dz, dr], axis=1)
            du[:, :2 * u] += h_prev.T @ dzr
            du[:, 2 * u:] += (r * h_prev).T @ dcand
            dh_prev = dh_prev + d_rh * r + dzr @ recurrent_kernel[:, :2 * u].T
        dxz = np.concatenate([dz, dr, dcand], axis=1)  # d(x W + b_in)
        dx[:, t] = dxz @ kernel.T
        dw, db_in = dw + x[:, t].T @ dxz, db_in + dxz.sum(axis=0)
        dh = dh_prev + np.where(counts, 0, dh_all)  # masked: h_t = h_{t-1}
    return dx, dw, du, np.stack([db_in, db_rec]) if reset_after else db_in, dh
