"""See the computational graph: ``to_dot`` draws it, ``explain`` narrates backward.

``explain(g)`` runs the backward pass from ``g`` and prints, node by node in the
order the gradients are formed, the chain rule at work:
``∂g/∂x = ∂g/∂p · ∂p/∂x = -3 × 1 = -3``.
"""

from __future__ import annotations

import numpy as np

from ..autograd import Function, run_backward, topological_order
from ..tensor import Tensor


def _graph(root: Tensor) -> list:
    """Every node behind ``root`` (Functions and leaf tensors), parents first: the
    engine's topological order, each leaf placed before the first node that uses it."""
    if root._ctx is None:
        return [root]
    order, seen = [], set()
    for fn in topological_order(root._ctx):
        for leaf in _parents(fn):
            if not isinstance(leaf, Function) and id(leaf) not in seen:
                seen.add(id(leaf))
                order.append(leaf)
        order.append(fn)
    return order


def _parents(item) -> list:
    if not isinstance(item, Function) or item.parents is None:
        return []
    return [p for p in item.parents if p is not None]


def _tensor_of(item) -> Tensor | None:
    """The tensor an item stands for: a leaf itself, or a node's output while it lives."""
    if isinstance(item, Tensor):
        return item
    return item.output() if item.output is not None else None


def _label_all(items: list) -> dict[int, str]:
    labels, counts = {}, {}
    for item in items:
        t = _tensor_of(item)
        if t is not None and t.name:
            labels[id(item)] = t.name
            continue
        stem = type(item).__name__.lower() if isinstance(item, Function) else "t"
        counts[stem] = counts.get(stem, 0) + 1
        labels[id(item)] = f"{stem}{counts[stem]}"
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
    Gradients are kept on every tensor still alive (``.grad``) and the graph is
    retained, so ``to_dot(root)`` can draw the values and gradients afterwards.
    """
    items = _graph(root)
    labels = _label_all(items)
    for item in items:
        t = _tensor_of(item)
        if t is not None:
            t.grad = None
            if isinstance(item, Function):
                t.retain_grad()
    trace: list = []
    top = labels[id(items[-1])]
    run_backward(root, np.ones_like(root.data), retain_graph=True, trace=trace)
    lines = [f"∂{top}/∂{top} = 1"]
    reached: set[int] = set()
    for node, parent, upstream, contribution in trace:
        n, i = labels[id(node)], labels[id(parent)]
        op = type(node).__name__
        formula = (type(node).__doc__ or "").split("\n")[0].strip()
        sign = "+=" if id(parent) in reached else "="
        reached.add(id(parent))
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
    """Graphviz DOT text: a box per tensor (name | value | grad), an oval per op.

    A node whose output tensor is no longer alive is drawn with its op and shape.
    """
    items = _graph(root)
    labels = _label_all(items)
    out = ["digraph chainrule {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for item in items:
        tid = f"t{id(item)}"
        t = _tensor_of(item)
        data = _fmt(t.data) if t is not None else f"array{item.output_shape}"
        grad = _fmt(t.grad.data) if t is not None and t.grad is not None else "—"
        out.append(f'  {tid} [shape=record, label="{{ {labels[id(item)]} | data {data} '
                   f'| grad {grad} }}"];')
        if isinstance(item, Function):
            oid = f"op{id(item)}"
            out.append(f'  {oid} [shape=ellipse, label="{type(item).__name__}"];')
            out.append(f"  {oid} -> {tid};")
            for parent in _parents(item):
                out.append(f"  t{id(parent)} -> {oid};")
    out.append("}")
    return "\n".join(out) + "\n"
