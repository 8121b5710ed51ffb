"""Scalar graphs (issue 17): 0-d tensors through every op, micrograd's engine tests,
and random scalar expression DAGs checked against torch in float64.

A gradient reaching a 0-d tensor is always a 0-d array (NumPy arithmetic on 0-d
arrays returns scalars, which cannot be accumulated into in place), and ``.grad``
of a 0-d tensor is a 0-d tensor.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import HAS_TORCH, assert_close, torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.functional as CF

F = torch.nn.functional if HAS_TORCH else None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")


def leaf(value) -> cr.Tensor:
    """micrograd's ``Value(x)``."""
    return cr.tensor(value, dtype=np.float64, requires_grad=True)


def torch_leaf(value):
    """micrograd's torch side, ``torch.Tensor([x]).double()`` requiring grad, but built in
    float64 directly: ``torch.Tensor`` rounds through float32 first (0.123 moves by 3e-9),
    which micrograd's 1e-6 tolerance hides and 1e-12 would not."""
    return torch.tensor([value], dtype=torch.float64, requires_grad=True)


# ---------------------------------------------------------------- the program


def test_intermediate_used_three_times():
    x = leaf(-4.0)
    z = x + 1
    y = z * z + z
    y.backward()
    assert y.item() == 6.0
    assert x.grad.shape == () and type(x.grad.data) is np.ndarray
    assert x.grad.item() == 2 * -3.0 + 1  # dy/dz = 2z + 1, dz/dx = 1


def test_grad_of_a_0d_tensor_is_a_0d_tensor_across_backward_calls():
    x = leaf(3.0)
    for _ in range(2):
        (x * x + x).backward()
    assert isinstance(x.grad, cr.Tensor) and x.grad.shape == ()
    assert type(x.grad.data) is np.ndarray and x.grad.dtype == np.float64
    assert x.grad.item() == 2 * (2 * 3.0 + 1)


# ---------------------------------------------------------------- micrograd's test_engine.py


def sanity_check(value, mk):
    """micrograd ``test_sanity_check``, written once for any tensor type."""
    x = mk(value)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    return x, y


def more_ops(mk):
    """micrograd ``test_more_ops``; ``c += ...`` rebinds, as it does for torch tensors."""
    a = mk(-4.0)
    b = mk(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    g.backward()
    return a, b, g


def test_sanity_check_by_hand():
    # z = 3x + 2 = -10 < 0, so q = z x = 3x^2 + 2x = 40 and h = z^2 = 100: y = 100 - 120;
    # dy/dx = 6z + (1 + x)(6x + 2) + q = -60 + 66 + 40 = 46.
    x, y = sanity_check(-4.0, leaf)
    assert y.item() == -20.0
    assert x.grad.item() == 46.0


def test_more_ops_by_hand():
    a, b, g = more_ops(leaf)  # micrograd's README prints these to 4 decimals
    assert abs(g.item() - 24.7041) < 1e-4
    assert abs(a.grad.item() - 138.8338) < 1e-4
    assert abs(b.grad.item() - 645.5773) < 1e-4


@needs_torch
def test_sanity_check_matches_torch():
    x, y = sanity_check(-4.0, leaf)
    xt, yt = sanity_check(-4.0, torch_leaf)
    assert abs(y.item() - yt.item()) <= 1e-12
    assert abs(x.grad.item() - xt.grad.item()) <= 1e-12


@needs_torch
def test_more_ops_matches_torch():
    ours, theirs = more_ops(leaf), more_ops(torch_leaf)
    assert abs(ours[2].item() - theirs[2].item()) <= 1e-12
    for mine, ref in zip(ours[:2], theirs[:2]):
        assert mine.grad.shape == ()
        assert abs(mine.grad.item() - ref.grad.item()) <= 1e-12


@needs_torch
@pytest.mark.parametrize("name", ["tanh", "exp"])
@pytest.mark.parametrize("value", [-1.0, 0.123, 2.0])
def test_unary_tensor_fns_match_torch(name, value):
    """micrograd ``test_unary_tensor_fns`` (karpathy/micrograd 2e696df, "Add exp() to Value")."""
    x = leaf(value)
    y = getattr(x, name)()
    y.backward()
    xt = torch_leaf(value)
    yt = getattr(xt, name)()
    yt.backward()
    assert abs(y.item() - yt.item()) <= 1e-12
    assert abs(x.grad.item() - xt.grad.item()) <= 1e-12


# ---------------------------------------------------------------- the op table
# Every differentiable op that accepts any shape, as a pair (chainrule, torch). Inputs are
# kept in each op's domain by the op's own expression (log(|x| + 0.5), x / (y^2 + 0.5)),
# so every graph stays finite whatever feeds it.


def _pair(x, y):
    """Both operands broadcast to their common shape (ops that want equal shapes)."""
    shape = np.broadcast_shapes(x.shape, y.shape)
    return x.broadcast_to(shape), y.broadcast_to(shape)


UNARY = {
    "neg": (lambda x: -x, lambda x: -x),
    "exp": (lambda x: x.exp(), lambda x: x.exp()),
    "log": (lambda x: (x.abs() + 0.5).log(), lambda x: (x.abs() + 0.5).log()),
    "sqrt": (lambda x: (x.square() + 0.25).sqrt(), lambda x: (x.square() + 0.25).sqrt()),
    "abs": (lambda x: x.abs(), lambda x: x.abs()),
    "tanh": (lambda x: x.tanh(), lambda x: x.tanh()),
    "sigmoid": (lambda x: x.sigmoid(), lambda x: x.sigmoid()),
    "relu": (lambda x: x.relu(), lambda x: x.relu()),
    "leaky_relu": (lambda x: x.leaky_relu(0.1), lambda x: F.leaky_relu(x, 0.1)),
    "elu": (lambda x: x.elu(), lambda x: F.elu(x)),
    "gelu": (lambda x: x.gelu(), lambda x: F.gelu(x, approximate="tanh")),
    "clip": (lambda x: x.clip(-1.0, 1.5), lambda x: x.clamp(-1.0, 1.5)),
    "square": (lambda x: x.square(), lambda x: x.square()),
    "pow_int": (lambda x: x**3, lambda x: x**3),
    "rpow": (lambda x: 1.5**x, lambda x: 1.5**x),
    "sum": (lambda x: x.sum(), lambda x: x.sum()),
    "sum_last_axis": (lambda x: x.sum(axis=-1), lambda x: x.sum(dim=-1)),
    "mean": (lambda x: x.mean(), lambda x: x.mean()),
    "mean_keepdims": (lambda x: x.mean(axis=0, keepdims=True),
                      lambda x: x.mean(dim=0, keepdim=True)),
    "max": (lambda x: x.max(), lambda x: x.max()),
    "min_last_axis": (lambda x: x.min(axis=-1), lambda x: torch.amin(x, dim=-1)),
    "var": (lambda x: x.var(), lambda x: x.var(correction=0)),
    "softmax": (lambda x: x.softmax(), lambda x: x.softmax(-1)),
    "log_softmax": (lambda x: x.log_softmax(0), lambda x: x.log_softmax(0)),
    "logsumexp": (lambda x: x.logsumexp(), lambda x: x.logsumexp(tuple(range(x.ndim)))),
    "reshape_flat": (lambda x: x.reshape(-1), lambda x: x.reshape(-1)),
    "transpose": (lambda x: x.transpose(), lambda x: x.permute(tuple(reversed(range(x.ndim))))),
    "squeeze": (lambda x: x.squeeze(), lambda x: x.squeeze()),
    "unsqueeze": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0)),
    "broadcast_sum": (lambda x: x.broadcast_to((2, *x.shape)).sum(axis=0),
                      lambda x: x.broadcast_to((2, *x.shape)).sum(dim=0)),
    "getitem": (lambda x: x[None][0], lambda x: x[None][0]),
    "getitem_ellipsis": (lambda x: x[...], lambda x: x[...]),
    "pad": (lambda x: x.reshape(-1).pad((1, 2)), lambda x: F.pad(x.reshape(-1), (1, 2))),
    "stack": (lambda x: cr.stack([x, x.tanh()]).sum(axis=0),
              lambda x: torch.stack([x, x.tanh()]).sum(dim=0)),
    "dot_self": (lambda x: x.reshape(-1) @ x.reshape(-1), lambda x: x.reshape(-1) @ x.reshape(-1)),
    "where": (lambda x: cr.where(x > 0, x, 0.5 * x), lambda x: torch.where(x > 0, x, 0.5 * x)),
    "embedding": (lambda x: CF.embedding(np.array([0, 0, x.size - 1]), x.reshape(-1, 1)),
                  lambda x: F.embedding(torch.tensor([0, 0, x.numel() - 1]), x.reshape(-1, 1))),
    "cross_entropy": (lambda x: CF.cross_entropy(x.reshape(1, -1), np.array([0])),
                      lambda x: F.cross_entropy(x.reshape(1, -1), torch.tensor([0]))),
}

BINARY = {
    "add": (lambda x, y: x + y, lambda x, y: x + y),
    "sub": (lambda x, y: x - y, lambda x, y: x - y),
    "mul": (lambda x, y: x * y, lambda x, y: x * y),
    "div": (lambda x, y: x / (y * y + 0.5), lambda x, y: x / (y * y + 0.5)),
    "pow": (lambda x, y: (x.abs() + 0.5) ** y, lambda x, y: (x.abs() + 0.5) ** y),
    "maximum": (lambda x, y: x.maximum(y), lambda x, y: torch.maximum(x, y)),
    "minimum": (lambda x, y: x.minimum(y), lambda x, y: torch.minimum(x, y)),
    "where_pair": (lambda x, y: cr.where(x > y, x - y, y),
                   lambda x, y: torch.where(x > y, x - y, y)),
    "concat": (lambda x, y: cr.concat([x.reshape(-1), y.reshape(-1)]).logsumexp(),
               lambda x, y: torch.cat([x.reshape(-1), y.reshape(-1)]).logsumexp(0)),
    "outer_mean": (lambda x, y: (x.reshape(-1, 1) @ y.reshape(1, -1)).mean(),
                   lambda x, y: (x.reshape(-1, 1) @ y.reshape(1, -1)).mean()),
    "linear": (lambda x, y: CF.linear(x.reshape(-1, 1), y.reshape(1, -1), y.reshape(-1)),
               lambda x, y: F.linear(x.reshape(-1, 1), y.reshape(1, -1).T, y.reshape(-1))),
    "bce_with_logits": (
        lambda x, y: CF.binary_cross_entropy_with_logits(*_pair(x, y.sigmoid())),
        lambda x, y: F.binary_cross_entropy_with_logits(*torch.broadcast_tensors(x, y.sigmoid()))),
    "bce": (lambda x, y: CF.binary_cross_entropy(*_pair(x.sigmoid(), y.sigmoid())),
            lambda x, y: F.binary_cross_entropy(*torch.broadcast_tensors(x.sigmoid(),
                                                                         y.sigmoid()))),
    "mse": (lambda x, y: CF.mse_loss(*_pair(x, y)),
            lambda x, y: F.mse_loss(*torch.broadcast_tensors(x, y))),
    "l1": (lambda x, y: CF.l1_loss(*_pair(x, y)),
           lambda x, y: F.l1_loss(*torch.broadcast_tensors(x, y))),
    "huber": (lambda x, y: CF.huber_loss(*_pair(x, y)),
              lambda x, y: F.huber_loss(*torch.broadcast_tensors(x, y))),
}

OPS = {**{k: (1, *v) for k, v in UNARY.items()}, **{k: (2, *v) for k, v in BINARY.items()}}

SHAPES = {
    "0d": [()],
    "one_element": [(1,)],
    "broadcast_mix": [(), (1,), (1, 1), (3,), (2, 1)],
}


def _values(shapes, seed):
    """Seeded leaves in [-2, -0.2] U [0.2, 2] (away from the kinks at 0)."""
    rng = np.random.default_rng(seed)
    return [np.asarray(rng.uniform(0.2, 2.0, s) * rng.choice([-1.0, 1.0], s)) for s in shapes]


def _compare_leaves(xs, ts, rtol):
    for i, (x, t) in enumerate(zip(xs, ts)):
        assert x.grad is not None, f"leaf {i} received no gradient"
        assert type(x.grad.data) is np.ndarray and x.grad.shape == x.shape
        expected = t.grad.numpy()
        scale = 1.0 + float(np.abs(expected).max())
        assert_close(x.grad.data, expected, rtol=rtol, atol=rtol * scale, what=f"grad of leaf {i}")


# ---------------------------------------------------------------- the sweep


def _sweep_cases():
    for name, (arity, _, _) in OPS.items():
        for shapes in ([()] * arity, [(1,)] * arity, [(), (1,)][:arity], [(1, 1), ()][:arity],
                       [(), (2, 3)][:arity]):
            yield pytest.param(name, shapes, id=f"{name}-{'-'.join(map(str, shapes))}")


@needs_torch
@pytest.mark.parametrize("name,shapes", list(_sweep_cases()))
def test_every_op_on_0d_and_one_element_operands(name, shapes):
    """op(x...) = y, then y * y + y: the output is used three times, as in the issue."""
    _, fn, fn_torch = OPS[name]
    values = _values(shapes, seed=len(name))
    xs = [cr.tensor(v, requires_grad=True) for v in values]
    ts = [torch.tensor(v, requires_grad=True) for v in values]
    y, yt = fn(*xs), fn_torch(*ts)
    (y * y + y).sum().backward()
    (yt * yt + yt).sum().backward()
    assert y.shape == tuple(yt.shape)
    assert_close(y.data, yt.detach().numpy(), rtol=1e-12, atol=1e-12, what=f"{name} value")
    _compare_leaves(xs, ts, rtol=1e-12)


# ---------------------------------------------------------------- random expression DAGs


def _broadcastable(a: tuple, b: tuple) -> bool:
    try:
        np.broadcast_shapes(a, b)
    except ValueError:
        return False
    return True


def _shape_after(name: str, shapes: list) -> tuple:
    with cr.no_grad():
        return OPS[name][1](*(cr.tensor(np.ones(s)) for s in shapes)).shape


@st.composite
def expression_graphs(draw, mode: str):
    """(leaf shapes, seed, nodes): 5-40 nodes (1-4 of them leaves), each an operand of at
    most 4 later nodes; the nodes that no later node uses are summed into the output, so
    every node is used 1-4 times. Operands of a binary op broadcast together; an op whose
    result would exceed 36 elements (outer products of outer products) becomes a sum."""
    n_leaves = draw(st.integers(1, 4))
    n_total = draw(st.integers(max(5, n_leaves + 1), 40))
    shapes = [draw(st.sampled_from(SHAPES[mode])) for _ in range(n_leaves)]
    uses = [0] * n_leaves
    nodes = []
    for _ in range(n_total - n_leaves):
        name = draw(st.sampled_from(sorted(OPS)))
        first = draw(st.sampled_from([i for i, u in enumerate(uses) if u < 4]))
        operands = [first]
        if OPS[name][0] == 2:
            fits = [i for i, u in enumerate(uses) if u < 4 - (i == first)
                    and _broadcastable(shapes[i], shapes[first])]
            operands.append(draw(st.sampled_from(fits)))
        shape = _shape_after(name, [shapes[i] for i in operands])
        if np.prod(shape) > 36:
            name, operands, shape = "sum", [first], ()
        for i in operands:
            uses[i] += 1
        nodes.append((name, tuple(operands)))
        uses.append(0)
        shapes.append(shape)
    return shapes[:n_leaves], draw(st.integers(0, 2**16)), nodes


def evaluate(nodes, leaves, side: int, squashed: set | None = None):
    """Every node's value; ``side`` 1 runs chainrule's functions, 2 torch's.

    A value above 8 in magnitude becomes 8 tanh(v / 8), so long chains of products and
    exponentials stay finite. chainrule's run records which nodes were squashed
    (``squashed``, a set to fill) and torch's replays the same choices.
    """
    values = list(leaves)
    record = squashed is not None and side == 1
    for k, (name, operands) in enumerate(nodes):
        v = OPS[name][side](*(values[i] for i in operands))
        big = float(np.abs(v.data).max()) > 8 if record else k in (squashed or ())
        if big:
            if record:
                squashed.add(k)
            v = (v / 8).tanh() * 8
        values.append(v)
    return values


def _output(values, nodes):
    """The sum of every node that no other node uses (the graph's sinks)."""
    used = {i for _, operands in nodes for i in operands}
    return sum(v.sum() for i, v in enumerate(values) if i not in used)


def check_graph(shapes, seed, nodes, rtol=1e-9):
    leaves = _values(shapes, seed)
    xs = [cr.tensor(v, requires_grad=True) for v in leaves]
    ts = [torch.tensor(v, requires_grad=True) for v in leaves]
    squashed = set()
    ours = evaluate(nodes, xs, 1, squashed)
    theirs = evaluate(nodes, ts, 2, squashed)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        assert a.shape == tuple(b.shape), f"node {k}: shape {a.shape} vs torch {tuple(b.shape)}"
        scale = 1.0 + float(np.abs(b.detach().numpy()).max(initial=0))
        assert_close(a.data, b.detach().numpy(), rtol=rtol, atol=rtol * scale,
                     what=f"node {k} ({nodes[k - len(xs)][0] if k >= len(xs) else 'leaf'})")
    _output(ours, nodes).backward()
    _output(theirs, nodes).backward()
    _compare_leaves(xs, ts, rtol)


GRAPH_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])


@needs_torch
@pytest.mark.parametrize("mode", list(SHAPES))
def test_random_scalar_graphs_match_torch(mode):
    @GRAPH_SETTINGS
    @given(expression_graphs(mode))
    def check(graph):
        check_graph(*graph)

    check()


def test_graph_strategy_reuses_every_node_one_to_four_times():
    @settings(max_examples=30, deadline=None, derandomize=True)
    @given(expression_graphs("broadcast_mix"))
    def check(graph):
        shapes, _, nodes = graph
        uses = np.zeros(len(shapes) + len(nodes), int)
        for _, operands in nodes:
            np.add.at(uses, list(operands), 1)
        assert 5 <= len(shapes) + len(nodes) <= 40
        assert uses.max() <= 4  # sinks (0 uses here) get their one use in the output

    check()
