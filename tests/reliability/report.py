"""Collects the reliability suite's figures and renders them as one table per section."""

from __future__ import annotations

from pathlib import Path

SECTIONS = {
    "faults": ("fault", "client-visible outcome", "upstream attempts", "latency", "data"),
    "load": ("figure", "value"),
    "fuzzing": ("run", "result"),
    "limits": ("limit", "setting", "enforced as"),
}
rows: dict[str, list[tuple[str, ...]]] = {name: [] for name in SECTIONS}


def add(section: str, *cells: object) -> None:
    rows[section].append(tuple(str(c) for c in cells))


def render() -> str:
    parts = []
    for name, header in SECTIONS.items():
        if not rows[name]:
            continue
        lines = [f"### {name.capitalize()}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows[name]]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render() + "\n")
