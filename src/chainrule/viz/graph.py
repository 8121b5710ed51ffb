"""See the computational graph: ``to_dot`` draws it, ``explain`` narrates backward.

``explain(g)`` runs the backward pass from ``g`` and prints, node by node in the
order the gradients are formed, the chain rule at work:
``∂g/∂x = ∂g/∂p · ∂p/∂x = -3 × 1 = -3``.
"""

from __future__ import annotations

import numpy as np

from ..autograd import run_backward
from ..tensor import Tensor


def _graph(root: Tensor) -> list[Tensor]:
    """Every tensor behind ``root`` (leaves included), inputs before outputs."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for inp in _inputs(node):
            stack.append((inp, False))
    return order


def _inputs(node: Tensor) -> list[Tensor]:
    if node._ctx is None or node._ctx.inputs is None:
        return []
    return [t for t in node._ctx.inputs if isinstance(t, Tensor)]


def _label_all(nodes: list[Tensor]) -> dict[int, str]:
    labels, counts = {}, {}
    for t in nodes:
        if t.name:
            labels[id(t)] = t.name
            continue
        stem = type(t._ctx).__name__.lower() if t._ctx is not None else "t"
        counts[stem] = counts.get(stem, 0) + 1
        labels[id(t)] = f"{stem}{counts[stem]}"
    return labels


def _fmt(a) -> str:
    a = np.asarray(a)
    if a.size == 1:
        return f"{a.item():.6g}"
    return f"array{a.shape}"


def explain(root: Tensor, print_fn=print) -> list[str]:
    """Backpropagate from scalar ``root`` and describe every gradient as it is formed.

    Each line reads ``∂root/∂input = ∂root/∂node · ∂node/∂input = upstream × local =
    result``; a tensor reached along several paths gets one ``+=`` line per path.
    Gradients are kept on every node (``.grad``) and the graph is retained, so
    ``to_dot(root)`` can draw the values and gradients afterwards.
    """
    nodes = _graph(root)
    labels = _label_all(nodes)
    for t in nodes:
        if t._ctx is not None:
            t.retain_grad()
        t.grad = None
    trace: list = []
    top = labels[id(root)]
    run_backward(root, np.ones_like(root.data), retain_graph=True, trace=trace)
    lines = [f"∂{top}/∂{top} = 1"]
    reached: set[int] = set()
    for node, inp, upstream, contribution in trace:
        n, i = labels[id(node)], labels[id(inp)]
        op = type(node._ctx).__name__
        formula = (type(node._ctx).__doc__ or "").split("\n")[0].strip()
        sign = "+=" if id(inp) in reached else "="
        reached.add(id(inp))
        local = _local(upstream, contribution)
        lines.append(f"∂{top}/∂{i} {sign} ∂{top}/∂{n} · ∂{n}/∂{i} = {_fmt(upstream)} × "
                     f"{local} = {_fmt(contribution)}    [{op}: {formula}]")
    for line in lines:
        print_fn(line)
    return lines


def _local(upstream, contribution) -> str:
    """The local derivative, when upstream and result are scalars."""
    up, out = np.asarray(upstream), np.asarray(contribution)
    if up.size == 1 and out.size == 1 and up.item() != 0:
        return f"{out.item() / up.item():.6g}"
    return "(local Jacobian)"


def to_dot(root: Tensor) -> str:
    """Graphviz DOT text: a box per tensor (name | value | grad), an oval per op."""
    nodes = _graph(root)
    labels = _label_all(nodes)
    out = ["digraph chainrule {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for t in nodes:
        tid = f"t{id(t)}"
        grad = _fmt(t.grad.data) if t.grad is not None else "—"
        out.append(f'  {tid} [shape=record, label="{{ {labels[id(t)]} | data {_fmt(t.data)} '
                   f'| grad {grad} }}"];')
        if t._ctx is not None:
            oid = f"op{id(t)}"
            out.append(f'  {oid} [shape=ellipse, label="{type(t._ctx).__name__}"];')
            out.append(f"  {oid} -> {tid};")
            for inp in _inputs(t):
                out.append(f"  t{id(inp)} -> {oid};")
    out.append("}")
    return "\n".join(out) + "\n"
