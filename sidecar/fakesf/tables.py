"""Plain-text tables for human output, in the CLI's column style."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def table(columns: Sequence[tuple[str, str]], rows: Sequence[dict[str, Any]]) -> str:
    """Render `rows` under `columns` ((key, header) pairs) as aligned text, one line per row."""
    cells = [[str(row.get(key, "") if row.get(key) is not None else "") for key, _ in columns] for row in rows]
    widths = [max([len(header)] + [len(r[i]) for r in cells]) for i, (_, header) in enumerate(columns)]
    lines = [" " + "  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True)).rstrip()]
    lines.append(" " + "  ".join("─" * w for w in widths))
    lines += [" " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def header(title: str) -> str:
    """A styled section header (`=== Title`)."""
    return f"=== {title}\n"
