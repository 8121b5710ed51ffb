"""What each walkthrough must reproduce: one table per module, the numbers' one home.

A walkthrough module lists ``EXPECTED`` (for ``main()``) and, when ``--quick``
trains differently, ``EXPECTED_QUICK`` (for ``main(quick=True)``). The tests
assert them and check that the guides quote them; ``chainrule demo`` only reports
what was computed. An entry names a number by its dotted path in the result
(``"article.epoch_errors.19"``) and how it must compare::

    printed("final_loss", "0.00261")       # prints as 0.00261 (half a unit of the last digit)
    near("weight", 1.8, 0.01)              # |weight - 1.8| <= 0.01
    at_least("test_accuracy", 0.975, quote="97.5%")
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

_RELATIVE_SLACK = 1e-9  # float round-off when a bound is a printed decimal


def lookup(result: dict, key: str):
    """``result["a"]["b"][0]`` for ``key == "a.b.0"``."""
    value = result
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list | tuple) else value[part]
    return value


@dataclass(frozen=True)
class Expect:
    """``result[key] op value``: op is "≈" (within ``tol``, elementwise for lists),
    "=", "≥" or "≤". ``quote`` is how the walkthrough's guide prints the number."""

    key: str
    op: str
    value: float | bool | list
    tol: float = 0.0
    quote: str = ""

    def holds(self, result: dict) -> bool:
        actual = np.asarray(lookup(result, self.key), dtype=float)
        value = np.asarray(self.value, dtype=float)
        if self.op == "=":
            return actual.shape == value.shape and bool(np.all(actual == value))
        if self.op == "≈":
            bound = self.tol + _RELATIVE_SLACK * np.abs(value)
            return actual.shape == value.shape and bool(np.all(np.abs(actual - value) <= bound))
        return bool(np.all(actual >= value if self.op == "≥" else actual <= value))

    def __str__(self) -> str:
        tol = f" ± {self.tol:g}" if self.op == "≈" else ""
        return f"{self.key} {self.op} {self.value}{tol}"


def printed(key: str, text: str, decimals: int | None = None) -> Expect:
    """The number(s) print as ``text``: within half a unit of the last printed digit
    (``decimals`` fixes that place for a list such as "[0.01, 0.971]")."""
    numbers = [Decimal(t) for t in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]
    places = [decimals if decimals is not None else -n.as_tuple().exponent for n in numbers]
    tol = max(0.5 * 10.0 ** -p for p in places)
    value = [float(n) for n in numbers] if text.lstrip().startswith("[") else float(numbers[0])
    return Expect(key, "≈", value, tol, quote=text)


def near(key: str, value, tol: float, quote: str = "") -> Expect:
    return Expect(key, "≈", value, tol, quote)


def equal(key: str, value, quote: str = "") -> Expect:
    return Expect(key, "=", value, quote=quote)


def at_least(key: str, bound: float, quote: str = "") -> Expect:
    return Expect(key, "≥", bound, quote=quote)


def at_most(key: str, bound: float, quote: str = "") -> Expect:
    return Expect(key, "≤", bound, quote=quote)


def mismatches(expected: tuple[Expect, ...], result: dict) -> list[str]:
    """A line per entry that ``result`` does not meet (with the value it had)."""
    return [f"{e}: got {lookup(result, e.key)!r}" for e in expected if not e.holds(result)]


def expected_for(module, quick: bool) -> tuple[Expect, ...]:
    """A walkthrough module's table for a full or a ``--quick`` run."""
    return getattr(module, "EXPECTED_QUICK", module.EXPECTED) if quick else module.EXPECTED
