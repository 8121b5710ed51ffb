"""The house: imports point one way, along the floors written in docs/architecture.md,
with no cycle anywhere; and importing chainrule changes nothing global."""

from __future__ import annotations

import ast
import pathlib
import re
import sys

import pytest
from process_probe import run_probe

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "chainrule"
FACADE = "chainrule"  # the floor of chainrule/__init__.py, the public namespace

# Cycles that another branch is removing; each must still exist (then delete it here).
KNOWN_CYCLES: dict[frozenset, str] = {}


def floors() -> dict[str, int]:
    """Top-level name -> floor (0 lowest), from the ```layers block of the doc."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    return {name: i for i, line in enumerate(block[1].splitlines()) for name in line.split()}


def module_name(path: pathlib.Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def unit(module: str) -> str:
    """The floor a module belongs to: chainrule.models.saving -> models."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def imported_modules(module: str) -> set[str]:
    """Every chainrule module ``module`` imports, anywhere in the file (functions,
    ``if TYPE_CHECKING`` blocks...): ``from X import name`` counts as X.name when that
    is a module, else X."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES
                          else base)
    return {m for m in found if m == "chainrule" or m.startswith("chainrule.")}


GRAPH = {m: imported_modules(m) - {m} for m in MODULES}


def test_every_top_level_module_has_a_floor():
    placed = floors()
    missing = sorted({unit(m) for m in MODULES} - set(placed))
    assert not missing, (f"{missing} are not in the ```layers block of docs/architecture.md: "
                         f"give each new top-level module its floor there.")


def test_imports_point_down_the_floors():
    floor = floors()
    wrong = [f"{a} -> {b} ({unit(a)} is floor {floor.get(unit(a))}, {unit(b)} is floor "
             f"{floor.get(unit(b))})"
             for a, targets in GRAPH.items() for b in sorted(targets)
             if unit(a) != unit(b) and not floor.get(unit(b), -1) < floor.get(unit(a), -1)]
    assert not wrong, "imports that point up or sideways:\n" + "\n".join(wrong)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components (iterative)."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return components


def test_no_import_cycles_anywhere():
    cycles = {frozenset(c) for c in strongly_connected(GRAPH) if len(c) > 1}
    unexpected = cycles - KNOWN_CYCLES.keys()
    assert not unexpected, "import cycles:\n" + "\n".join(
        " <-> ".join(sorted(c)) for c in unexpected)
    stale = KNOWN_CYCLES.keys() - cycles
    assert not stale, f"these cycles are gone; delete them from KNOWN_CYCLES: {stale}"


def test_the_checker_sees_function_level_and_relative_imports():
    assert "chainrule.layers" in GRAPH["chainrule.models.sequential"]
    assert "chainrule.functional" in GRAPH["chainrule.losses"]  # from . import functional
    assert "chainrule.demo" in GRAPH["chainrule.cli"]  # imported inside main()
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        {"a", "b", "c"}, {"d"}]


# ---------------------------------------------------------------- no side effects


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_importing_every_module_changes_nothing_global():
    """No os.umask call, no ctypes/mallopt, and the umask (read from /proc), NumPy's
    error settings and global random state, the environment and the warning filters
    are as before, after importing every module of the package."""
    probe = run_probe("import importlib, pkgutil, chainrule\n"
                      "for m in pkgutil.walk_packages(chainrule.__path__, 'chainrule.'):\n"
                      "    importlib.import_module(m.name)\n"
                      "result = sorted(sys.modules)\n")
    assert "chainrule.models.saving" in probe["result"]
    assert probe["calls"] == []
    assert probe["after"] == probe["before"]
