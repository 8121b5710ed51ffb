"""See the computational graph: ``to_dot`` describes it, ``explain`` narrates backward.

``explain(g)`` runs the backward pass from ``g`` and prints, node by node in the
order the gradients are formed, the chain rule at work, with each op's rule
written in the tensors' own names:
``∂g/∂x = ∂g/∂p · ∂p/∂x = -3 × 1 = -3    [Add: p = x + y;  ∂p/∂x = 1,  ∂p/∂y = 1.]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
        sign = "+=" if id(parent) in reached else "="
        reached.add(id(parent))
        local = _local(upstream, contribution)
        lines.append(f"∂{top}/∂{i} {sign} ∂{top}/∂{n} · ∂{n}/∂{i} = {_fmt(upstream)} × "
                     f"{local} = {_fmt(contribution)}    [{_rule(node, labels)}]")
    for line in lines:
        print_fn(line)
    return lines


_PLACEHOLDERS = ("x", "y", "X", "Y", "W", "b")  # the inputs' names in the ops' docstrings
_WORD = re.compile(r"[A-Za-z_]\w*")


def _rule(node: Function, labels: dict[int, str]) -> str:
    """The op's rule from the first line of its docstring ("z = x * y;  dz/dx = y, ..."),
    in the graph's own names ("g = p * z;  ∂g/∂p = z, ..."); the op's name alone when
    the docstring's names cannot be matched to the node's inputs."""
    op = type(node).__name__
    formula = (type(node).__doc__ or "").split("\n")[0].strip()
    out, sep, rest = formula.partition(" = ")
    if not sep or not out.isidentifier():
        return op
    inputs = [p for p in _PLACEHOLDERS if p != out and re.search(rf"\b{p}\b", rest)]
    if len(inputs) != len(node.parents):
        return op
    names = {out: labels[id(node)]}
    names.update((p, "const" if parent is None else labels[id(parent)])
                 for p, parent in zip(inputs, node.parents))

    def rename(match: re.Match) -> str:
        word = match.group(0)
        if word in names:
            return names[word]
        return "∂" + names[word[1:]] if word[0] == "d" and word[1:] in names else word

    return f"{op}: {_WORD.sub(rename, formula)}"


def _local(upstream, contribution) -> str:
    """The local derivative, when upstream and result are scalars."""
    up, out = np.asarray(upstream), np.asarray(contribution)
    if up.size == 1 and out.size == 1 and up.item() != 0:
        return f"{out.item() / up.item():.6g}"
    return "(local Jacobian)"


@dataclass(frozen=True)
class GraphNode:
    """One node of a drawing: a box of ``fields`` (a tensor: name, data, grad; a layer:
    its name, class and shapes) or an op oval (``fields`` = its name); ``inputs`` are
    the keys of the nodes feeding it and ``depth`` its column, counted from the leaves.
    ``to_dot`` and ``plot_graph`` draw these, and so does ``cr.utils.plot_model``."""

    key: str
    kind: str  # "tensor", "layer" (boxes) or "op" (an oval)
    fields: tuple[str, ...]
    inputs: tuple[str, ...]
    depth: int


def describe(root: Tensor) -> list[GraphNode]:
    """The graph behind ``root`` as drawable nodes, parents first: every tensor (name,
    value, gradient) and every op, with the edges between them. A node whose output
    tensor is no longer alive is shown with its op and shape."""
    items = _graph(root)
    labels = _label_all(items)
    nodes: list[GraphNode] = []
    depth: dict[str, int] = {}
    for item in items:
        t = _tensor_of(item)
        data = _fmt(t.data) if t is not None else f"array{item.output_shape}"
        grad = _fmt(t.grad.data) if t is not None and t.grad is not None else "—"
        inputs: tuple[str, ...] = ()
        if isinstance(item, Function):
            feeding = tuple(f"t{id(parent)}" for parent in _parents(item))
            depth[f"op{id(item)}"] = 1 + max((depth[k] for k in feeding), default=0)
            nodes.append(GraphNode(f"op{id(item)}", "op", (type(item).__name__,), feeding,
                                   depth[f"op{id(item)}"]))
            inputs = (f"op{id(item)}",)
        depth[f"t{id(item)}"] = depth[inputs[0]] + 1 if inputs else 0
        nodes.append(GraphNode(f"t{id(item)}", "tensor", (labels[id(item)], f"data {data}",
                                                          f"grad {grad}"), inputs,
                               depth[f"t{id(item)}"]))
    return nodes


def to_dot(root: Tensor) -> str:
    """Graphviz DOT text: a box per tensor (name | value | grad), an oval per op."""
    return nodes_to_dot(describe(root))


def _dot_text(field: str) -> str:
    """A record field with DOT's special characters escaped."""
    return re.sub(r'([{}|<>"\\])', r"\\\1", field)


def nodes_to_dot(nodes: list[GraphNode], rankdir: str = "LR", dpi: int | None = None) -> str:
    """Graphviz DOT text for ``nodes``: a record box per tensor or layer (its fields one
    above the other), an oval per op, an arrow per input; ``rankdir`` "LR" (left to
    right) or "TB" (top to bottom)."""
    out = ["digraph chainrule {", f"  rankdir={rankdir};", '  node [fontname="Helvetica"];']
    if dpi is not None:
        out.append(f"  dpi={int(dpi)};")
    for node in nodes:
        if node.kind == "op":
            out.append(f'  {node.key} [shape=ellipse, label="{_dot_text(node.fields[0])}"];')
        else:
            fields = " | ".join(_dot_text(f) for f in node.fields)
            out.append(f'  {node.key} [shape=record, label="{{ {fields} }}"];')
        out.extend(f"  {source} -> {node.key};" for source in node.inputs)
    out.append("}")
    return "\n".join(out) + "\n"
