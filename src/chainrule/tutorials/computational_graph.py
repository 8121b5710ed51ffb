"""The computational-graph tutorial's worked example: g = (x + y) · z.

x = 1, y = 3, z = -3. The forward pass gives p = x + y = 4 and g = p · z = -12.
Backpropagation applies the chain rule node by node, from g back to the inputs:

    ∂g/∂g = 1
    ∂g/∂z = p = 4                 (the local derivative of a product is the other factor)
    ∂g/∂p = z = -3
    ∂g/∂x = ∂g/∂p · ∂p/∂x = -3 · 1 = -3
    ∂g/∂y = ∂g/∂p · ∂p/∂y = -3 · 1 = -3

``cr.viz.explain(g)`` prints exactly these steps, in the tensors' own names;
``cr.viz.to_dot(g)`` describes the graph for Graphviz, rendered to SVG when its
``dot`` program is installed, and drawn with matplotlib (``cr.viz.plot_graph``)
otherwise.

    python examples/computational_graph.py [--out DIR]
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import chainrule as cr

from .expected import equal
from .progress import bar, say_if

KEY_NUMBERS = {k: k for k in ("p", "g", "dg_dz", "dg_dp", "dg_dx", "dg_dy")}
EXPECTED = tuple(equal(k, v) for k, v in (("p", 4), ("g", -12), ("dg_dg", 1), ("dg_dz", 4),
                                          ("dg_dp", -3), ("dg_dx", -3), ("dg_dy", -3)))


def render_svg(dot_path: Path) -> Path | None:
    """Render a DOT file to SVG with Graphviz's ``dot``; None when it is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    svg_path = dot_path.with_suffix(".svg")
    subprocess.run([dot, "-Tsvg", str(dot_path), "-o", str(svg_path)], check=True,
                   capture_output=True, timeout=60)
    return svg_path


def worked_example() -> tuple[cr.Tensor, ...]:
    """The tutorial's graph: x, y, z (leaves), p = x + y and g = p · z, each named."""
    x = cr.tensor(1.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    z = cr.tensor(-3.0, requires_grad=True, name="z")
    p = x + y
    p.name = "p"
    g = p * z
    g.name = "g"
    return x, y, z, p, g


def main(out_dir: str | os.PathLike | None = None, quick: bool = False,
         verbose: bool = False) -> dict:
    """Run the worked example; write ``computational_graph.dot`` to ``out_dir`` and draw
    it (``.svg`` with Graphviz, else ``.png`` with matplotlib).

    Returns the forward values, every gradient, the ``explain`` lines and the DOT text.
    """
    say = say_if(verbose)
    progress = bar(2, "computational_graph: forward, backward", verbose)
    x, y, z, p, g = worked_example()
    progress.update()
    say(f"forward:  p = x + y = {p.item():g}    g = p · z = {g.item():g}")
    say("backward (cr.viz.explain):")
    lines = cr.viz.explain(g, print_fn=lambda line: say("  " + line))
    progress.update()
    progress.close()
    dot = cr.viz.to_dot(g)
    result = {
        "p": p.item(), "g": g.item(),
        "dg_dg": g.grad.item(), "dg_dz": z.grad.item(), "dg_dp": p.grad.item(),
        "dg_dx": x.grad.item(), "dg_dy": y.grad.item(),
        "explain": lines, "dot": dot, "dot_path": None, "svg_path": None, "plots": {},
    }
    if out_dir is not None:
        dot_path = Path(out_dir) / "computational_graph.dot"
        dot_path.parent.mkdir(parents=True, exist_ok=True)
        dot_path.write_text(dot)
        result["dot_path"] = dot_path
        result["svg_path"] = render_svg(dot_path)
        drawing = result["svg_path"] or cr.viz.plot_graph(g, dot_path.with_suffix(".png"))
        if drawing is not None and result["svg_path"] is None:
            result["plots"]["the graph (matplotlib; install Graphviz for SVG)"] = drawing
        say(f"graph: {dot_path}" + (f", drawn in {drawing}" if drawing else ""))
    return result

