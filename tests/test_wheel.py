"""chainrule works from a wheel: built with pip, installed into a fresh venv, run in an
empty directory, ``chainrule demo --quick`` runs every walkthrough (none skipped,
none failing) from the installed package alone."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chainrule.tutorials import NAMES

ROOT = Path(__file__).resolve().parents[1]
# without this checkout's src/ on the path: what a user who installed the wheel has
CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}


def run(args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          env=CLEAN_ENV, **kwargs)


def build_wheel(tmp: Path) -> Path:
    """``pip wheel . --no-deps`` on a copy of the project (the build leaves build/ and
    egg-info behind); pip fetches the build backend from its configured index, and
    when it cannot, the backend installed here builds it."""
    source, out = tmp / "source", tmp / "wheels"
    shutil.copytree(ROOT / "src", source / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    command = [sys.executable, "-m", "pip", "wheel", source, "--no-deps", "-w", out]
    built = run(command, timeout=600)
    if built.returncode != 0:
        built = run(command + ["--no-build-isolation"], timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = out.glob("chainrule-*.whl")
    return wheel


def fresh_venv(where: Path, wheel: Path) -> Path:
    """A venv holding only the wheel; the dependencies (numpy, tqdm, ... and the
    examples extra) come from this interpreter's site-packages, added by a .pth file,
    so nothing is downloaded. Returns the venv's bin folder."""
    made = run([sys.executable, "-m", "venv", where], timeout=300)
    assert made.returncode == 0, made.stderr
    python = where / "bin" / "python"
    installed = run([python, "-m", "pip", "install", "--no-deps", "--no-index", wheel],
                    timeout=300)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (Path(site.stdout.strip()) / "dependencies.pth").write_text("\n".join(ours) + "\n")
    return where / "bin"


@pytest.mark.slow
def test_the_wheel_runs_every_walkthrough_in_an_empty_directory(tmp_path):
    wheel = build_wheel(tmp_path)
    bin_dir = fresh_venv(tmp_path / "venv", wheel)
    empty = tmp_path / "empty"
    empty.mkdir()
    where = run([bin_dir / "python", "-c", "import chainrule; print(chainrule.__file__)"],
                cwd=empty)
    assert where.stdout.startswith(str(tmp_path / "venv")), where.stdout + where.stderr
    demo = run([bin_dir / "chainrule", "demo", "--quick", "--out", "out"], cwd=empty,
               timeout=900)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    for i, name in enumerate(NAMES, 1):
        assert re.search(rf"^\[{i}/{len(NAMES)}\] {name} +ok \(", demo.stdout, re.M), name
    assert f"{len(NAMES)} of {len(NAMES)} walkthroughs ran to the end." in demo.stdout
    assert (empty / "out" / "report.html").is_file()
    assert sorted(p.name for p in empty.iterdir()) == ["out"]  # nothing else came along
