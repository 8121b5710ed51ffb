"""Helpers for the walkthrough tests: their expectation tables, their plots, and a
package made to look uninstalled."""

from __future__ import annotations

import sys

from chainrule.tutorials.expected import expected_for, mismatches

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_expected(module, result: dict, quick: bool = False) -> None:
    """Every entry of the walkthrough's EXPECTED (or EXPECTED_QUICK) table holds."""
    table = expected_for(module, quick)
    assert table, f"{module.__name__} has no expectations for quick={quick}"
    failed = mismatches(table, result)
    assert not failed, f"{module.__name__} (quick={quick}):\n" + "\n".join(failed)


def has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def assert_plots(result: dict, count: int) -> None:
    """``count`` PNG plots when matplotlib is installed, none (cleanly) otherwise."""
    if not has_matplotlib():
        assert result["plots"] == {}
        return
    assert len(result["plots"]) == count, result["plots"]
    for path in result["plots"].values():
        with open(path, "rb") as f:
            assert f.read(8) == PNG_SIGNATURE, f"{path} is not a PNG file"


def pretend_missing(monkeypatch, *packages: str) -> None:
    """Make importing ``packages`` (and their submodules) fail, as if not installed:
    a None in ``sys.modules`` stops both ``import`` and ``importlib.import_module``."""
    loaded = [name for name in sys.modules if name.split(".")[0] in packages]
    for name in set(loaded) | set(packages):
        monkeypatch.setitem(sys.modules, name, None)
