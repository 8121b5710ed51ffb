"""The computational-graph tutorial's worked example: g = (x + y) · z.

x = 1, y = 3, z = -3. The forward pass gives p = x + y = 4 and g = p · z = -12.
Backpropagation applies the chain rule node by node, from g back to the inputs:

    ∂g/∂g = 1
    ∂g/∂z = p = 4                 (the local derivative of a product is the other factor)
    ∂g/∂p = z = -3
    ∂g/∂x = ∂g/∂p · ∂p/∂x = -3 · 1 = -3
    ∂g/∂y = ∂g/∂p · ∂p/∂y = -3 · 1 = -3

``cr.viz.explain(g)`` prints exactly these steps; ``cr.viz.to_dot(g)`` draws the
graph (rendered to SVG when Graphviz's ``dot`` is installed).

    python examples/computational_graph.py [--out DIR]
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import chainrule as cr


def render_svg(dot_path: Path) -> Path | None:
    """Render a DOT file to SVG with Graphviz's ``dot``; None when it is not installed."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    svg_path = dot_path.with_suffix(".svg")
    subprocess.run([dot, "-Tsvg", str(dot_path), "-o", str(svg_path)], check=True,
                   capture_output=True, timeout=60)
    return svg_path


def main(out_dir: str | os.PathLike | None = None, quick: bool = False,
         verbose: bool = False) -> dict:
    """Run the worked example; write ``computational_graph.dot`` (and ``.svg``) to ``out_dir``.

    Returns the forward values, every gradient, the ``explain`` lines and the DOT text.
    """
    say = print if verbose else (lambda *args: None)
    x = cr.tensor(1.0, requires_grad=True, name="x")
    y = cr.tensor(3.0, requires_grad=True, name="y")
    z = cr.tensor(-3.0, requires_grad=True, name="z")
    p = x + y
    p.name = "p"
    g = p * z
    g.name = "g"
    say(f"forward:  p = x + y = {p.item():g}    g = p · z = {g.item():g}")
    say("backward (cr.viz.explain):")
    lines = cr.viz.explain(g, print_fn=lambda line: say("  " + line))
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
        say(f"graph: {dot_path}" + (f" and {result['svg_path']}" if result["svg_path"]
                                    else " (install Graphviz for an SVG drawing)"))
    return result


if __name__ == "__main__":
    from chainrule.demo import run_example_script

    run_example_script(main)
