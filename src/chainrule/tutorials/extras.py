"""Optional packages a walkthrough needs (the ``examples`` extra): a clear message
naming the extra to install, never a bare ``ModuleNotFoundError``."""

from __future__ import annotations

import importlib
from types import ModuleType

INSTALL_EXAMPLES = 'pip install "chainrule[examples]"'
PLOTS_SKIPPED = f"plots skipped: matplotlib is not installed ({INSTALL_EXAMPLES})"
_DISTRIBUTIONS = {"sklearn": "scikit-learn"}


class MissingExtra(ImportError):
    """A walkthrough needs a package of the ``examples`` extra that is not installed."""


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` (e.g. "sklearn.datasets"), or raise :class:`MissingExtra`
    saying what it is for and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise MissingExtra(f"needs {_DISTRIBUTIONS.get(top, top)} ({purpose}), which is not "
                           f"installed: {INSTALL_EXAMPLES}") from None
