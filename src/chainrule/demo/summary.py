"""The summary table printed at the end of ``chainrule demo``."""

from __future__ import annotations

import textwrap

from .runner import LABELS, Outcome

COLUMNS = (("walkthrough", 20), ("what it shows", 30), ("key numbers", 44), ("result", 10))


def verdict(outcome: Outcome) -> str:
    """"ok 1.2 s", "ERROR" or "not run: needs an extra"."""
    return f"ok {outcome.seconds:.1f} s" if outcome.ok else LABELS[outcome.status]


def _row(cells: list[str]) -> list[str]:
    wrapped = [textwrap.wrap(text, width) or [""] for text, (_, width) in zip(cells, COLUMNS)]
    height = max(len(lines) for lines in wrapped)
    return ["  ".join((lines[i] if i < len(lines) else "").ljust(width)
                      for lines, (_, width) in zip(wrapped, COLUMNS)).rstrip()
            for i in range(height)]


def summary_table(outcomes: list[Outcome]) -> str:
    """A fixed-width table of what each walkthrough computed; notes below it say why
    any did not run to the end."""
    lines = _row([name for name, _ in COLUMNS])
    lines.append("  ".join("-" * width for _, width in COLUMNS))
    notes = []
    for o in outcomes:
        lines += _row([o.walkthrough.name, o.walkthrough.shows, o.summary(), verdict(o)])
        if o.status == "needs extra":
            notes.append(f"{o.walkthrough.name}: {o.message}")
        elif o.status == "error":
            last = o.message.strip().splitlines()[-1] if o.message.strip() else "error"
            notes.append(f"{o.walkthrough.name}: raised {last}")
    ran = sum(o.ok for o in outcomes)
    lines += ["", f"{ran} of {len(outcomes)} walkthroughs ran to the end."]
    return "\n".join(lines + notes)
