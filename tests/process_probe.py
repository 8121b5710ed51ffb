"""Run Python code in a fresh process that records process-wide changes.

``run_probe(code)`` runs ``code`` in a new interpreter in which ``os.umask`` and
every ctypes library load and function look-up (``mallopt`` ...) are recorded, and
returns ``{"calls": [...], "before": state, "after": state, "result": ...}``: the
process's global state (umask read from /proc, NumPy's error handling and legacy
random state, environment, warning filters, recursion limit) just before and after
``code`` runs; ``code`` may set ``result`` to anything JSON-able.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"

_PRELUDE = r"""
import ctypes, json, os, sys, warnings
import numpy as np
import safetensors.numpy, threadpoolctl, tqdm  # chainrule's dependencies, loaded first
for _extra in ("sklearn.base", "pandas"):  # extras' packages (chainrule.sklearn, the CLI):
    try:  # importing them sets environment variables and warning filters of their own
        __import__(_extra)
    except ImportError:
        pass

calls = []
_umask = os.umask


def _recording_umask(mask):
    calls.append(["os.umask", mask])
    return _umask(mask)


class _RecordingCDLL(ctypes.CDLL):
    def __init__(self, name, *args, **kwargs):
        calls.append(["ctypes.CDLL", str(name)])
        super().__init__(name, *args, **kwargs)

    def __getattr__(self, name):
        calls.append(["ctypes function", name])
        return super().__getattr__(name)


os.umask = _recording_umask
ctypes.CDLL = _RecordingCDLL
ctypes.cdll = ctypes.LibraryLoader(_RecordingCDLL)


def _umask_from_proc():
    try:
        with open("/proc/self/status") as f:
            return next(line.split()[1] for line in f if line.startswith("Umask:"))
    except (OSError, StopIteration):
        return None


def _state():
    keys, pos = np.random.get_state()[1:3]
    return {"umask": _umask_from_proc(), "np.geterr": np.geterr(),
            "np.random": [int(keys.sum()), int(pos)], "environ": dict(os.environ),
            "warning filters": len(warnings.filters), "recursion limit": sys.getrecursionlimit()}


result = None
before = _state()
"""

_EPILOGUE = r"""
after = _state()
print(json.dumps({"calls": calls, "before": before, "after": after, "result": result}))
"""


def run_probe(code: str) -> dict:
    """Run ``code`` (with ``src/`` first on the path) in a fresh, recording process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(SRC), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", _PRELUDE + code + _EPILOGUE], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
