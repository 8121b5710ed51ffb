"""The summary table printed at the end of ``chainrule demo``."""

from __future__ import annotations

import textwrap

from .runner import Outcome

COLUMNS = (("walkthrough", 20), ("what it shows", 30), ("key numbers", 44), ("result", 14))


def verdict(outcome: Outcome) -> str:
    """PASS, PASS* (a --quick bound was used), FAIL, ERROR or skipped."""
    if outcome.status == "pass":
        return "PASS*" if outcome.relaxed else "PASS"
    return {"fail": "FAIL", "error": "ERROR", "skipped": "skipped"}[outcome.status]


def _row(cells: list[str]) -> list[str]:
    wrapped = [textwrap.wrap(text, width) or [""] for text, (_, width) in zip(cells, COLUMNS)]
    height = max(len(lines) for lines in wrapped)
    return ["  ".join((lines[i] if i < len(lines) else "").ljust(width)
                      for lines, (_, width) in zip(wrapped, COLUMNS)).rstrip()
            for i in range(height)]


def summary_table(outcomes: list[Outcome]) -> str:
    """A fixed-width table; notes below it say why anything failed, erred or was skipped."""
    lines = _row([name for name, _ in COLUMNS])
    lines.append("  ".join("-" * width for _, width in COLUMNS))
    notes = []
    for o in outcomes:
        lines += _row([o.walkthrough.name, o.walkthrough.shows, o.key_numbers(), verdict(o)])
        if o.status == "skipped":
            notes.append(f"{o.walkthrough.name}: skipped, {o.message}.")
        elif o.status == "fail":
            notes.append(f"{o.walkthrough.name}: {o.message}")
        elif o.status == "error":
            last = o.message.strip().splitlines()[-1] if o.message.strip() else "error"
            notes.append(f"{o.walkthrough.name}: raised {last}")
        loosened = [c.label for c in o.checks if c.relaxed and "not judged" not in c.label]
        unjudged = [c.label.split(":")[0] for c in o.checks if c.relaxed
                    and "not judged" in c.label]
        if loosened:
            notes.append(f"{o.walkthrough.name}: * --quick bounds (the full run uses the "
                         f"tutorial's): " + "; ".join(loosened))
        if unjudged:
            notes.append(f"{o.walkthrough.name}: * judged only in the full run (--quick "
                         f"trains too briefly): " + "; ".join(unjudged))
    return "\n".join(lines + ([""] + notes if notes else []))
