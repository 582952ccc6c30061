"""Sections of figures, the bounds they are checked against, and how they are printed and saved."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

Cell = str | int | float | bool | None


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of the samples lie (nearest rank)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


@dataclass
class Check:
    """One bound: what was measured against it and whether it holds (None: could not be measured)."""

    figure: str
    measured: str
    bound: str
    met: bool | None


@dataclass
class Section:
    """One group of figures, printed as one table."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: list[dict[str, Cell]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def add(self, **cells: Cell) -> None:
        self.rows.append(cells)

    def check(self, figure: str, measured: str, bound: str, met: bool | None) -> None:
        self.checks.append(Check(figure, measured, bound, met))


def _cell(value: Cell) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(columns)]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) + " |" for r in rows]
    return lines


def verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not measured"}[met]


def render(sections: Sequence[Section]) -> str:
    parts: list[str] = []
    for section in sections:
        lines = [f"## {section.title}", ""]
        if section.error:
            lines.append(f"(not measured: {section.error})")
        if section.rows:
            lines += _table(section.columns, [[_cell(row.get(c)) for c in section.columns] for row in section.rows])
        for note in section.notes:
            lines.append(f"- {note}")
        parts.append("\n".join(lines))
    checks = [c for s in sections for c in s.checks]
    if checks:
        rows = [[c.figure, c.measured, c.bound, verdict(c.met)] for c in checks]
        parts.append("\n".join(["## Bounds", "", *_table(("figure", "measured", "bound", "verdict"), rows)]))
    return "\n\n".join(parts) + "\n"


def write_json(path: Path, meta: dict[str, Any], sections: Sequence[Section]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "sections": {s.key: asdict(s) for s in sections}}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
