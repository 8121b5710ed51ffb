"""The tutorial walkthroughs that ``chainrule demo`` runs, inside the package.

Each walkthrough (``chainrule.tutorials.<name>``, listed in :data:`WALKTHROUGHS`)
redoes a tutorial with chainrule and returns the numbers it computed from
``main(out_dir=None, quick=False, verbose=False, ...)``; its ``EXPECTED`` table holds
the numbers the tutorial gives, which the tests assert. ``examples/<name>.py`` are
thin scripts calling :func:`run_script`.
"""

from .registry import NAMES, WALKTHROUGHS, Walkthrough, get, load
from .script import run_script, script_parser

__all__ = ["NAMES", "WALKTHROUGHS", "Walkthrough", "get", "load", "run_script",
           "script_parser"]
