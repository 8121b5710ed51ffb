"""``chainrule demo``: the registry, the runner, the table, report.html and the CLI."""

import base64
import builtins
import os
import re
import subprocess
import sys

import pytest

from chainrule import cli
from chainrule.demo import WALKTHROUGHS, Walkthrough, at_least, at_most, near, register
from chainrule.demo.registry import CHURN_FILE, DemoContext, find_churn_csv, lookup
from chainrule.demo.report import flatten_numbers
from chainrule.demo.runner import Outcome, run_walkthrough, select
from chainrule.demo.summary import summary_table

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TUTORIALS = ["two_layer_network", "celsius_neuron", "backprop_by_hand", "computational_graph",
             "forward_propagation", "churn", "regularization"]


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture
def no_matplotlib(monkeypatch):
    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name.split(".")[0] == "matplotlib":
            raise ImportError("No module named 'matplotlib' (simulated)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", failing_import)


@pytest.fixture
def extra_walkthrough():
    """Register walkthroughs for one test only."""
    added = []

    def add(walkthrough):
        added.append(register(walkthrough))
        return walkthrough

    yield add
    for w in added:
        WALKTHROUGHS.remove(w)


def embedded_pngs(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in
            re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)]


# ---------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """`chainrule demo --quick --out DIR`, once for the module."""
    out = tmp_path_factory.mktemp("demo")
    code = cli.main(["demo", "--quick", "--out", str(out)])
    return code, out, (out / "report.html").read_text(encoding="utf-8")


def test_quick_demo_runs_every_walkthrough(quick_run):
    code, out, page = quick_run
    assert code == 0
    assert [w.name for w in WALKTHROUGHS][:len(TUTORIALS)] == TUTORIALS
    for name in TUTORIALS:
        assert f'<section id="{name}">' in page, name
    assert page.count("<section id=") == len(WALKTHROUGHS)
    assert "--quick" in page


def test_quick_demo_embeds_every_plot(quick_run):
    _, out, page = quick_run
    if not has_matplotlib():
        assert "plots skipped" in page
        return
    pngs = embedded_pngs(page)
    files = sorted(out.glob("*.png"))
    assert len(pngs) >= len(files) >= 10  # every top-level plot, plus a few from subfolders
    assert all(png.startswith(PNG_SIGNATURE) for png in pngs)
    for name in ("two_layer_network", "celsius_neuron", "backprop_by_hand", "regularization"):
        section = page.split(f'<section id="{name}">')[1].split("</section>")[0]
        assert "data:image/png;base64," in section, name


def test_quick_demo_shows_the_graph_and_numbers(quick_run):
    _, out, page = quick_run
    section = page.split('<section id="computational_graph">')[1].split("</section>")[0]
    assert "<svg" in section or "digraph chainrule" in section
    assert (out / "computational_graph.dot").is_file()
    assert "∂g/∂x = ∂g/∂p · ∂p/∂x = -3 × 1 = -3" in section
    forward = page.split('<section id="forward_propagation">')[1].split("</section>")[0]
    assert ">364<" in forward and ">-3<" in forward


def test_quick_demo_churn_is_run_or_skipped_with_help(quick_run):
    _, _, page = quick_run
    section = page.split('<section id="churn">')[1].split("</section>")[0]
    if find_churn_csv() is None:
        assert "Skipped" in section and "--churn PATH" in section
    else:
        assert "test_accuracy=" in page and "confusion_matrix" in section


def test_demo_prints_progress_and_table(tmp_path, capsys):
    code = cli.main(["demo", "--only", "computational_graph,forward_propagation",
                     "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "[1/2] computational_graph" in printed and "[2/2] forward_propagation" in printed
    row = next(line for line in printed.splitlines() if line.startswith("forward_propagation"))
    assert "the guide's passes" in row and row.endswith("PASS")
    assert "deep_output=364" in printed
    assert "report: " in printed


# ---------------------------------------------------------------- options and failures


def test_missing_churn_csv_is_skipped_with_instructions(tmp_path, capsys):
    code = cli.main(["demo", "--only", "churn", "--churn", str(tmp_path / "nope.csv"),
                     "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "skipped" in printed and CHURN_FILE in printed and "--churn PATH" in printed


def test_unknown_walkthrough_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["demo", "--only", "nonsense", "--out", str(tmp_path)]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_list_and_no_command(capsys):
    assert cli.main(["demo", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in TUTORIALS)
    assert cli.main([]) == 2


def test_a_failing_walkthrough_sets_the_exit_code(tmp_path, extra_walkthrough, capsys):
    script = tmp_path / "wrong.py"
    script.write_text("def main(out_dir=None, quick=False, verbose=False):\n"
                      "    print('forty-one')\n    return {'answer': 41, 'plots': {}}\n")
    broken = tmp_path / "broken.py"
    broken.write_text("def main(**kwargs):\n    raise RuntimeError('boom')\n")
    extra_walkthrough(Walkthrough("wrong", "Wrong", "a wrong number", keys=("answer",),
                                  checks=(near("answer", 42, 0),), script=str(script)))
    extra_walkthrough(Walkthrough("broken", "Broken", "raises", script=str(broken)))
    code = cli.main(["demo", "--only", "wrong,broken", "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in printed and "answer ≈ 42 ± 0" in printed
    assert "ERROR" in printed and "RuntimeError: boom" in printed
    page = (tmp_path / "out" / "report.html").read_text()
    assert "forty-one" in page and "RuntimeError: boom" in page


def test_plots_are_skipped_cleanly_without_matplotlib(tmp_path, no_matplotlib, capsys):
    code = cli.main(["demo", "--only", "celsius_neuron,computational_graph",
                     "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "plots skipped" in printed
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


def test_demo_finds_the_examples_from_any_directory(tmp_path):
    """The examples are found next to the installed package, not in the cwd."""
    done = subprocess.run([sys.executable, "-m", "chainrule.cli", "demo", "--only",
                           "computational_graph", "--out", "here"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "here" / "report.html").is_file()


# ---------------------------------------------------------------- the pieces


def test_checks_and_relaxed_bounds():
    result = {"a": {"b": [0.5, 2.0]}, "acc": 0.81}
    assert lookup(result, "a.b.1") == 2.0
    assert near("a.b", [0.5, 2.1], 0.2)(result, False).passed
    assert not near("a.b", [0.5, 2.1], 0.05)(result, False).passed
    full = at_least("acc", 0.84, quick_bound=0.8)
    assert not full(result, False).passed and not full(result, False).relaxed
    assert full(result, True).passed and full(result, True).relaxed
    only_full = at_most("acc", 0.5, full_only=True)
    assert not only_full(result, False).passed
    quick = only_full(result, True)
    assert quick.passed and quick.relaxed and "not judged" in quick.label


def test_summary_marks_relaxed_skipped_and_failed():
    w = Walkthrough("thing", "Thing", "shows a thing", keys=("x",))
    table = summary_table([
        Outcome(w, "pass", {"x": 1.0}, [at_least("x", 2, quick_bound=0.5)({"x": 1.0}, True)]),
        Outcome(w, "skipped", message="needs a file"),
        Outcome(w, "fail", {"x": 1.0}, message="failed: x ≥ 2")])
    assert "PASS*" in table and "skipped" in table and "FAIL" in table
    assert "thing: skipped, needs a file." in table
    assert "--quick bounds" in table


def test_run_walkthrough_honours_requires(tmp_path):
    w = Walkthrough("needs", "Needs", "needs data", requires=lambda ctx: "no data here")
    outcome = run_walkthrough(w, DemoContext(out_dir=tmp_path))
    assert outcome.status == "skipped" and outcome.message == "no data here"


def test_select_keeps_registry_order():
    assert [w.name for w in select(["forward_propagation", "two_layer_network"])] == \
        ["two_layer_network", "forward_propagation"]
    with pytest.raises(KeyError, match="Unknown walkthrough"):
        select(["nope"])


def test_flatten_numbers_skips_long_series_and_text():
    rows = dict(flatten_numbers({"a": 1.23456, "curve": list(range(100)), "dot": "digraph",
                                 "nested": {"b": [1.0, 2.0]}, "plots": {"x": "p.png"}}))
    assert rows == {"a": "1.235", "nested.b": "[1, 2]"}


def test_churn_csv_lookup(tmp_path):
    assert find_churn_csv(tmp_path / "missing.csv") is None
    csv = tmp_path / CHURN_FILE
    csv.write_text("x\n")
    assert find_churn_csv(csv) == csv
