"""Mutation checks: each deliberate bug below must make at least one test fail with torch
made unimportable, and the unmutated tree must pass those same tests (issue 16).

For each mutation the source and test trees are copied to a temporary folder, one
textual edit is applied there (an "old text" that is not found is an error, so a
refactor cannot silently disable a check), and the mutation's test files run with a
``sitecustomize.py`` on ``PYTHONPATH`` that makes ``import torch`` fail as if torch
were not installed.
A mutation is *caught* when pytest reports a failing test. The working tree is never
touched.

Run:  python tools/mutation_check.py [NAME ...]      (--list shows the table)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("src", "tests", "pyproject.toml")
# As if torch were uninstalled: importing it raises ModuleNotFoundError. (A None in
# sys.modules would also stop the import, but SciPy takes "torch" in sys.modules to
# mean torch is there, and crashes.)
HIDE_TORCH = """import sys


class _WithoutTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "torch":
            raise ModuleNotFoundError(f"No module named {name!r} (hidden)", name=name)
        return None


sys.meta_path.insert(0, _WithoutTorch())
"""


@dataclass(frozen=True)
class Mutation:
    """Replace every occurrence of ``old`` by ``new`` in ``path``, then run ``tests``."""

    name: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


MUTATIONS = (
    Mutation("gelu_constant", "src/chainrule/ops/activation.py", "0.044715", "0.05",
             ("tests/test_ops.py", "tests/test_functional.py")),
    Mutation("batchnorm_ddof_1", "src/chainrule/ops/normalization.py",
             "    var = (centered * centered).mean(axis=axis, keepdims=True)\n",
             "    var = (centered * centered).sum(axis=axis, keepdims=True)"
             " / (x.shape[axis] - 1)\n",
             ("tests/test_normalization.py",)),
    Mutation("lstm_forget_bias_ignored", "src/chainrule/ops/recurrent.py",
             "        w, u_w, b = _gate_weights(kernel, recurrent_kernel, bias, u,",
             "        if bias is not None:\n"
             "            bias = np.concatenate([bias[:u], 0 * bias[u:2 * u], bias[2 * u:]])\n"
             "        w, u_w, b = _gate_weights(kernel, recurrent_kernel, bias, u,",
             ("tests/test_recurrent.py",)),
    Mutation("adam_bias_correction_off", "src/chainrule/optim/adam.py",
             "        p -= self.lr / (1 - beta1**t) * m / (np.sqrt(v_hat) + self.eps)\n",
             "        p -= self.lr * m / (np.sqrt(v) + self.eps)\n",
             ("tests/test_optim_rules.py",)),
    Mutation("rmsprop_without_eps", "src/chainrule/optim/rmsprop.py",
             "        d = g / (np.sqrt(v) + self.eps)\n",
             "        d = g / np.sqrt(v)\n",
             ("tests/test_optim_rules.py",)),
    Mutation("sgd_momentum_ignores_dampening", "src/chainrule/optim/sgd.py",
             "                b += (1 - self.dampening) * g if self.dampening else g\n",
             "                b += g\n",
             ("tests/test_optim_rules.py",)),
)


class MutationNotApplied(RuntimeError):
    """A mutation's old text is not in its file: the check must be re-targeted."""


@dataclass
class Outcome:
    name: str
    caught: bool
    first_failure: str
    seconds: float


def copy_tree(destination: Path) -> None:
    """The parts of the project the tests need, without caches."""
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.egg-info")
    for item in COPIED:
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, destination / item, ignore=ignore)
        else:
            shutil.copy2(source, destination / item)


def apply(mutation: Mutation, tree: Path) -> None:
    """Make the edit in ``tree``; raise MutationNotApplied when the old text is missing."""
    path = tree / mutation.path
    text = path.read_text()
    if mutation.old not in text:
        raise MutationNotApplied(
            f"mutation {mutation.name!r}: its old text is not in {mutation.path} any more; "
            f"re-target it to the current code.\n--- old text ---\n{mutation.old}")
    path.write_text(text.replace(mutation.old, mutation.new))


def environment(tree: Path) -> dict:
    """PYTHONPATH: the copied sources, then a folder whose sitecustomize hides torch."""
    hide = tree / "hide_torch"
    hide.mkdir(exist_ok=True)
    (hide / "sitecustomize.py").write_text(HIDE_TORCH)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = os.pathsep.join([str(tree / "src"), str(hide)])
    return env


def assert_torch_hidden(env: dict, tree: Path) -> None:
    probe = subprocess.run([sys.executable, "-c", "import torch"], env=env, cwd=tree,
                           capture_output=True, text=True)
    if probe.returncode == 0:
        raise RuntimeError("torch is still importable: the sitecustomize did not take effect")


def run_tests(tree: Path, tests: tuple[str, ...], env: dict) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m",
               "not slow", *tests]
    return subprocess.run(command, env=env, cwd=tree, capture_output=True, text=True)


def first_failure(output: str) -> str:
    match = re.search(r"^(FAILED|ERROR) (\S+)", output, re.M)
    return match.group(2) if match else ""


def check(mutation: Mutation | None, tests: tuple[str, ...]) -> Outcome:
    """Run ``tests`` on a copy of the tree, mutated by ``mutation`` unless it is None."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutation-") as folder:
        tree = Path(folder)
        copy_tree(tree)
        if mutation is not None:
            apply(mutation, tree)
        env = environment(tree)
        assert_torch_hidden(env, tree)
        result = run_tests(tree, tests, env)
    output = result.stdout + result.stderr
    if result.returncode not in (0, 1):  # 2+: interrupted, usage or collection errors
        raise RuntimeError(f"pytest could not run {tests} (exit {result.returncode}):\n"
                           f"{output[-3000:]}")
    name = mutation.name if mutation else "(unmutated)"
    return Outcome(name, result.returncode == 1, first_failure(output),
                   time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="print the table and exit")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"unknown mutations {sorted(unknown)}")
    if args.list:
        for m in chosen:
            print(f"{m.name:<32} {m.path}  ->  {' '.join(m.tests)}")
        return 0
    ok = True
    for m in chosen:
        outcome = check(m, m.tests)
        ok &= outcome.caught
        verdict = f"caught by {outcome.first_failure}" if outcome.caught else "NOT CAUGHT"
        print(f"{m.name:<32} {verdict}  ({outcome.seconds:.0f} s)", flush=True)
    files = tuple(sorted({t for m in chosen for t in m.tests}))
    baseline = check(None, files)
    ok &= not baseline.caught
    verdict = "pass" if not baseline.caught else f"FAIL: {baseline.first_failure}"
    print(f"{'unmutated tree':<32} {verdict} on {' '.join(files)}  ({baseline.seconds:.0f} s)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
