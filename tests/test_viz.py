"""The computational-graph worked example: x=1, y=3, z=-3; p = x + y; g = p * z."""

import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.tutorials.computational_graph import worked_example


def gradient_lines(lines):
    """{'x': '-3', ...}: the result at the end of each '∂g/∂name = ...' line."""
    found = {}
    for line in lines:
        chain = line.split("    [")[0]  # drop the op's docstring formula
        m = re.match(r"∂g/∂(\w+) \+?= (.* = )?(\S+)$", chain)
        if m:
            found.setdefault(m[1], []).append(m[3])
    return found


def test_worked_example_values_and_explanation():
    x, y, z, p, g = worked_example()
    assert p.item() == 4 and g.item() == -12
    printed = []
    lines = cr.viz.explain(g, print_fn=printed.append)
    assert printed == lines
    assert lines[0] == "∂g/∂g = 1"
    grads = gradient_lines(lines)
    assert grads == {"g": ["1"], "z": ["4"], "p": ["-3"], "x": ["-3"], "y": ["-3"]}, lines
    line_x = next(line for line in lines if line.startswith("∂g/∂x"))
    assert "∂g/∂p · ∂p/∂x = -3 × 1 = -3" in line_x and "Add" in line_x
    line_z = next(line for line in lines if line.startswith("∂g/∂z"))
    assert "× 4 = 4" in line_z and "Mul" in line_z
    assert (x.grad.item(), y.grad.item(), z.grad.item(), p.grad.item()) == (-3, -3, 4, -3)
    assert lines.index(line_z) < lines.index(line_x)  # the chain rule runs output first


def test_explain_marks_a_second_path_with_plus_equals():
    x = cr.tensor(2.0, requires_grad=True, name="x")
    g = x * x + x
    g.name = "g"
    lines = cr.viz.explain(g, print_fn=lambda _: None)
    x_lines = [line for line in lines if line.startswith("∂g/∂x")]
    assert len(x_lines) == 3  # from the Add, and twice from the Mul
    assert sum(" += " in line for line in x_lines) == 2
    assert x.grad.item() == 5.0  # 2x + 1


def test_explain_unnamed_and_non_scalar_nodes():
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    loss = (w.sum(axis=0) * 2).sum()
    lines = cr.viz.explain(loss, print_fn=lambda _: None)
    assert lines[0] == "∂sum2/∂sum2 = 1"  # unnamed tensors are labelled by op and order
    assert any("(local Jacobian)" in line for line in lines)
    np.testing.assert_array_equal(w.grad.data, np.full((2, 2), 2.0))


def test_to_dot_is_valid_looking_dot():
    *_, g = worked_example()
    cr.viz.explain(g, print_fn=lambda _: None)
    dot = cr.viz.to_dot(g)
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    assert dot.count("{") == dot.count("}")
    for name in ("x", "y", "z", "p", "g"):
        assert re.search(rf'label="\{{ {name} \|', dot), name
    for op in ("Add", "Mul"):
        assert f'label="{op}"' in dot
    declared = set(re.findall(r"^\s*(\w+) \[", dot, flags=re.M)) - {"node", "graph", "edge"}
    edges = re.findall(r"^\s*(\w+) -> (\w+);", dot, flags=re.M)
    assert len(declared) == 7 and len(edges) == 6  # 5 tensors + 2 ops; 4 inputs + 2 outputs
    for a, b in edges:
        assert a in declared and b in declared
    assert "data -12" in dot and "grad 4" in dot


def test_to_dot_before_backward_shows_no_grad():
    *_, g = worked_example()
    dot = cr.viz.to_dot(g)
    assert "grad —" in dot and "data 4" in dot


@pytest.mark.parametrize("shape", [(3,), (2, 2)])
def test_to_dot_shows_array_shapes(shape):
    t = cr.ones(*shape, requires_grad=True)
    dot = cr.viz.to_dot((t * 2).sum())
    assert f"array{shape}" in dot


def test_explain_words_each_rule_in_the_users_own_names():
    """The user's z is an input here: the Mul rule must not call its output z."""
    *_, g = worked_example()
    lines = cr.viz.explain(g, print_fn=lambda _: None)
    line_z = next(line for line in lines if line.startswith("∂g/∂z"))
    assert line_z.endswith("[Mul: g = p * z;  ∂g/∂p = z,  ∂g/∂z = p.]")
    line_x = next(line for line in lines if line.startswith("∂g/∂x"))
    assert line_x.endswith("[Add: p = x + y;  ∂p/∂x = 1,  ∂p/∂y = 1.]")
    assert not any("z = x * y" in line or "dz/" in line for line in lines)


def test_explain_names_constants_and_unnamed_nodes():
    t = cr.tensor(2.0, requires_grad=True, name="t")
    lines = cr.viz.explain((t.tanh() * 3).sum(), print_fn=lambda _: None)
    assert any("[Mul: mul1 = tanh1 * const;  ∂mul1/∂tanh1 = const," in line for line in lines)
    assert any("[Tanh: tanh1 = tanh(t);  ∂tanh1/∂t = 1 - tanh1**2.]" in line
               for line in lines)


def test_describe_gives_columns_from_the_leaves():
    *_, g = worked_example()
    nodes = {node.fields[0]: node for node in cr.viz.describe(g)}
    assert {name: nodes[name].depth for name in "xyzpg"} == \
        {"x": 0, "y": 0, "z": 0, "p": 2, "g": 4}
    assert nodes["Add"].kind == "op" and nodes["Add"].depth == 1
    assert set(nodes["Mul"].inputs) == {nodes["p"].key, nodes["z"].key}
    assert nodes["g"].inputs == (nodes["Mul"].key,)


def test_plot_graph_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    *_, g = worked_example()
    cr.viz.explain(g, print_fn=lambda _: None)
    path = cr.viz.plot_graph(g, tmp_path / "graph.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = cr.viz.plot_graph(g)
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert "g\ndata -12\ngrad 1" in texts and "Mul" in texts
