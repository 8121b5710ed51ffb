"""``chainrule demo``: it runs the walkthroughs from the package (never from the current
directory), shows live progress, reports what each computed, exits non-zero when
one does not run to the end, and writes report.html."""

import base64
import io
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from tutorial_helpers import PNG_SIGNATURE, has_matplotlib, pretend_missing

from chainrule import cli
from chainrule.demo import runner
from chainrule.demo.report import flatten_numbers
from chainrule.demo.runner import format_value
from chainrule.tutorials import NAMES

SRC = Path(__file__).resolve().parents[1] / "src"
HOSTILE = ("import pathlib\n"
           "pathlib.Path({marker!r}).write_text('a hostile {name}.py ran')\n"
           "def main(**kwargs):\n"
           "    pathlib.Path({marker!r}).write_text('a hostile {name}.main ran')\n"
           "    return {{'plots': {{}}}}\n")


def embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in
            re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


def section(page: str, name: str) -> str:
    return page.split(f'<section id="{name}">')[1].split("</section>")[0]


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """`python -m chainrule.cli demo --quick` (the current directory first on sys.path),
    run once from a directory holding a hostile examples/<name>.py and <name>.py for
    every walkthrough: each would write the marker file if it were run or imported."""
    here = tmp_path_factory.mktemp("hostile")
    marker = here / "MARKER"
    (here / "examples").mkdir()
    for name in NAMES:
        for path in (here / "examples" / f"{name}.py", here / f"{name}.py"):
            path.write_text(HOSTILE.format(marker=str(marker), name=name))
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-m", "chainrule.cli", "demo", "--quick", "--out",
                           "out"], cwd=here, env=env, capture_output=True, text=True,
                          timeout=900)
    page = (here / "out" / "report.html").read_text(encoding="utf-8")
    return done, here, marker, page


def test_quick_demo_runs_every_walkthrough_from_the_package(quick_run):
    done, _, marker, page = quick_run
    assert done.returncode == 0, done.stdout + done.stderr
    for i, name in enumerate(NAMES, 1):
        assert re.search(rf"^\[{i}/{len(NAMES)}\] {name} +ok \(", done.stdout, re.M), name
        assert f'<section id="{name}">' in page
    assert f"{len(NAMES)} of {len(NAMES)} walkthroughs ran to the end." in done.stdout
    assert not marker.exists(), marker.read_text()


def test_quick_demo_report(quick_run):
    _, here, _, page = quick_run
    assert page.count("<section id=") == len(NAMES) and "quick run" in page
    assert "white-space: pre-wrap" in page  # long printed lines wrap
    graph = section(page, "computational_graph")
    assert "digraph" not in graph  # drawn, never shown as DOT source
    assert "<svg" in graph or "data:image/png;base64," in graph
    assert "g = p * z" in graph and "[Mul: z = x * y" not in graph
    assert ">364<" in section(page, "forward_propagation")
    if has_matplotlib():
        pngs = embedded_pngs(page)
        assert len(pngs) >= len(list((here / "out").glob("*.png"))) >= 20
        assert all(png.startswith(PNG_SIGNATURE) for png in pngs)
        for name in ("two_layer_network", "churn", "mnist_cnn", "rbm", "gan"):
            assert "data:image/png;base64," in section(page, name), name


def test_demo_prints_progress_and_what_each_computed(tmp_path, capsys):
    code = cli.main(["demo", "--only", "computational_graph,forward_propagation",
                     "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "[1/2] computational_graph  The computational graph ..." in printed
    assert "[2/2] forward_propagation  ok (" in printed
    row = next(line for line in printed.splitlines() if line.startswith("forward_propagation"))
    assert "the guide's passes" in row and "relu_output=-3" in row and " ok " in row
    assert "deep_output=364" in printed  # the key numbers wrap within their column
    assert "report: " in printed and "PASS" not in printed


def test_each_walkthrough_shows_a_live_progress_bar(tmp_path, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    names = ["two_layer_network", "celsius_neuron", "backprop_by_hand", "computational_graph",
             "forward_propagation", "churn"]
    assert cli.main(["demo", "--quick", "--only", ",".join(names), "--out",
                     str(tmp_path)]) == 0
    for name in names:
        assert f"{name}:" in terminal.getvalue(), name


# ---------------------------------------------------------------- failures and options


def test_unknown_walkthrough_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["demo", "--only", "nonsense", "--out", str(tmp_path)]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_list_and_no_command(capsys):
    assert cli.main(["demo", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in NAMES)
    assert cli.main([]) == 2


def test_a_walkthrough_that_raises_sets_the_exit_code(tmp_path, monkeypatch, capsys):
    def main(**kwargs):
        print("forty-one")
        raise RuntimeError("boom")

    broken = types.SimpleNamespace(main=main, KEY_NUMBERS={})
    real_load = runner.load
    monkeypatch.setattr(runner, "load", lambda name: broken if name == "celsius_neuron"
                        else real_load(name))
    code = cli.main(["demo", "--only", "celsius_neuron,forward_propagation",
                     "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 1
    assert "celsius_neuron       ERROR" in printed and "forward_propagation  ok" in printed
    assert "celsius_neuron: raised RuntimeError: boom" in printed
    assert "1 of 2 walkthroughs ran to the end." in printed
    page = (tmp_path / "report.html").read_text()
    assert "forty-one" in page and "RuntimeError: boom" in page


def test_without_scikit_learn_the_demo_names_the_extra(tmp_path, monkeypatch, capsys):
    pretend_missing(monkeypatch, "sklearn")
    code = cli.main(["demo", "--quick", "--only", "churn,forward_propagation",
                     "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 1
    assert 'churn: needs scikit-learn' in printed
    assert 'pip install "chainrule[examples]"' in printed
    assert "ModuleNotFoundError" not in printed and "forward_propagation  ok" in printed


def test_plots_are_skipped_cleanly_without_matplotlib(tmp_path, monkeypatch, capsys):
    pretend_missing(monkeypatch, "matplotlib")
    code = cli.main(["demo", "--only", "celsius_neuron,computational_graph",
                     "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0
    assert 'plots skipped: matplotlib is not installed (pip install "chainrule[examples]")' \
        in printed
    assert not list(tmp_path.glob("*.png"))
    page = (tmp_path / "report.html").read_text()
    assert "plots skipped" in page and "data:image/png" not in page


def test_report_inlines_the_svg_drawing(tmp_path, monkeypatch):
    fake = tmp_path / "bin" / "dot"  # stands in for Graphviz
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\nwhile [ "$1" != "-o" ]; do shift; done\n'
                    'printf \'<?xml version="1.0"?>\\n<svg id="drawn"></svg>\\n\' > "$2"\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ.get('PATH', '')}")
    assert cli.main(["demo", "--only", "computational_graph", "--out", str(tmp_path)]) == 0
    page = (tmp_path / "report.html").read_text()
    assert '<svg id="drawn"></svg>' in page and "<?xml" not in page


# ---------------------------------------------------------------- the pieces


def test_counts_print_as_integers():
    assert format_value(205573) == "205573" and format_value(np.int64(18)) == "18"
    assert format_value(205573.0) == "205573" and format_value(364.0) == "364"
    assert format_value(0.98604) == "0.986" and format_value(1.5e-16) == "1.5e-16"
    assert format_value([3.0, 0.5, True]) == "[3, 0.5, True]"


def test_flatten_numbers_skips_long_series_and_text():
    rows = dict(flatten_numbers({"a": 1.23456, "curve": list(range(100)), "dot": "digraph",
                                 "nested": {"b": [1.0, 2.0]}, "plots": {"x": "p.png"},
                                 "params": 205573}))
    assert rows == {"a": "1.235", "nested.b": "[1, 2]", "params": "205573"}
